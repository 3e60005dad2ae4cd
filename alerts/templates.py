"""Alertmanager notification templates: what a person reads first is what to do about it.

Every notification leads with the alert's summary, its description (which carries the live
value), the runbook and the dashboard panel; labels come last. One group may hold several
alerts (a provider outage groups by provider), so each alert is written out in turn.

The receivers in ``alerts.routing`` call these by name; ``reference`` builds that call, and the
test suite checks every name a receiver uses is defined here.
"""

from __future__ import annotations

TEMPLATE_FILE = "templates/gatewatch.tmpl"

EMAIL_SUBJECT = "gatewatch.email.subject"
EMAIL_HTML = "gatewatch.email.html"
EMAIL_TEXT = "gatewatch.email.text"
SLACK_TITLE = "gatewatch.slack.title"
SLACK_TITLE_LINK = "gatewatch.slack.title_link"
SLACK_TEXT = "gatewatch.slack.text"
SLACK_COLOR = "gatewatch.slack.color"
PAGERDUTY_DESCRIPTION = "gatewatch.pagerduty.description"
PAGERDUTY_DETAILS = "gatewatch.pagerduty.details"
FIRST_RUNBOOK = "gatewatch.first.runbook_url"
FIRST_DASHBOARD = "gatewatch.first.dashboard_url"


def reference(name: str) -> str:
    """The config-side call of one template, executed with the notification's data."""
    return f'{{{{ template "{name}" . }}}}'


# Go templates (Alertmanager 0.25 function set: no arithmetic, no `default`). `{{-` trims the
# newline before it, so the defines stay readable without leaking blank lines into messages.
GATEWATCH_TMPL = """\
{{/* gatewatch notification templates (generated; edit alerts/templates.py). */}}

{{/* "[FIRING:2] Provider openai is failing · provider openai" */}}
{{ define "gatewatch.title" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] \
{{ template "gatewatch.headline" . }}\
{{ with .CommonLabels.team }} · team {{ . }}{{ end }}\
{{ with .CommonLabels.provider }} · provider {{ . }}{{ end }}
{{- end }}

{{ define "gatewatch.headline" -}}
{{ with .CommonAnnotations.summary }}{{ . }}{{ else }}{{ (index .Alerts 0).Annotations.summary }}\
{{ if gt (len .Alerts) 1 }} (and related alerts, {{ len .Alerts }} in all){{ end }}{{ end }}
{{- end }}

{{ define "gatewatch.first.runbook_url" }}{{ (index .Alerts 0).Annotations.runbook_url }}{{ end }}
{{ define "gatewatch.first.dashboard_url" }}{{ (index .Alerts 0).Annotations.dashboard_url }}{{ end }}

{{ define "gatewatch.labels" -}}
{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
{{- end }}

{{/* One alert as plain text: summary, value, links, then the labels. */}}
{{ define "gatewatch.alert.text" -}}
{{ .Annotations.summary }}
{{ .Annotations.description }}
Runbook: {{ .Annotations.runbook_url }}
Dashboard: {{ .Annotations.dashboard_url }}
Labels: {{ template "gatewatch.labels" . }}
Since: {{ .StartsAt.UTC.Format "2006-01-02 15:04 UTC" }}{{ if eq .Status "resolved" }} · resolved \
{{ .EndsAt.UTC.Format "2006-01-02 15:04 UTC" }}{{ end }}
{{- end }}

{{ define "gatewatch.text" -}}
{{ if gt (len .Alerts.Firing) 0 }}Firing:
{{ range .Alerts.Firing }}
{{ template "gatewatch.alert.text" . }}
{{ end }}{{ end }}\
{{ if gt (len .Alerts.Resolved) 0 }}Resolved:
{{ range .Alerts.Resolved }}
{{ template "gatewatch.alert.text" . }}
{{ end }}{{ end }}
{{- end }}

{{ define "gatewatch.email.subject" }}{{ template "gatewatch.title" . }}{{ end }}
{{ define "gatewatch.email.text" }}{{ template "gatewatch.text" . }}{{ end }}

{{ define "gatewatch.email.alert.html" -}}
<h3 style="margin:16px 0 4px">{{ .Annotations.summary }}</h3>
<p style="margin:0 0 8px">{{ .Annotations.description }}</p>
<p style="margin:0 0 8px"><a href="{{ .Annotations.runbook_url }}">Runbook</a> ·
<a href="{{ .Annotations.dashboard_url }}">Dashboard</a></p>
<p style="margin:0 0 8px;color:#666;font-size:12px">{{ template "gatewatch.labels" . }}</p>
{{- end }}

{{ define "gatewatch.email.html" -}}
<!DOCTYPE html>
<html><body style="font-family:sans-serif">
<h2>{{ template "gatewatch.title" . }}</h2>
{{ if gt (len .Alerts.Firing) 0 }}<h3>Firing</h3>
{{ range .Alerts.Firing }}{{ template "gatewatch.email.alert.html" . }}
{{ end }}{{ end }}\
{{ if gt (len .Alerts.Resolved) 0 }}<h3>Resolved</h3>
{{ range .Alerts.Resolved }}{{ template "gatewatch.email.alert.html" . }}
{{ end }}{{ end }}\
</body></html>
{{- end }}

{{ define "gatewatch.slack.title" }}{{ template "gatewatch.title" . }}{{ end }}
{{ define "gatewatch.slack.title_link" }}{{ template "gatewatch.first.dashboard_url" . }}{{ end }}
{{ define "gatewatch.slack.color" }}{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}{{ end }}

{{ define "gatewatch.slack.alert" -}}
*{{ .Annotations.summary }}*
{{ .Annotations.description }}
<{{ .Annotations.runbook_url }}|Runbook> · <{{ .Annotations.dashboard_url }}|Dashboard>
`{{ template "gatewatch.labels" . }}`
{{- end }}

{{ define "gatewatch.slack.text" -}}
{{ range .Alerts.Firing }}{{ template "gatewatch.slack.alert" . }}
{{ end }}\
{{ if gt (len .Alerts.Resolved) 0 }}Resolved:
{{ range .Alerts.Resolved }}{{ template "gatewatch.slack.alert" . }}
{{ end }}{{ end }}
{{- end }}

{{ define "gatewatch.pagerduty.description" }}{{ template "gatewatch.title" . }}{{ end }}
{{ define "gatewatch.pagerduty.details" }}{{ template "gatewatch.text" . }}{{ end }}
"""


def render() -> dict[str, str]:
    """The template file, at the path the generated config lists under ``templates:``."""
    return {f"alertmanager/{TEMPLATE_FILE}": GATEWATCH_TMPL}
