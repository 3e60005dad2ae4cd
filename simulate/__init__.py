"""The traffic simulator: realistic LiteLLM and Kong records for a spec, posted live to a
running exporter or written as OpenMetrics history for ``promtool tsdb create-blocks-from``.

Scenarios and who they hit are described in ``simulate.scenarios``.
"""

from simulate.scenarios import SCENARIOS
from simulate.traffic import SimRecord, generate

__all__ = ["SCENARIOS", "SimRecord", "generate"]
