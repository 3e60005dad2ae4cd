"""Incident playbooks: what to do, in order, when an alert turns out to be an incident.

Every playbook keeps one rule for evidence: tickets, chat and reports carry counts, label
values, times and links to dashboards — never prompt or response text, raw keys or end-user
identifiers. Those stay in the systems that already hold them, under their access controls.
"""

from __future__ import annotations

from runbooks.model import Playbook

# Appended to every playbook's Evidence section.
EVIDENCE_RULE = (
    "Never paste prompt or response text, raw API keys, end-user identifiers or IP addresses into the "
    "ticket, the chat channel or the report. Refer to them by where they are kept (the gateway's request "
    "log, the guardrail console) and by time range; whoever needs them reads them there, under its access "
    "controls."
)

PLAYBOOKS: dict[str, Playbook] = {
    p.name: p
    for p in (
        Playbook(
            name="provider-outage",
            title="Provider outage",
            summary="A model provider (or one of its models or regions) fails or slows down for every team.",
            detection=(
                "GenAIProviderErrorsHigh", "GenAIAvailabilitySLOPage", "GenAIAvailabilitySLOTicket",
                "GenAIProviderLatencyHigh", "GenAIModelErrorsHigh", "GenAITTFTSLOPage",
            ),
            triage="""
                1. Confirm it is the provider: the bad outcomes (${bad_list}) are spread over all teams and
                   apps using the provider, not one team's key (that is `GenAITeamErrorsHigh`).
                2. Classify: `provider_error` / `timeout` = the provider is failing; `rate_limited` = our quota
                   is exhausted (possibly by one runaway app — check `GenAIRunawayLoop`); `gateway_error` =
                   the gateway, not the provider.
                3. Check the provider's status page and note the incident id if it has one.
                4. Severity: a provider carrying a critical-tier team's interactive traffic is a major incident.
                """,
            containment="""
                1. Fail over the affected model groups: LiteLLM router `fallbacks` to another deployment or an
                   equivalent model; Kong `ai-proxy-advanced` balancer targets. Check the fallback model is
                   approved for the teams that will use it (`approved_models`) — otherwise the failover raises
                   `GenAIUnapprovedModelUse` alerts and breaks policy.
                2. Pause batch apps (${batch_apps}) to save quota for interactive traffic.
                3. Per-team and per-model alerts for the provider are silenced while `GenAIProviderErrorsHigh`
                   fires: do not chase them separately.
                """,
            eradication="""
                The provider fixes its side. On ours: if `rate_limited` caused it, raise the quota or spread the
                load over more deployments so one team's burst cannot starve the rest.
                """,
            recovery="""
                1. When the provider's error ratio is back under ${provider_error_ratio_percent} % for 30
                   minutes, move traffic back from the fallbacks one model group at a time.
                2. Resume batch apps and watch the 5m SLO window stay healthy.
                3. Check the month's error budget left on the SLO dashboard: if most of it is gone, freeze risky
                   gateway changes until it recovers.
                """,
            communication="""
                1. One status message for all teams, in one place, when failover starts and when it ends: which
                   provider, which models, what users see, what to do (usually: nothing, retries are handled).
                2. Tell the budget owners of the heavy teams if the fallback model costs more per token.
                """,
            evidence="""
                Keep: the alert timeline (Alertmanager), screenshots or links of the overview dashboard's
                provider-errors and SLO panels for the incident window, the provider's status page incident id,
                the failover change (gateway config commit) and the SLO budget consumed.
                """,
        ),
        Playbook(
            name="guardrail-bypass",
            title="Guardrail bypass",
            summary="Requests reached a provider without a guardrail their team is required to run.",
            detection=("GenAIGuardrailBypass", "GenAIGuardrailFailOpen"),
            triage="""
                1. Scope: which teams and apps, how many requests, since when
                   (`genai_policy_violations_total{policy="guardrail_bypass"}` over the window).
                2. Cause: `not_run` from one app = that key or route lacks the guardrail; `failed_open` across
                   apps = the guardrail service is down and the gateway lets requests through.
                3. Which guardrail: a PII guardrail bypassed means personal data may have reached the provider
                   unmasked; a prompt-injection guardrail bypassed means unscreened input reached the model.
                """,
            containment="""
                1. `not_run`: attach the guardrail to the key or route, or block the key until it is attached.
                2. `failed_open`: switch the guardrail to fail closed for the teams that require it, accepting
                   refused requests until the service is back.
                """,
            eradication="""
                Fix how the key or route was created without the guardrail (a manual key, a new Kong route
                without the plugin); make the team's guardrails a default of how keys are issued for that team.
                """,
            recovery="""
                1. Watch `genai_policy_violations_total{policy="guardrail_bypass"}` stay flat for the team.
                2. If the guardrail failed open, confirm its evaluations are back to `passed` / `masked` /
                   `blocked` and switch back to the configured failure mode.
                """,
            communication="""
                1. Security operations own the incident; the team's owner is told which app and what to fix.
                2. If a PII guardrail was bypassed, security decides with the data-protection officer whether
                   it is a reportable event — follow the sensitive-data-in-output playbook for that part.
                """,
            evidence="""
                Keep: the count of bypassing requests per app and guardrail over the incident window (a
                screenshot of the security dashboard's guardrail-bypass panel, or the query output), the times
                the bypass started and ended, and the configuration change that fixed it.
                """,
        ),
        Playbook(
            name="sensitive-data-in-output",
            title="Sensitive data in model output",
            summary="Personal or confidential data appears in prompts or model output where it should not.",
            detection=("GenAISensitiveDataRepeated", "GenAIClassificationBreach", "GenAIGuardrailFailOpen"),
            triage="""
                1. Scope from metrics only: which app, which entity types
                   (`genai_sensitive_entities_total` by `entity`), how many detections, since when.
                2. Direction: input (users or the app send the data to the provider) or output (the model
                   returns it — from its context, a retrieval index, or memorised training data)?
                3. Masked or not: if the PII guardrail masked the entities, the provider never saw them; if it
                   only flagged them, it did.
                4. Classification breaches: data above the team's approved level went to a provider.
                """,
            containment="""
                1. Turn on masking (or blocking) for the app's PII guardrail at the gateway.
                2. If a retrieval source leaks the data into output, take that source out of the app's
                   context until it is cleaned.
                3. Block the app's key if the exposure continues and the owner cannot stop it quickly.
                """,
            eradication="""
                Remove the sensitive data from its source (index, template, fixture), require the PII guardrail
                for the team in the spec (`required_guardrails`), and correct the data classification labels
                if they were wrong.
                """,
            recovery="""
                Re-enable the app with masking on; watch `genai_sensitive_entities_total` for the app fall to
                its normal rate and `GenAIGuardrailBypass` stay quiet.
                """,
            communication="""
                1. Security operations lead; the data-protection officer decides about notification duties
                   (timelines start when the data exposure is known, so record that time).
                2. The team's owner and the provider relationship owner are informed; the provider's data
                   retention terms for the affected model are checked.
                """,
            evidence="""
                Keep: detection counts by entity type and app over the window, the guardrail verdict counts
                (masked / flagged / passed), the model and provider the data went to, and the times exposure
                started, was contained and ended. The affected records themselves stay in the gateway's log
                under its access controls, referenced by time range and app.
                """,
        ),
        Playbook(
            name="prompt-injection",
            title="Prompt injection",
            summary="Someone tries to subvert a model through the prompts an app passes on.",
            detection=("GenAIGuardrailBlockSurge", "GenAIAppVolumeAnomaly"),
            triage="""
                1. Scope: which app and guardrail, block rate against its baseline, request volume.
                2. Blocked = stopped. The question is what was *not* blocked: check whether the app's team
                   requires an injection guardrail and whether it ran for every request (`GenAIGuardrailBypass`).
                3. Look at a sample of blocked requests in the guardrail's console to tell an attack from
                   false positives (then use the false-positive task runbook instead).
                4. Does the app give the model tools (actions, retrieval, code)? An injection that got through
                   to a model with tools is a security incident even if nothing looks wrong yet.
                """,
            containment="""
                1. Rate-limit the app's key or the abusive end users at the gateway.
                2. For apps with tools, disable the riskiest tools until the wave is over.
                3. Guardrail blocks do not count against availability SLOs, so on-call is not paged by the wave;
                   security owns it.
                """,
            eradication="""
                Harden the app: keep untrusted text out of system prompts, require the injection guardrail for
                the team in the spec, and constrain tool permissions.
                """,
            recovery="""
                Lift rate limits when the block rate is back at its baseline for a day; re-enable tools one at a
                time.
                """,
            communication="""
                Security operations and the app's team; if the app is customer-facing and an injection got
                through with effect, the product owner decides on customer communication.
                """,
            evidence="""
                Keep: block counts by guardrail, stage and app over the window, request volume, the gateway's
                rate-limit changes, and any tool actions taken by the model during the window (from the app's
                own audit log).
                """,
        ),
        Playbook(
            name="cost-runaway",
            title="Cost runaway",
            summary="An app spends at many times its normal rate: a loop, a retry storm or a runaway agent.",
            detection=("GenAIRunawayLoop", "GenAICostAnomaly", "GenAIBudgetOverrunProjected", "GenAIBudgetExhausted"),
            triage="""
                1. Which app, its spend per hour now (`team_app:genai_cost_usd:rate1h * 3600`) and since when.
                2. Loop or retry storm: near-constant tokens per request with success outcomes is a loop; many
                   `rate_limited` / `timeout` outcomes is a retry storm.
                3. Is the key being used by someone else? A volume spike with new models is the
                   api-key-compromise playbook instead.
                """,
            containment="""
                1. Block the app's key or cap its requests per minute at the gateway (LiteLLM key `rpm_limit` or
                   block; Kong rate limiting on the consumer). Do it before finding the bug: each hour costs.
                2. If the loop exhausts a shared provider quota, other teams see `rate_limited`: containment
                   fixes that too.
                """,
            eradication="""
                The team fixes the loop (a missing stop condition, retries without backoff, an agent without a
                step limit) and adds a per-key rate limit sized to the app's real need.
                """,
            recovery="""
                Unblock the key with the rate limit in place; watch the app's rate against its baseline for a
                day. Check the team's month-to-date spend: `GenAIBudgetExhausted` may need a decision.
                """,
            communication="""
                The team's owner and budget owner (the alert notifies the budget owner too), with the estimated
                cost of the runaway: `sum(increase(genai_cost_usd_total{app="…"}[window]))`. Finance is told if
                the cost changes the month's forecast.
                """,
            evidence="""
                Keep: the app's request rate and spend per hour over the window, the total cost of the runaway,
                the block and unblock times, and the fix.
                """,
        ),
        Playbook(
            name="api-key-compromise",
            title="API-key compromise",
            summary="A gateway key (an app) is used by someone who should not have it.",
            detection=(
                "GenAIAppVolumeAnomaly", "GenAIUnattributedSpend", "GenAIUnapprovedModelUse", "GenAICostAnomaly",
            ),
            triage="""
                1. Ask the app's owner whether the traffic is theirs (a launch, a backfill). No answer within
                   minutes at 3 a.m. counts as "no".
                2. Signals of compromise: volume far above baseline at odd hours, models the app never used,
                   requests from unusual networks in the gateway's access log, unknown key aliases under
                   `${unassigned}`.
                """,
            containment="""
                1. Block the key at the gateway now (LiteLLM: block the virtual key; Kong: remove the consumer's
                   credential). The app goes down; that is the price.
                2. Issue a new key with the same alias (task runbook: rotating a key) so attribution to the app
                   and team continues, and give it to the owner through the secret store, never by chat.
                """,
            eradication="""
                Find where the key leaked (a repository, a client-side bundle, a log, a shared notebook), remove
                it there, and check for other keys in the same place.
                """,
            recovery="""
                Watch the new key's volume return to the app's baseline and the old key's traffic stay at zero
                (blocked requests show in the gateway, not as spend).
                """,
            communication="""
                Security operations lead; the team's owner and budget owner are told; finance gets the cost of
                the abuse for chargeback: spend on the app between first abuse and the block.
                """,
            evidence="""
                Keep: the app's request volume and spend over the window, the models used, the time of the
                block and of the new key, where the key leaked and when it was removed. The gateway's access
                logs (addresses, user agents) stay in the gateway's log store; refer to them by time range.
                """,
        ),
    )
}
