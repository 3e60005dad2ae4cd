"""What every runbook page looks like, as the design fixes it: the headings of each kind of page,
and a reader of ``## `` sections that ignores code fences."""

from __future__ import annotations

ALERT_SECTIONS = ["Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation"]
PLAYBOOK_SECTIONS = ["Detection", "Triage", "Containment", "Eradication", "Recovery", "Communication",
                     "Evidence to keep"]
TASK_SECTIONS = ["When", "Steps", "Verify", "Undo"]


def sections(page: str) -> list[tuple[str, str]]:
    """(heading, body) for every ``## `` heading, ignoring headings inside code fences."""
    found: list[tuple[str, list[str]]] = []
    fenced = False
    for line in page.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            found.append((line[3:], []))
        elif found:
            found[-1][1].append(line)
    return [(heading, "\n".join(body).strip()) for heading, body in found]
