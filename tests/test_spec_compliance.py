"""The spec's compliance section: the example's controls load, and broken ones name file, line,
path and expectation like every other spec error."""

from __future__ import annotations

import pytest

from contract import spec as spec_model
from contract.spec import EVIDENCE_THRESHOLDS
from reports.evidence import EVALUATORS
from tests.paths import EXAMPLE_SPEC

EXAMPLE = EXAMPLE_SPEC.read_text()
COVERAGE = ("evidence: guardrail_coverage,\n"
            "       title: Required guardrails run on the traffic they cover, threshold: 0.99}")


def test_example_maps_every_framework_it_promises() -> None:
    controls = spec_model.load(EXAMPLE_SPEC).compliance.controls
    assert {c.framework for c in controls} == {"eu-ai-act", "iso-iec-42001", "nist-ai-rmf", "soc2"}
    eu = {c.reference for c in controls if c.framework == "eu-ai-act"}
    assert {"Art. 12", "Art. 13", "Art. 50"} <= eu
    # several controls share an evidence kind
    kinds = [c.evidence for c in controls]
    assert kinds.count("record_keeping") >= 2


def test_every_evidence_kind_has_an_evaluator_and_a_threshold_unit() -> None:
    assert set(EVALUATORS) == set(EVIDENCE_THRESHOLDS)


BROKEN = [
    (COVERAGE, COVERAGE.replace("guardrail_coverage", "guardrail_coverag"), "compliance.controls[5].evidence",
     "or 'guardrail_coverage' or 'model_inventory' or"),
    (COVERAGE, COVERAGE.replace("0.99", "1.5"), "compliance.controls[5].threshold",
     "expected a share between 0 and 1 for evidence guardrail_coverage, got 1.5"),
    (COVERAGE, COVERAGE.replace("0.99", "-0.1"), "compliance.controls[5].threshold",
     "expected a share between 0 and 1"),
    ("evidence: unapproved_models,\n       title: AI systems are used only as approved, threshold: 0}",
     "evidence: unapproved_models,\n       title: AI systems are used only as approved, threshold: 2.5}",
     "compliance.controls[6].threshold", "expected a whole number >= 0 for evidence unapproved_models, got 2.5"),
    ("title: Automatic recording of events over the system's lifetime, threshold: 180}",
     "title: Automatic recording of events over the system's lifetime, threshold: 0}",
     "compliance.controls[0].threshold", "expected a number of days >= 1"),
    ("- {id: iso42001-a6-2-8,", "- {id: eu-ai-act-art12,", "compliance.controls[4].id",
     "expected a unique id, 'eu-ai-act-art12' appears twice"),
    ("- {id: soc2-cc2-1, framework: soc2,", "- {id: SOC2 CC2.1, framework: soc2,", "compliance.controls[13].id",
     "expected str matching"),
    ("- {id: soc2-cc2-1, framework: soc2,", "- {id: soc2-cc2-1, framework: soc2, owner: me,",
     "compliance.controls[13]", "unknown key owner"),
]


@pytest.mark.parametrize(("old", "new", "path", "expectation"), BROKEN,
                         ids=[f"{b[2]}-{i}" for i, b in enumerate(BROKEN)])
def test_broken_compliance_section_names_file_path_and_expectation(old: str, new: str, path: str,
                                                                   expectation: str) -> None:
    assert old in EXAMPLE, "the table must change something that exists"
    with pytest.raises(spec_model.SpecError) as caught:
        spec_model.parse(EXAMPLE.replace(old, new, 1), "ops.yaml")
    error = caught.value
    assert (error.file, error.path) == ("ops.yaml", path)
    assert expectation in error.message
    assert error.line is not None and EXAMPLE.splitlines()[error.line - 1].lstrip().startswith(("- {id:", "title:",
                                                                                                  "evidence:"))
