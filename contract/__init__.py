"""The contract every generator, report and the exporter share: SLO burn-rate maths, recording-rule
("signal") names, dashboard UIDs and panel ids, and the PromQL spelling of label values that mean
something (outcomes, sentinel teams). It imports nothing else of gatewatch, so any part may use it.
"""
