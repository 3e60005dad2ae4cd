"""What every alert page says: the alert catalogue, keyed by alert name.

This is the one list of alert names the runbooks know. ``tests/test_runbooks.py`` checks it
against the alerts the rule modules generate, so an alert without a page fails the build.
``${name}`` placeholders are filled from the spec by ``runbooks.facts.context``.
"""

from __future__ import annotations

from runbooks.model import AlertDoc, Query


def _tagged(label: str, variants: tuple[tuple[str, str], ...]) -> str:
    """Several expressions in one result table, each row tagged with ``label`` (one paste, one view)."""
    return "\n  or ".join(f'label_replace({expr}, "{label}", "{value}", "", "")' for value, expr in variants)


def _now_and_then(template: str, offset: str) -> str:
    """``template`` (with an ``{offset}`` slot) now and ``offset`` ago, side by side."""
    now, then = template.format(offset=""), template.format(offset=f" offset {offset}")
    return _tagged("when", (("now", now), (f"{offset} ago", then)))


def _windows(*windows: str) -> str:
    return _tagged("window", tuple((w, f"slo:sli_error:ratio_rate{w}") for w in windows))


def _quantiles(prefix: str) -> str:
    levels = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))
    return _tagged("quantile", tuple((q, f"{prefix}:{p}_5m") for q, p in levels))

_SLO_BY_OBJECTIVE = Query(
    "Error ratio of every objective over the page windows (compare with the table below)",
    _windows("5m", "1h", "30m", "6h"),
)
_SLO_TRAFFIC = Query(
    "Requests per hour each objective sees (below ${min_requests_per_hour}/h its alerts stay silent)",
    "slo:sli_requests:rate5m * 3600",
)
_BAD_BY_PROVIDER_OUTCOME = Query(
    "Which bad outcome, at which provider (requests per second)",
    'sort_desc(sum by (provider, outcome) (rate(genai_requests_total{outcome=~"${bad}"}[5m])))',
)
_PROVIDER_ERROR_RATIO = Query(
    "Each provider's share of bad outcomes across all teams (neutral outcomes left out, as the alerts do)",
    "sort_desc(\n"
    '  sum by (provider) (team_model_provider_outcome:genai_requests:rate5m{outcome=~"${bad}"})\n'
    '  / sum by (provider) (team_model_provider_outcome:genai_requests:rate5m{outcome!~"${neutral}"})\n'
    ")",
)
_BAD_BY_TEAM_MODEL = Query(
    "Which teams and models the bad outcomes come from",
    'topk(15, sum by (team, model, provider) (team_model_provider_outcome:genai_requests:rate5m{outcome=~"${bad}"}))',
)
_MONTH_TO_DATE_SHARE = Query(
    "Month-to-date spend as a share of each team's monthly budget (1 = 100 %)",
    "sort_desc(\n"
    "  team:genai_cost_usd:month_to_date\n"
    '  / on (team) max by (team) (genai_team_budget_usd{period="month"})\n'
    ")",
)
_PROJECTED_SHARE = Query(
    "Projected spend at the end of the month at the last hour's rate, as a share of the budget",
    "sort_desc(\n"
    "  (\n"
    "    team:genai_cost_usd:month_to_date\n"
    "    + on (team) team:genai_cost_usd:rate1h\n"
    '      * on (team) (max by (team) (genai_team_budget_period_end_timestamp_seconds{period="month"}) - time())\n'
    "  )\n"
    '  / on (team) max by (team) (genai_team_budget_usd{period="month"})\n'
    ")",
)
_TOP_APPS_COST = Query(
    "Where each team's money goes now: spend per app, USD per hour",
    "sort_desc(team_app:genai_cost_usd:rate1h * 3600)",
)
_TOP_MODELS_COST_DAY = Query(
    "Spend per team and model over the last day, USD",
    "sort_desc(sum by (team, model) (increase(genai_cost_usd_total[1d])))",
)
_TEAM_SPEND_RATE = Query(
    "Each team's spend rate now, USD per hour",
    "sort_desc(team:genai_cost_usd:rate1h * 3600)",
)
_EXPORTER_TARGETS = Query(
    "Exporter targets Prometheus cannot scrape (0 = down)",
    'up{job="${job}"} == 0',
)
_SPEC_HASHES = Query(
    "Which spec each exporter replica runs (the rules were generated from hash ${spec_hash})",
    "count by (hash) (genai_spec_info)",
)
_ALERTS_FIRING = Query(
    "Every alert firing now, by name and team",
    'sort_desc(count by (alertname, team, severity) (ALERTS{alertstate="firing"}))',
)

ALERTS: dict[str, AlertDoc] = {
    doc.name: doc
    for doc in (
        # --- SLOs (alerts/slo.py) -------------------------------------------------------------
        AlertDoc(
            name="GenAIAvailabilitySLOPage",
            module="alerts/slo.py",
            severity="critical",
            audience="oncall",
            team="platform",
            labels=("slo", "provider", "model"),
            dashboard="overview",
            panel="slo-status",
            escalation="oncall",
            meaning="""
                An availability objective from the spec is burning its ${slo_period_days}-day error budget fast:
                the share of bad outcomes (${bad_list}) is above 14.4x the budget over both the last
                1h and the last 5m, or above 6x over both 6h and 30m. At 14.4x, 2 % of the month's budget
                went in one hour. The `slo` label names the objective; `provider` (and `model`) say what it
                covers. ${neutral_list} count neither as good nor as bad, so a wave of blocked prompts or a
                team hitting its own quota cannot fire this alert. Below ${min_requests_per_hour} requests an
                hour the alert stays silent.
                """,
            impact="""
                Users of every team routed to this provider (or model) are getting failed or timed-out
                completions right now. Interactive apps show errors; batch jobs retry and cost more.
                If it continues for a few hours the month's error budget is gone.
                """,
            diagnosis="""
                1. Look at the objective's error ratio against the thresholds in the table at the end of
                   this section: is it still rising, or already falling (the 5m window recovers first)?
                2. Find which bad outcome dominates. `rate_limited` is the provider refusing our volume
                   (a quota problem); `provider_error` and `timeout` are the provider failing;
                   `gateway_error` is LiteLLM or Kong itself.
                3. If `GenAIProviderErrorsHigh` fires for the same provider, this is a provider outage:
                   follow the provider-outage playbook.
                4. If one team or one model carries most of the errors, the fault is narrower than the
                   provider: a deployment, a region, or one team's key.
                """,
            queries=(
                _SLO_BY_OBJECTIVE,
                _BAD_BY_PROVIDER_OUTCOME,
                _PROVIDER_ERROR_RATIO,
                _BAD_BY_TEAM_MODEL,
                _SLO_TRAFFIC,
            ),
            mitigation="""
                1. Check the provider's status page and the gateway's own logs for the provider's error text.
                2. Fail over: point the affected model group at another deployment or provider (LiteLLM
                   router `fallbacks` for the model group; Kong `ai-proxy-advanced` balancer targets).
                   Prices differ between providers: tell the budget owners of the heavy teams if the
                   fallback costs more.
                3. If `rate_limited` dominates, shed load you control first: pause the batch apps
                   (${batch_apps}) and ask the provider for more quota.
                4. If `gateway_error` dominates, the gateway is the fault: check its pods and its database
                   before touching provider routing.
                5. The alert resolves on its own once the 5m (or 30m) window is healthy again.
                """,
            playbooks=("provider-outage",),
            facts=("availability_objectives",),
        ),
        AlertDoc(
            name="GenAIAvailabilitySLOTicket",
            module="alerts/slo.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("slo", "provider", "model"),
            dashboard="overview",
            panel="error-budget",
            escalation="oncall",
            meaning="""
                An availability objective is burning its ${slo_period_days}-day error budget slowly but
                steadily: above 3x the budget over both 1d and 2h, or above 1x over both 3d and 6h. At that
                pace the budget runs out before the period ends. It is a ticket, not a page: nothing needs
                fixing tonight, but something chronic is wrong.
                """,
            impact="""
                A steady trickle of failed requests (${bad_list}) for the provider or model named in the
                labels. Users notice occasional failures; retries inflate cost and latency.
                """,
            diagnosis="""
                1. Compare the 1d and 3d ratios with the thresholds in the table below to see how fast the
                   budget is going.
                2. Break the last day's bad outcomes down by outcome, team and model: a chronic fault is
                   usually one model, one team's rate limit or one timeout setting.
                """,
            queries=(
                Query(
                    "Error ratio of every objective over the ticket windows",
                    _windows("2h", "1d", "6h", "3d"),
                ),
                Query(
                    "Bad outcomes over the last day, by provider, model and outcome",
                    "sort_desc(\n"
                    '  sum by (provider, model, outcome) (increase(genai_requests_total{outcome=~"${bad}"}[1d]))\n'
                    ")",
                ),
                Query(
                    "Teams with the most bad outcomes over the last day",
                    'topk(10, sum by (team, provider) (increase(genai_requests_total{outcome=~"${bad}"}[1d])))',
                ),
            ),
            mitigation="""
                1. Open a ticket for the platform team with the objective, the dominant outcome and the
                   top model and team from the queries above.
                2. `timeout`: check the gateway's request timeout against the model's p99 latency
                   (long reasoning calls need longer timeouts, or streaming).
                3. `rate_limited`: raise the provider quota or spread the load over deployments.
                4. `provider_error` on one model: move that model group to another deployment.
                """,
            playbooks=("provider-outage",),
            facts=("availability_objectives",),
        ),
        AlertDoc(
            name="GenAITTFTSLOPage",
            module="alerts/slo.py",
            severity="critical",
            audience="oncall",
            team="platform",
            labels=("slo", "provider", "model"),
            dashboard="overview",
            panel="ttft",
            escalation="oncall",
            meaning="""
                A time-to-first-token objective is burning its budget fast: too many streaming requests
                for the model wait longer than the objective's threshold (a histogram bucket bound, see
                the table below) for their first token — above 14.4x the budget over 1h and 5m, or 6x
                over 6h and 30m.
                """,
            impact="""
                Chat and assistant users of this model see a frozen screen before the answer starts.
                Requests still succeed, so error-based alerts stay quiet; users give up and retry, which
                costs tokens twice.
                """,
            diagnosis="""
                1. Check the TTFT quantiles of the model: is the whole distribution slower (the provider)
                   or only the tail (a few long prompts)?
                2. Check whether prompts got longer: TTFT grows with the prompt, so a team that started
                   sending whole documents slows its own first tokens.
                3. Check which teams see it: all teams means the provider or the gateway; one team means
                   its prompts or its deployment.
                """,
            queries=(
                Query(
                    "TTFT p50 / p95 / p99 per model, seconds",
                    _quantiles("model_provider:genai_time_to_first_token_seconds"),
                ),
                Query(
                    "TTFT p95 per team for every model",
                    "histogram_quantile(0.95,\n"
                    "  sum by (team, model, le) (rate(genai_time_to_first_token_seconds_bucket[5m]))\n"
                    ")",
                ),
                Query(
                    "Prompt length p95 per model, now and a day ago (tokens)",
                    _now_and_then(
                        "histogram_quantile(0.95, sum by (model, le) (rate(genai_prompt_tokens_bucket[1h]{offset})))",
                        "1d",
                    ),
                ),
                _SLO_BY_OBJECTIVE,
            ),
            mitigation="""
                1. Provider-wide slowness: check the provider's status page; route the model group to
                   another region or deployment (LiteLLM router fallbacks, Kong balancer targets).
                2. Longer prompts from one team: tell the team (prompt caching and trimming context help);
                   it is their latency, not an outage.
                3. Gateway queueing: if request latency (not only TTFT) rose for every model, check the
                   gateway's CPU and connection pools.
                """,
            playbooks=("provider-outage",),
            facts=("ttft_objectives", "ttft_queries"),
        ),
        AlertDoc(
            name="GenAITTFTSLOTicket",
            module="alerts/slo.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("slo", "provider", "model"),
            dashboard="overview",
            panel="ttft",
            escalation="oncall",
            meaning="""
                A time-to-first-token objective is burning its budget slowly: above 3x over 1d and 2h, or
                1x over 3d and 6h. First tokens for this model have become slower than the objective's
                threshold for a steady share of streaming requests.
                """,
            impact="""
                A sustained, noticeable delay before answers start for the model's interactive users.
                The month's TTFT budget runs out before the period ends at this pace.
                """,
            diagnosis="""
                1. Compare today's TTFT quantiles with last week's: a step change points at a provider or
                   gateway change; a slow drift at growing prompts.
                2. Use the per-objective queries below to see the share of slow first tokens.
                """,
            queries=(
                Query(
                    "TTFT p95 per model now and a week ago, seconds",
                    _now_and_then("model_provider:genai_time_to_first_token_seconds:p95_5m{offset}", "1w"),
                ),
                Query(
                    "Error ratio of every objective over the ticket windows",
                    _windows("2h", "1d", "6h", "3d"),
                ),
                Query(
                    "Prompt length p95 per team and model over the last day (tokens)",
                    "histogram_quantile(0.95, sum by (team, model, le) (rate(genai_prompt_tokens_bucket[1d])))",
                ),
            ),
            mitigation="""
                1. Open a ticket with the model, the trend and the teams most affected.
                2. If prompts grew, work with the heaviest team on prompt caching or shorter context.
                3. If the provider slowed, consider a faster deployment or model for interactive apps and
                   keep the slower one for batch work.
                """,
            playbooks=("provider-outage",),
            facts=("ttft_objectives", "ttft_queries"),
        ),
        # --- Cost (alerts/cost.py) -------------------------------------------------------------
        AlertDoc(
            name="GenAIBudgetThreshold",
            module="alerts/cost.py",
            severity="info below 90 %, warning at 90 % and above",
            audience="budget_owner",
            team="team",
            labels=("threshold_percent",),
            dashboard="cost",
            panel="month-to-date",
            escalation="budget_owner",
            meaning="""
                The team's month-to-date spend (UTC calendar month, summed in Prometheus from
                `genai_cost_usd_total`, so exporter restarts and several replicas do not distort it) has
                crossed `threshold_percent` of its monthly budget. Only the highest threshold crossed
                below 100 % fires; the thresholds are ${budget_thresholds} % unless the team overrides them
                (table below). 100 % is `GenAIBudgetExhausted`.
                """,
            impact="""
                None yet: this is a heads-up to the team's budget owner. Nothing is blocked; at this pace
                the team may run out of budget before the month ends.
                """,
            diagnosis="""
                1. Check how far into the budget the team is and where the month is heading at the current
                   rate (the projection query).
                2. Find the apps and models that spend most; compare with what the team expects to run
                   this month (a launch, an evaluation, a backfill).
                """,
            queries=(_MONTH_TO_DATE_SHARE, _PROJECTED_SHARE, _TOP_APPS_COST, _TOP_MODELS_COST_DAY),
            mitigation="""
                1. Below 90 %: nothing is urgent. The budget owner confirms the spend is expected.
                2. At 90 % and above: decide before the budget runs out — move heavy, non-interactive work
                   to a cheaper model (prices in the spec's `models` table), enable prompt caching, or
                   raise the budget (task runbook below).
                3. This alert is re-sent rarely on purpose; do not silence it for the rest of the month.
                """,
            tasks=("answer-a-cost-alert", "raise-a-budget"),
        ),
        AlertDoc(
            name="GenAIBudgetExhausted",
            module="alerts/cost.py",
            severity="warning",
            audience="budget_owner",
            team="team",
            labels=(),
            dashboard="cost",
            panel="month-to-date",
            escalation="budget_owner",
            meaning="""
                The team's month-to-date spend has reached 100 % of its monthly budget. It silences the
                team's `GenAIBudgetThreshold` and `GenAIBudgetOverrunProjected` alerts until the month
                ends. gatewatch only observes: it does not stop traffic. The gateway does, if a budget
                limit is configured there — then the team's requests show `quota_exceeded`.
                """,
            impact="""
                Spend is over what the team agreed. If the gateway enforces a team budget, the team's apps
                are being refused now (`quota_exceeded`), which shows as errors to their users; if not, every
                further request is unbudgeted spend charged to the team's cost centre.
                """,
            diagnosis="""
                1. Confirm the overrun and check whether the gateway is already refusing the team's requests.
                2. Find what spent the money: top apps and models, and whether it is one recent spike
                   (`GenAICostAnomaly` or `GenAIRunawayLoop` may have fired) or steady growth.
                """,
            queries=(
                _MONTH_TO_DATE_SHARE,
                Query(
                    "Requests the gateway is refusing for budget or rate limits, per team and app",
                    'sort_desc(sum by (team, app) (rate(genai_requests_total{outcome="quota_exceeded"}[5m])))',
                ),
                _TOP_APPS_COST,
                _TOP_MODELS_COST_DAY,
            ),
            mitigation="""
                1. The budget owner decides, today: raise the budget (task runbook below, with finance's
                   agreement) or accept that the gateway refuses the team's traffic until the 1st.
                2. If one app caused it, throttle that app's key rather than the whole team.
                3. If the gateway refuses critical traffic, a temporary budget raise in the gateway is
                   faster than a spec change; record it and fix the spec the same day.
                """,
            tasks=("raise-a-budget", "answer-a-cost-alert"),
        ),
        AlertDoc(
            name="GenAIBudgetOverrunProjected",
            module="alerts/cost.py",
            severity="warning",
            audience="budget_owner",
            team="team",
            labels=(),
            dashboard="cost",
            panel="projected",
            escalation="budget_owner",
            meaning="""
                At the team's recent spend rate (the lower of the last hour's and the last 6 hours' rates, so a
                short burst alone does not fire it), month-to-date spend plus the rate times the time left in
                the month would exceed the monthly budget. The budget is not spent yet; the trend is the
                warning.
                """,
            impact="""
                No users are affected now. If nothing changes the team will exhaust its budget before the
                month ends (see `GenAIBudgetExhausted`).
                """,
            diagnosis="""
                1. Check the projection and when the spend rate rose: a step this week (new app, new model)
                   or a short burst that already ended (the projection will fall back by itself).
                2. Find the apps and models behind the recent rate.
                """,
            queries=(
                _PROJECTED_SHARE,
                _TEAM_SPEND_RATE,
                Query(
                    "Spend rate now against the same hour last week, per team (1 = same)",
                    "sort_desc(team:genai_cost_usd:rate1h / team:genai_cost_usd:rate1h offset 1w)",
                ),
                _TOP_APPS_COST,
            ),
            mitigation="""
                1. If the rise is planned (a launch, an evaluation run), raise the budget now rather than
                   at 100 %.
                2. If not, find the app owner and cut the spend: cheaper model for batch work, prompt
                   caching, smaller context.
                """,
            tasks=("answer-a-cost-alert", "raise-a-budget"),
        ),
        AlertDoc(
            name="GenAICostAnomaly",
            module="alerts/cost.py",
            severity="warning",
            audience="budget_owner",
            team="team",
            labels=(),
            dashboard="cost",
            panel="spend-rate",
            escalation="budget_owner",
            meaning="""
                The team's spend rate over the last 30 minutes is far above its own baseline: more than
                ${cost_anomaly_factor}x both the same hour last week and the trailing day's average (teams may
                override the factor, see the table below), and above ${cost_anomaly_min_usd_per_hour} USD an
                hour so that small teams' noise stays quiet. The rate must stay there for 5 minutes, so a burst
                of a few minutes does not fire it.
                """,
            impact="""
                Money: at this rate the team's month goes much faster than planned. It can also be the
                first sign of a loop or of a leaked key (see the related alerts).
                """,
            diagnosis="""
                1. Compare the rate now with last week's and with the trailing day.
                2. Split the new spend by app and model: one app jumping is a change or a loop; all apps
                   jumping is usually a model switch to a dearer model.
                3. Check tokens per request: a prompt template that grew multiplies cost without more requests.
                4. If `GenAIAppVolumeAnomaly` fires for the same app, treat it as a possible key compromise.
                """,
            queries=(
                Query(
                    "Spend rate now, a week ago and the trailing day's average, USD per hour",
                    _tagged("when", (
                        ("now", "team:genai_cost_usd:rate1h * 3600"),
                        ("1w ago", "team:genai_cost_usd:rate1h offset 1w * 3600"),
                        ("trailing 1d", "avg_over_time(team:genai_cost_usd:rate1h[1d]) * 3600"),
                    )),
                ),
                Query(
                    "What changed: spend per app and model, last hour minus the same hour yesterday, USD/h",
                    "sort_desc(\n"
                    "  sum by (team, app, model) (rate(genai_cost_usd_total[1h])) * 3600\n"
                    "  - sum by (team, app, model) (rate(genai_cost_usd_total[1h] offset 1d)) * 3600\n"
                    ")",
                ),
                Query(
                    "Input tokens per request, per team and app (did prompts grow?)",
                    'sum by (team, app) (rate(genai_tokens_total{type="input"}[1h]))\n'
                    "  / sum by (team, app) (rate(genai_requests_total[1h]))",
                ),
            ),
            mitigation="""
                1. Ask the owner of the top app whether the change is deliberate. If it is, nothing to do
                   (consider whether the budget still fits).
                2. If not, throttle or pause the app's key at the gateway and let the team investigate.
                3. If the requests look automated and repetitive, follow the cost-runaway playbook.
                """,
            playbooks=("cost-runaway",),
            tasks=("answer-a-cost-alert",),
        ),
        AlertDoc(
            name="GenAIRunawayLoop",
            module="alerts/cost.py",
            severity="critical",
            audience="oncall",
            team="team",
            labels=("app", 'notify_budget_owner="true"'),
            dashboard="cost",
            panel="top-apps",
            escalation="oncall_team",
            meaning="""
                One app's request rate is more than ${runaway_loop_factor}x its average over the last day (and
                above one request per second; the app is at least an hour old, so a new app's first hour never
                trips it) while its team's requests look alike: 90 % or more of the prompts
                fall in one prompt-length bucket (`team_model:genai_prompt_tokens:modal_share5m`). An agent or a
                retry loop is calling the model over and over. It is the one cost pattern that pages on-call,
                and the team's budget owner gets a copy (`notify_budget_owner="true"`).
                """,
            impact="""
                Money burns at many times the normal rate for as long as the loop runs, often overnight.
                The loop can also exhaust the provider quota shared by every team (`rate_limited` for others).
                """,
            diagnosis="""
                1. Confirm the app's rate against its baseline and how much it costs per hour.
                2. Check whether the requests succeed (a loop that succeeds costs more) or fail and retry
                   (a retry storm: look at the outcome split).
                3. Check the other teams' `rate_limited` outcomes on the same provider: the loop may be
                   starving them.
                """,
            queries=(
                Query(
                    "Apps' request rate now against their average over the last day (×)",
                    "sort_desc(team_app:genai_requests:rate5m / avg_over_time(team_app:genai_requests:rate1h[1d]))",
                ),
                Query("Cost of each app, USD per hour", "sort_desc(team_app:genai_cost_usd:rate1h * 3600)"),
                Query(
                    "Outcomes of each app's requests (a retry storm fails; a loop succeeds)",
                    "sort_desc(sum by (team, app, outcome) (rate(genai_requests_total[5m])))",
                ),
                Query(
                    "Input and output tokens per request for each app and model (near-constant in a loop)",
                    "sum by (team, app, model, type) (rate(genai_tokens_total{type=~\"input|output\"}[5m]))\n"
                    "  / on (team, app, model) group_left\n"
                    "    sum by (team, app, model) (rate(genai_requests_total[5m]))",
                ),
                Query(
                    "Other teams being rate-limited meanwhile",
                    'sum by (team, provider) (rate(genai_requests_total{outcome="rate_limited"}[5m]))',
                ),
            ),
            mitigation="""
                1. Contain first, ask later: block or rate-limit the app's key at the gateway (LiteLLM:
                   block the virtual key or set its `rpm_limit`; Kong: a rate limit on the consumer). The
                   app's owner (team table below) can unblock once the loop is fixed.
                2. Tell the team and its budget owner what was blocked and why (the alert already went to
                   the budget owner).
                3. Estimate the cost of the loop from the cost query for the incident record.
                """,
            playbooks=("cost-runaway",),
            tasks=("rotate-a-key",),
        ),
        AlertDoc(
            name="GenAIUnattributedSpend",
            module="alerts/cost.py",
            severity="warning",
            audience="budget_owner",
            team="sentinel",
            labels=(),
            dashboard="cost",
            panel="unattributed",
            escalation="finance",
            meaning="""
                Money is being spent that no team owns. `team="${unassigned}"` is traffic whose record named
                no team and no known app (a key without a team, a Kong consumer outside every group, an
                alias the spec does not list). `team="${other}"` is traffic from teams beyond the spec that
                the cardinality guard folded together (more than ${teams_limit} unknown team values).
                The counts and cost are kept; only the owner is missing.
                """,
            impact="""
                Chargeback is wrong: this spend lands on no cost centre, and no budget alert watches it.
                A key outside the spec may also be a key nobody should have.
                """,
            diagnosis="""
                1. See how much is unattributed and through which app and model.
                2. `${unassigned}` with a real `app` value: the app is not in the spec's `apps`; with
                   `app="${unassigned}"` too: the gateway sent no key alias (check attribution settings).
                3. `${other}`: check which labels overflowed.
                """,
            queries=(
                Query(
                    "Unattributed spend rate, USD per hour",
                    'team:genai_cost_usd:rate1h{team=~"${unassigned}|${other}"} * 3600',
                ),
                Query(
                    "Unattributed spend over the last day by app, model and provider, USD",
                    "sort_desc(sum by (team, app, model, provider) "
                    '(increase(genai_cost_usd_total{team=~"${unassigned}|${other}"}[1d])))',
                ),
                Query(
                    "Values folded into ${other} by the cardinality guard over the last day, per label",
                    "sum by (label) (increase(genai_exporter_label_overflow_total[1d]))",
                ),
            ),
            mitigation="""
                1. Finance asks the platform team who owns the app; the platform team adds the app (or the
                   alias the gateway sends) to the spec under the owning team and deploys it.
                2. Unknown keys nobody claims: treat as a possible leaked key (api-key-compromise playbook).
                3. Past spend stays under the sentinel in Prometheus; finance reassigns it in the monthly
                   report by hand.
                """,
            playbooks=("api-key-compromise",),
            tasks=("onboard-a-team",),
        ),
        AlertDoc(
            name="GenAIUnpricedTraffic",
            module="alerts/cost.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("model",),
            dashboard="cost",
            panel="unpriced",
            escalation="oncall",
            meaning="""
                Requests for the model in the `model` label carried tokens but neither a gateway-reported
                cost nor a price in the spec's price table, so they were counted at zero cost.
                Usually a new model, or a dated or provider-prefixed name the table has no alias for.
                """,
            impact="""
                Spend is under-reported: budget alerts, anomaly alerts and chargeback miss this model's cost.
                Users are not affected.
                """,
            diagnosis="""
                1. Which model names are unpriced and how much traffic they carry.
                2. Which teams use them: they will be surprised when the cost appears.
                3. Compare the name with the models in the spec: a dated name (`...-2025-...`) or a
                   provider prefix (`azure/...`) needs an alias, a new model needs a row.
                """,
            queries=(
                Query(
                    "Unpriced requests per model, per hour",
                    "sort_desc(sum by (model) (rate(genai_exporter_unpriced_requests_total[1h])) * 3600)",
                ),
                Query(
                    "Who sends requests to models without cost (requests per second)",
                    "sort_desc(sum by (team, app, model, provider) (rate(genai_requests_total[1h])))\n"
                    "  and on (model) (sum by (model) (rate(genai_exporter_unpriced_requests_total[1h])) > 0)",
                ),
            ),
            mitigation="""
                1. Add the model (provider, price per million input, output and cached input tokens) or an
                   alias of an existing model to `models` in the spec; the models priced now are listed
                   in the table below.
                2. Validate and regenerate (`python generate.py`), deploy, and reload the exporter with
                   `SIGHUP`. Pricing applies from the reload on; earlier requests stay at zero.
                """,
            facts=("priced_models",),
        ),
        # --- Provider health (alerts/provider.py) ---------------------------------------------
        AlertDoc(
            name="GenAIProviderErrorsHigh",
            module="alerts/provider.py",
            severity="critical",
            audience="oncall",
            team="platform",
            labels=("provider",),
            dashboard="overview",
            panel="provider-errors",
            escalation="oncall",
            meaning="""
                More than ${provider_error_ratio_percent} % of the requests to this provider, across all teams,
                end in a bad outcome (${bad_list}). One alert per provider: while it fires, Alertmanager
                silences the per-team, per-model, latency and availability-SLO alerts it causes for the same
                provider.
                """,
            impact="""
                Every team using this provider sees failures now. Interactive apps show errors; batch jobs
                retry and pile up. The availability SLO for the provider is burning.
                """,
            diagnosis="""
                1. Confirm the ratio and the dominant outcome: `provider_error` / `timeout` is the provider;
                   `rate_limited` is our quota; `gateway_error` is LiteLLM or Kong.
                2. Check whether all models of the provider fail or only one (then the model alert is the
                   better lead; it is inhibited while this one fires).
                """,
            queries=(
                _PROVIDER_ERROR_RATIO,
                _BAD_BY_PROVIDER_OUTCOME,
                Query(
                    "Bad outcomes per model of each provider",
                    'sort_desc(sum by (provider, model, outcome) (rate(genai_requests_total{outcome=~"${bad}"}[5m])))',
                ),
                Query("Request volume per provider now and an hour ago",
                      _now_and_then("provider:genai_requests:rate5m{offset}", "1h")),
            ),
            mitigation="""
                Follow the provider-outage playbook. In short: check the provider's status page, fail over
                model groups to another deployment or provider, pause batch apps (${batch_apps}), and tell the
                teams once, in one place.
                """,
            playbooks=("provider-outage",),
        ),
        AlertDoc(
            name="GenAIProviderLatencyHigh",
            module="alerts/provider.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("provider",),
            dashboard="overview",
            panel="latency",
            escalation="oncall",
            meaning="""
                The provider's p95 request latency across all teams is above ${provider_latency_p95_seconds} s.
                Requests still succeed, but slowly.
                """,
            impact="""
                Interactive apps feel stuck; gateway timeouts will turn slow requests into `timeout` errors
                if it gets worse. Concurrency rises, which can hit rate limits.
                """,
            diagnosis="""
                1. Check p50 and p99 too: all quantiles up means the provider is slow; only p95/p99 means a
                   few very long requests.
                2. Long outputs and reasoning tokens make requests slow without anything being wrong: check
                   output tokens per request.
                """,
            queries=(
                Query(
                    "Request latency p50 / p95 / p99 per model and provider, seconds",
                    _quantiles("model_provider:genai_request_duration_seconds"),
                ),
                Query(
                    "Output tokens per request per model (long answers are slow answers)",
                    'sum by (provider, model) (rate(genai_tokens_total{type="output"}[5m]))\n'
                    "  / sum by (provider, model) (rate(genai_requests_total[5m]))",
                ),
                Query(
                    "Reasoning tokens per request per model",
                    'sum by (provider, model) (rate(genai_tokens_total{type="reasoning"}[5m]))\n'
                    "  / sum by (provider, model) (rate(genai_requests_total[5m]))",
                ),
            ),
            mitigation="""
                1. Provider slowness: check its status page; route interactive model groups to another
                   deployment or region; leave batch work where it is.
                2. Output growth from one team: not a platform fault; tell the team (`max_tokens`).
                3. Watch `GenAIProviderErrorsHigh`: if timeouts start, it becomes an outage.
                """,
            playbooks=("provider-outage",),
        ),
        AlertDoc(
            name="GenAITeamErrorsHigh",
            module="alerts/provider.py",
            severity="warning",
            audience="oncall",
            team="team",
            labels=("provider",),
            dashboard="overview",
            panel="error-ratio",
            escalation="oncall_team",
            meaning="""
                More than ${provider_error_ratio_percent} % of one team's requests to this provider end in a bad
                outcome (${bad_list}; neutral outcomes left out), with enough traffic to matter. When the
                provider as a whole fails, `GenAIProviderErrorsHigh` fires instead and silences this alert.
                """,
            impact="""
                That team's users see errors; other teams do not. Common causes: the team's own rate limit
                at the provider, a deployment only this team uses, or a model only this team calls.
                """,
            diagnosis="""
                1. Split the team's bad outcomes by outcome and model.
                2. Compare with other teams on the same provider and model.
                """,
            queries=(
                Query(
                    "Bad-outcome ratio per team and provider",
                    "sort_desc(\n"
                    '  sum by (team, provider) (team_model_provider_outcome:genai_requests:rate5m{outcome=~"${bad}"})\n'
                    "  / sum by (team, provider)\n"
                    '    (team_model_provider_outcome:genai_requests:rate5m{outcome!~"${neutral}"})\n'
                    ")",
                ),
                Query(
                    "The team's outcomes by model",
                    "sort_desc(sum by (team, model, outcome) (team_model_provider_outcome:genai_requests:rate5m))",
                ),
            ),
            mitigation="""
                1. `rate_limited`: the team's key or deployment hit its provider limit; raise it or spread the
                   team's load. Its batch apps can wait.
                2. One model failing for this team only: move the team's model group to another deployment.
                3. Tell the team's owner (table below); the fault is usually in their configuration.
                """,
        ),
        AlertDoc(
            name="GenAIModelErrorsHigh",
            module="alerts/provider.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("provider", "model"),
            dashboard="overview",
            panel="error-ratio",
            escalation="oncall",
            meaning="""
                More than ${provider_error_ratio_percent} % of the requests to one model, across teams, end in a
                bad outcome (${bad_list}), with enough traffic to matter. Silenced while
                `GenAIProviderErrorsHigh` fires for the same provider.
                """,
            impact="""
                Every team using this model sees errors; other models of the provider work.
                """,
            diagnosis="""
                1. Confirm the model's error ratio and dominant outcome.
                2. A model deprecation, a capacity shortage on one deployment, or a new model version behind
                   the same name are the usual causes.
                """,
            queries=(
                Query(
                    "Bad-outcome ratio per model",
                    "sort_desc(\n"
                    "  sum by (model, provider)\n"
                    '    (team_model_provider_outcome:genai_requests:rate5m{outcome=~"${bad}"})\n'
                    "  / sum by (model, provider)\n"
                    '    (team_model_provider_outcome:genai_requests:rate5m{outcome!~"${neutral}"})\n'
                    ")",
                ),
                Query(
                    "Outcomes for each model",
                    "sort_desc(sum by (model, provider, outcome) (team_model_provider_outcome:genai_requests:rate5m))",
                ),
            ),
            mitigation="""
                1. Fail the model group over to another deployment or an equivalent model (LiteLLM router
                   `fallbacks`, Kong balancer targets).
                2. If the provider deprecated the model, plan the migration with the teams that use it.
                """,
            playbooks=("provider-outage",),
        ),
        # --- Security (alerts/security.py) ----------------------------------------------------
        AlertDoc(
            name="GenAIGuardrailBlockSurge",
            module="alerts/security.py",
            severity="warning",
            audience="security",
            team="team",
            labels=("app", "guardrail"),
            dashboard="security",
            panel="block-rate",
            escalation="security",
            meaning="""
                A guardrail blocks one app's requests at more than ${guardrail_block_factor}x its average rate
                over the previous day, and more than once a minute; or, where the guardrail never blocked the
                app in that day (its block series does not exist yet), more than five times a minute.
                Either someone is attacking through the app (a prompt-injection wave, jailbreak attempts) or
                the guardrail changed and now blocks legitimate traffic.
                """,
            impact="""
                Blocked requests are refused (`guardrail_blocked`), so an attack is being stopped — but the
                attacker is probing, and legitimate users of the app may be refused too. Blocked requests do
                not count against the availability SLOs.
                """,
            diagnosis="""
                1. Which guardrail and stage (`input` or `output`) blocks, and since when.
                2. Did the app's request volume rise too (an attack brings volume), or did the block ratio
                   rise on normal volume (a stricter guardrail or a new prompt template)?
                3. Review a sample of blocked requests in the guardrail's own console, under its access
                   controls. Never paste prompt text into tickets or chat.
                """,
            queries=(
                Query(
                    "Blocks per team, app, guardrail and stage (per second)",
                    "sort_desc(\n"
                    "  sum by (team, app, guardrail, stage)\n"
                    '    (rate(genai_guardrail_evaluations_total{result="blocked"}[5m]))\n'
                    ")",
                ),
                Query(
                    "Block ratio per app and guardrail, now and a week ago",
                    _now_and_then(
                        "sum by (team, app, guardrail) "
                        '(rate(genai_guardrail_evaluations_total{{result="blocked"}}[15m]{offset}))\n'
                        "  / sum by (team, app, guardrail) (rate(genai_guardrail_evaluations_total[15m]{offset}))",
                        "1w",
                    ),
                ),
                Query("The app's request volume, per second", "sort_desc(team_app:genai_requests:rate5m)"),
            ),
            mitigation="""
                1. Attack: the guardrail is doing its job. Rate-limit the app's key if volume is abnormal,
                   and follow the prompt-injection playbook.
                2. False positives after a guardrail change: follow the false-positive task runbook; do not
                   switch the guardrail off for the team.
                """,
            playbooks=("prompt-injection",),
            tasks=("escalate-a-guardrail-false-positive",),
        ),
        AlertDoc(
            name="GenAIGuardrailFailOpen",
            module="alerts/security.py",
            severity="critical",
            audience="security",
            team="team",
            labels=("guardrail",),
            dashboard="security",
            panel="fail-open",
            escalation="security",
            meaning="""
                The guardrail did not answer (timeout, error, unreachable) and the gateway let the request
                through unchecked (`result="failed_open"`). A failed-closed guardrail refuses instead and
                is not counted here.
                """,
            impact="""
                Requests are reaching the model without the check the team relies on: personal data may
                leave unmasked, injected prompts go unscreened. For teams that require this guardrail it is
                also a policy violation (`GenAIGuardrailBypass`).
                """,
            diagnosis="""
                1. Which guardrail, for which teams, and what share of its evaluations fail open.
                2. Is the guardrail service itself down (every team affected) or one gateway route?
                """,
            queries=(
                Query(
                    "Fail-open evaluations per team and guardrail (per second)",
                    "sort_desc(\n"
                    "  sum by (team, guardrail, stage)\n"
                    '    (rate(genai_guardrail_evaluations_total{result="failed_open"}[5m]))\n'
                    ")",
                ),
                Query(
                    "Share of each guardrail's evaluations that fail open",
                    'sum by (guardrail) (rate(genai_guardrail_evaluations_total{result="failed_open"}[5m]))\n'
                    "  / sum by (guardrail) (rate(genai_guardrail_evaluations_total[5m]))",
                ),
            ),
            mitigation="""
                1. Restore the guardrail service (its health, its credentials, its quota with the vendor).
                2. For teams that require it (table below), switch the gateway to fail closed for this
                   guardrail until it is healthy: refused requests are better than unchecked ones for them.
                3. Follow the guardrail-bypass playbook to assess what went through unchecked.
                """,
            playbooks=("guardrail-bypass", "sensitive-data-in-output"),
            facts=("required_guardrails",),
        ),
        AlertDoc(
            name="GenAIGuardrailNeedsTuning",
            module="alerts/review.py",
            severity="warning",
            audience="security",
            team="platform",
            labels=("guardrail",),
            dashboard="security",
            panel="review-fp-ratio",
            escalation="security",
            meaning="""
                Security operations' weekly review judged too many of this guardrail's blocks and flags to be
                false positives: fp / (tp + fp) over the last ${review_window_weeks} reviewed weeks is above
                the ratio the spec tolerates for it (`guardrails[].max_false_positive_ratio`, default
                ${review_default_ratio}), with at least ${review_min_reviewed} true/false-positive verdicts.
                Ambiguous verdicts count neither way. The counts come from the verdict store that
                `python -m reports review import` writes into the exporter's state directory.
                """,
            impact="""
                Legitimate requests are refused or flagged: users see failures, teams build workarounds
                around the gateway, and real detections drown in noise. Nothing is unsafe right now; this
                is a tuning job for the next review, never a page.
                """,
            diagnosis="""
                1. Which guardrail, at what ratio, against what tolerance, over how many verdicts.
                2. Run `python -m reports review summary --state-dir <exporter state dir> --spec ops.yaml
                   --audit-dir <audit dir>` for the ratio per week: a sudden week points at a guardrail
                   change, a steady climb at traffic the guardrail was never tuned for.
                3. In the last sheets, sort the false_positive rows by team, app and stage, and open a few
                   requests in the gateway's logs by their request_id.
                """,
            queries=(
                Query("False-positive ratio per guardrail (reviewed findings)",
                      "guardrail:genai_review_false_positive:ratio"),
                Query("Tolerated ratio per guardrail, from the spec",
                      "max by (guardrail) (genai_guardrail_review_tolerated_false_positive_ratio)"),
                Query("Verdicts per guardrail and verdict over the review window",
                      "max by (guardrail, verdict) (genai_guardrail_review_verdicts)"),
                Query("Blocks per guardrail and app now (per second): where the false positives come from",
                      'sort_desc(sum by (guardrail, team, app) '
                      '(rate(genai_guardrail_evaluations_total{result=~"blocked|flagged"}[1h])))'),
            ),
            mitigation="""
                1. Tune the guardrail with its owner (thresholds, allow-lists, the categories it enforces)
                   for the traffic the false positives came from; follow the escalate-a-guardrail-false-positive
                   task for the vendor or owning team.
                2. Review the next weeks' sheets: the ratio covers the last ${review_window_weeks} reviewed
                   weeks, so it falls as weeks after the change are reviewed and the alert resolves.
                3. If the tolerance itself is wrong for this guardrail, change
                   `guardrails[].max_false_positive_ratio` in the spec (reviewed like any change) and reload.
                """,
            tasks=("escalate-a-guardrail-false-positive",),
        ),
        AlertDoc(
            name="GenAIGuardrailBypass",
            module="alerts/security.py",
            severity="critical",
            audience="security",
            team="team",
            labels=("app",),
            dashboard="security",
            panel="guardrail-bypass",
            escalation="security",
            meaning="""
                Requests from this app reached a provider without a guardrail its team is required to run
                (`genai_policy_violations_total{policy="guardrail_bypass"}`): the guardrail did not run at all
                (`not_run`) or failed open. Requests the gateway refused never reached a provider and do not
                count.
                """,
            impact="""
                Policy is broken for real traffic: data the team promised to mask or screen went to a model
                unchecked. Depending on the guardrail this can be a reportable data-protection event.
                """,
            diagnosis="""
                1. Which app, and which required guardrail is missing (`not_run`) or failing open.
                2. `not_run` from one app only: the app's key or route is configured without the guardrail
                   (a new key, a new Kong route, a LiteLLM key without the team's guardrails).
                3. `failed_open` for every app: the guardrail service is down (`GenAIGuardrailFailOpen`).
                """,
            queries=(
                Query(
                    "Bypassing requests per team and app (per second)",
                    "sort_desc(\n"
                    '  sum by (team, app) (rate(genai_policy_violations_total{policy="guardrail_bypass"}[5m]))\n'
                    ")",
                ),
                Query(
                    "Which guardrail did not run or failed open, per app",
                    "sort_desc(sum by (team, app, guardrail, result) "
                    '(rate(genai_guardrail_evaluations_total{result=~"not_run|failed_open"}[5m])))',
                ),
                Query(
                    "Bypassing requests over the last day, for the incident record",
                    'sum by (team, app) (increase(genai_policy_violations_total{policy="guardrail_bypass"}[1d]))',
                ),
            ),
            mitigation="""
                1. Attach the required guardrail to the app's key or route at the gateway, or block the key
                   until it is attached.
                2. Follow the guardrail-bypass playbook: it says what to assess and whom to tell.
                """,
            playbooks=("guardrail-bypass",),
            facts=("required_guardrails",),
        ),
        AlertDoc(
            name="GenAISensitiveDataRepeated",
            module="alerts/security.py",
            severity="warning",
            audience="security",
            team="team",
            labels=("app", "entity"),
            dashboard="security",
            panel="sensitive-entities",
            escalation="security",
            meaning="""
                One app produces more than ${sensitive_entities_per_hour} sensitive-entity detections (PII /
                DLP) of one type per hour. Metrics hold counts by entity type only — never the values.
                """,
            impact="""
                Personal or confidential data is flowing through the app repeatedly: in prompts sent to a
                provider, or in model output shown to users. Whether it was masked depends on the app's
                guardrails.
                """,
            diagnosis="""
                1. Which entity types, and whether the rate is a step (a new data source) or growing.
                2. Whether the app's PII guardrail masked them (`masked`) or only flagged them.
                3. Review examples only in the guardrail's console; no values in tickets or chat.
                """,
            queries=(
                Query(
                    "Detections per app and entity type over the last hour",
                    "sort_desc(sum by (team, app, entity) (increase(genai_sensitive_entities_total[1h])))",
                ),
                Query(
                    "Guardrail verdicts for the same apps (masked, flagged, passed)",
                    "sum by (team, app, guardrail, stage, result) (rate(genai_guardrail_evaluations_total[1h]))",
                ),
            ),
            mitigation="""
                1. If entities are flagged but not masked, turn on masking for the app or require the PII
                   guardrail for the team in the spec (`required_guardrails`).
                2. If the data appears in model output, follow the sensitive-data-in-output playbook.
                """,
            playbooks=("sensitive-data-in-output",),
        ),
        AlertDoc(
            name="GenAIUnapprovedModelUse",
            module="alerts/security.py",
            severity="warning",
            audience="security",
            team="team",
            labels=("app",),
            dashboard="security",
            panel="unapproved-models",
            escalation="security",
            meaning="""
                The app sent requests to a model its team is not approved for in the spec
                (`approved_models`, table below), counted as `genai_policy_violations_total{policy="unapproved_model"}`.
                """,
            impact="""
                Data went to a model (and possibly a provider) that was not reviewed for this team: a data
                processing agreement, a region or a retention setting may not cover it. Costs may also be higher.
                """,
            diagnosis="""
                1. Which app and which models; compare with the team's approved list below.
                2. A new model name may be an alias of an approved one (a dated name): then the spec needs the
                   alias, not the team a reprimand.
                """,
            queries=(
                Query(
                    "Unapproved-model requests per app over the last hour",
                    "sort_desc(\n"
                    '  sum by (team, app) (increase(genai_policy_violations_total{policy="unapproved_model"}[1h]))\n'
                    ")",
                ),
                Query(
                    "Models each app used over the last hour",
                    "sort_desc(sum by (team, app, model, provider) (increase(genai_requests_total[1h])))",
                ),
            ),
            mitigation="""
                1. Restrict the key's allowed models at the gateway to the approved list (LiteLLM key
                   `models`; Kong route per model).
                2. If the team needs the model, the approval goes through security review and then the
                   spec's `approved_models`.
                """,
            facts=("approved_models",),
        ),
        AlertDoc(
            name="GenAIClassificationBreach",
            module="alerts/security.py",
            severity="critical",
            audience="security",
            team="team",
            labels=("app",),
            dashboard="security",
            panel="policy-violations",
            escalation="security",
            meaning="""
                The app sent requests marked with a data classification its team is not approved for
                (`classifications` in the spec). Records without a classification count as
                `${classification_default}`.
                """,
            impact="""
                Data above the team's approved level went to a model provider. This is a data-handling
                incident until security decides otherwise.
                """,
            diagnosis="""
                1. Which app, how many requests, since when.
                2. Check where the classification is read from (table below): a mislabelled request is a
                   labelling bug; a correctly labelled one is a breach.
                """,
            queries=(
                Query(
                    "Classification breaches per app over the last hour",
                    "sort_desc(\n"
                    "  sum by (team, app)\n"
                    '    (increase(genai_policy_violations_total{policy="classification_breach"}[1h]))\n'
                    ")",
                ),
                Query(
                    "Models and providers the app used meanwhile",
                    "sort_desc(sum by (team, app, model, provider) (increase(genai_requests_total[1h])))",
                ),
            ),
            mitigation="""
                1. Block the app's key until the owner confirms what data it sends.
                2. Follow the sensitive-data-in-output playbook for the assessment and notification steps.
                """,
            playbooks=("sensitive-data-in-output",),
            facts=("classifications",),
        ),
        AlertDoc(
            name="GenAIAppVolumeAnomaly",
            module="alerts/security.py",
            severity="critical",
            audience="security",
            team="team",
            labels=("app",),
            dashboard="security",
            panel="app-volume",
            escalation="security",
            meaning="""
                One app's request volume is more than ${app_volume_factor}x its own baseline. For a key that
                normally carries steady traffic, a sudden surge — often at an odd hour, often for models the
                app never uses — is the classic sign of a leaked key.
                """,
            impact="""
                If the key leaked, someone else is spending the team's budget and may be using the gateway
                to reach models with the team's data permissions.
                """,
            diagnosis="""
                1. Compare the app's volume with the same hour last week.
                2. Look at the models it calls now: models the app never used before are a strong signal.
                3. Ask the app's owner whether a launch or backfill explains it before assuming compromise.
                """,
            queries=(
                Query(
                    "Apps' request rate against the same hour last week (×)",
                    "sort_desc(team_app:genai_requests:rate1h / team_app:genai_requests:rate1h offset 1w)",
                ),
                Query(
                    "Models each app calls now, and a week ago",
                    _now_and_then("sum by (team, app, model) (rate(genai_requests_total[15m]{offset}))", "1w"),
                ),
                Query("Each app's spend, USD per hour", "sort_desc(team_app:genai_cost_usd:rate1h * 3600)"),
            ),
            mitigation="""
                1. If the owner cannot explain it within minutes, block the key: an outage for one app is
                   cheaper than a leaked key.
                2. Follow the api-key-compromise playbook and rotate the key.
                """,
            playbooks=("api-key-compromise",),
            tasks=("rotate-a-key",),
        ),
        # --- Platform (alerts/platform.py) -----------------------------------------------------
        AlertDoc(
            name="GenAIExporterDown",
            module="alerts/platform.py",
            severity="critical",
            audience="oncall",
            team="platform",
            labels=("instance",),
            dashboard="overview",
            panel="exporter-health",
            escalation="oncall",
            meaning="""
                Prometheus cannot scrape a gatewatch exporter (`up{job="${job}"} == 0`) or the target is gone.
                It silences `GenAITelemetryStale` and `GenAISpecOutOfStep`, which it would cause.
                """,
            impact="""
                Requests handled by the gateway replica behind this exporter are not counted while it is
                down: dashboards under-report, cost and security alerts go blind for that share of traffic.
                With `--state-dir`, counters continue where they stopped once it is back; records the gateway
                posted meanwhile are lost unless the gateway retries or the exporter tails a file.
                """,
            diagnosis="""
                1. Which instances are down, and whether the others still expose metrics.
                2. Ask the exporter directly: `curl -fsS http://INSTANCE/healthz` and `/readyz`.
                3. Read its log. Exit code 1 means it could not start (port in use, state directory not
                   writable); exit code 2 means a broken spec (the message names file, line and path).
                """,
            queries=(
                _EXPORTER_TARGETS,
                Query("Replicas that do expose metrics", "max by (instance) (genai_spec_info)"),
                Query(
                    "Seconds since each source last delivered a record",
                    "time() - max by (instance, source) (genai_exporter_last_event_timestamp_seconds)",
                ),
            ),
            mitigation="""
                1. Restart the exporter with the same `--state-dir` so counters continue.
                2. Broken spec (exit 2): fix `ops.yaml` or roll back to the last good commit; validate with
                   `python generate.py --check`.
                3. Port or state-directory problems (exit 1): free the port, fix the volume's permissions.
                4. Target up but unreachable from Prometheus: network policy or a wrong scrape address.
                """,
        ),
        AlertDoc(
            name="GenAITelemetryStale",
            module="alerts/platform.py",
            severity="critical",
            audience="oncall",
            team="platform",
            labels=(),
            dashboard="overview",
            panel="freshness",
            escalation="oncall",
            meaning="""
                The exporters are up but no gateway records arrived for more than ${stale_after_minutes}
                minutes, while the same hour yesterday was busy. The gateways stopped sending, or their
                records stopped reaching gatewatch.
                """,
            impact="""
                Every dashboard and every cost, security and SLO alert is blind: they see no traffic, so
                they see no problem. The gateway itself may be serving users normally.
                """,
            diagnosis="""
                1. Which sources went quiet (`http` = posted by gateways, `file` = tailed logs).
                2. Whether records still arrive but are rejected (`GenAIRecordsRejected`).
                3. Posting gateways: a `401` means the ingest token (`${token_env}`) changed on one side;
                   a `413` means batches exceed `max_body_bytes` (${max_body_bytes}).
                4. Tailed files: the log path, rotation, or the file system.
                """,
            queries=(
                Query(
                    "Seconds since each source last delivered a record",
                    "time() - max by (source) (genai_exporter_last_event_timestamp_seconds)",
                ),
                Query(
                    "Records per second by source, format and result",
                    "sum by (source, format, result) (rate(genai_exporter_events_total[5m]))",
                ),
                Query(
                    "Gateway requests counted now and at this time yesterday",
                    _now_and_then("sum(rate(genai_requests_total[5m]{offset}))", "1d"),
                ),
            ),
            mitigation="""
                1. LiteLLM: check its generic HTTP logging callback still points at `/ingest/litellm` with
                   the current token. Kong: check the `http-log` plugin (endpoint `/ingest/kong`) or the
                   `file-log` path being tailed.
                2. Fix the ingest token on whichever side changed it, then watch the freshness query fall.
                3. Records lost while nothing was received are not recoverable from gatewatch; note the gap.
                """,
        ),
        AlertDoc(
            name="GenAIRecordsRejected",
            module="alerts/platform.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("format",),
            dashboard="overview",
            panel="rejected-records",
            escalation="oncall",
            meaning="""
                The exporter is rejecting a share of the records of one format (`litellm`, `kong`, `events`)
                as malformed. Each ingest answer lists the reasons, and the exporter logs
                `rejected N <format> record(s) from <source> since the last report; for example: <reason>`.
                """,
            impact="""
                Rejected records are not counted: spend, errors and security findings in them are missing.
                Good records in the same batch are still counted.
                """,
            diagnosis="""
                1. Which format and source, and what share is rejected.
                2. Read the exporter log's example reason. A gateway upgrade that changed its log format is
                   the usual cause (dialect drift).
                """,
            queries=(
                Query(
                    "Share of records rejected, per format and source",
                    'sum by (format, source) (rate(genai_exporter_events_total{result="rejected"}[15m]))\n'
                    "  / sum by (format, source) (rate(genai_exporter_events_total[15m]))",
                ),
                Query(
                    "Duplicates per format (a retrying logger; not an error)",
                    'sum by (format) (rate(genai_exporter_events_total{result="duplicate"}[15m]))',
                ),
            ),
            mitigation="""
                1. If a gateway was just upgraded, roll it back or pin its logging plugin until the adapter
                   handles the new format.
                2. File an issue with the rejection reason and the field names involved. Never attach a raw
                   record: it contains prompts, keys and user identifiers.
                """,
        ),
        AlertDoc(
            name="GenAICardinalityOverflow",
            module="alerts/platform.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("label",),
            dashboard="overview",
            panel="cardinality",
            escalation="oncall",
            meaning="""
                The exporter's cardinality guard is folding values of the `label` label into `${other}`:
                more values arrived than the spec plus the configured allowance admits, or a metric hit its
                series cap (`label="__series_cap__"`, ${max_series_per_metric} series per metric). Counts and
                cost are kept under `${other}`.
                """,
            impact="""
                Attribution gets coarser: new apps or teams appear as `${other}` on dashboards and in
                chargeback. Nothing is lost, and Prometheus stays protected from a series explosion.
                """,
            diagnosis="""
                1. Which label overflows, and how fast.
                2. Legitimate growth (new keys from a real team) or attacker-controlled values (random key
                   aliases, scanner traffic)? The allowances in the spec are listed below.
                """,
            queries=(
                Query(
                    "Values folded per label over the last hour",
                    "sort_desc(sum by (label) (increase(genai_exporter_label_overflow_total[1h])))",
                ),
                Query(
                    "Traffic under ${other}, by team and app",
                    'sum by (team, app) (rate(genai_requests_total{app="${other}"}[1h]))\n'
                    '  or sum by (team, app) (rate(genai_requests_total{team="${other}"}[1h]))',
                ),
                Query("Series the exporter exposes per scrape", 'scrape_samples_scraped{job="${job}"}'),
            ),
            mitigation="""
                1. Real teams and apps: add them (with their aliases) to the spec so they stop counting
                   against the allowance.
                2. Random values: find the gateway feature minting them; do not raise the allowance for
                   attacker-controlled values.
                3. Raise `ingest.cardinality` only with the series count in view.
                """,
            tasks=("onboard-a-team",),
            facts=("cardinality",),
        ),
        AlertDoc(
            name="GenAISpecOutOfStep",
            module="alerts/platform.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=(),
            dashboard="overview",
            panel="exporter-health",
            escalation="oncall",
            meaning="""
                The exporters run a spec whose hash (`genai_spec_info{hash}`) differs from the spec the rules
                were generated from (hash `${spec_hash}` for this build), or replicas disagree with each other.
                """,
            impact="""
                Teams, budgets, aliases or thresholds differ between what is counted and what is alerted on:
                a new team's budget alerts may not exist yet, or a removed team's still fire.
                """,
            diagnosis="""
                1. Which hashes the replicas report, and how many of each.
                2. Whether a reload failed (`GenAISpecReloadFailed`) on some replicas.
                3. Which commit of `ops.yaml` each side was deployed from.
                """,
            queries=(
                _SPEC_HASHES,
                Query("Replicas not on this build's spec", 'genai_spec_info{hash!="${spec_hash}"}'),
                Query(
                    "Failed spec reloads in the last hour per instance",
                    'sum by (instance) (increase(genai_exporter_spec_reloads_total{result="failure"}[1h]))',
                ),
            ),
            mitigation="""
                1. Deploy the rules and the exporters' spec from the same commit: `python generate.py` in CI,
                   then ship `build/` and `ops.yaml` together.
                2. Exporters on an old spec: send them `SIGHUP` after updating `ops.yaml` (no restart needed).
                """,
            tasks=("onboard-a-team",),
        ),
        AlertDoc(
            name="GenAIStateWriteFailing",
            module="alerts/platform.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("instance",),
            dashboard="overview",
            panel="exporter-health",
            escalation="oncall",
            meaning="""
                The exporter cannot write its state directory (counters, tail offsets, duplicate window).
                Its log says `could not write the state snapshot to DIR: REASON`.
                """,
            impact="""
                Nothing visible yet. But a restart now would lose the counts since the last good snapshot,
                and tailed files would be re-read from an old offset (duplicates are caught only within the
                dedupe window).
                """,
            diagnosis="""
                1. Which instances fail, and since when.
                2. The usual reasons: disk full, read-only volume after a node problem, permissions changed.
                """,
            queries=(
                Query(
                    "State write failures per instance over the last 15 minutes",
                    "sum by (instance) (increase(genai_exporter_state_write_failures_total[15m]))",
                ),
            ),
            mitigation="""
                1. Free space or fix permissions on the state volume; the next snapshot (every few seconds)
                   succeeds on its own and the alert resolves.
                2. Do not restart the exporter until a snapshot succeeds: its memory holds the only current counts.
                """,
        ),
        AlertDoc(
            name="GenAISpecReloadFailed",
            module="alerts/platform.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("instance",),
            dashboard="overview",
            panel="exporter-health",
            escalation="oncall",
            meaning="""
                A `SIGHUP` spec reload was refused: the new `ops.yaml` is broken, so the exporter keeps running
                the previous spec. Its log says `spec reload refused; still running the previous spec:`
                followed by the file, line, path and what was expected.
                """,
            impact="""
                The exporter counts with the old spec: new teams or aliases are not attributed, new prices
                are not applied. `GenAISpecOutOfStep` usually follows.
                """,
            diagnosis="""
                1. Which instances failed the reload.
                2. Validate the spec the same way the exporter does: `python generate.py --spec ops.yaml --check`
                   prints the same message and exits 2 on a broken spec.
                """,
            queries=(
                Query(
                    "Spec reloads per instance and result over the last hour",
                    "sum by (instance, result) (increase(genai_exporter_spec_reloads_total[1h]))",
                ),
                _SPEC_HASHES,
            ),
            mitigation="""
                1. Fix the spec at the place the message names, or restore the last good commit.
                2. Send `SIGHUP` again; the reload counter's `success` series goes up.
                """,
        ),
        # --- The audit trail (alerts/platform.py, exporter --audit-dir, docs/audit.md) ------------
        AlertDoc(
            name="GenAIAuditChainBroken",
            module="alerts/platform.py",
            severity="critical",
            audience="security",
            team="platform",
            labels=("instance",),
            dashboard="overview",
            panel="exporter-health",
            escalation="security",
            meaning="""
                The exporter verified its audit log when it started and the hash chain is broken: a line was
                edited, deleted or reordered, a line is not an audit line, or a day file is missing. Its log
                says `audit log chain broken` followed by each problem (file, line, seq).
                """,
            impact="""
                The audit log is the record-keeping evidence for guardrail findings, policy violations and
                sensitive-data detections. Until the break is explained, it does not prove what happened
                around the break. New lines are still written and chained.
                """,
            diagnosis="""
                1. Which exporter, and when it restarted.
                2. Run `python -m reports audit verify DIR --prometheus URL --instance INSTANCE` on its audit
                   directory: every problem is named by file, line and seq.
                3. Compare with the backups of the audit volume and with who had write access to it.
                """,
            queries=(
                Query("Start-up verification per exporter (1 intact, 0 broken)", "genai_audit_chain_verified"),
                Query("Chain length per exporter over the last day",
                      "max by (instance) (max_over_time(genai_audit_chain_length[1d]))"),
            ),
            mitigation="""
                1. Treat it as a possible security incident: preserve the directory as it is (copy it read-only)
                   before anything else touches it.
                2. Restore the damaged day files from backup if you have them and verify again; the alert
                   resolves at the next start with an intact chain.
                3. If the damage is explained (a disk fault, an operator's mistake), record the explanation with
                   the verify output as evidence; the chain continues past the break.
                """,
            playbooks=("guardrail-bypass",),
        ),
        AlertDoc(
            name="GenAIAuditChainShrunk",
            module="alerts/platform.py",
            severity="critical",
            audience="security",
            team="platform",
            labels=("instance",),
            dashboard="overview",
            panel="exporter-health",
            escalation="security",
            meaning="""
                The exporter's audit chain holds fewer lines than Prometheus recorded in the last week: lines
                were cut from the end of the newest day file, the newest day files were deleted, or the whole
                directory was replaced. Verifying the files alone cannot see this; Prometheus's record can.
                """,
            impact="""
                Audit lines Prometheus saw written are gone: the security events they recorded are no longer
                in the evidence.
                """,
            diagnosis="""
                1. The highest length Prometheus recorded against the length now.
                2. `python -m reports audit verify DIR --prometheus URL --instance INSTANCE` names the missing
                   seq range and any line whose hash differs from the head Prometheus recorded.
                """,
            queries=(
                Query("Chain length now and its maximum over the last 7 days",
                      _tagged("when", (("now", "max by (instance) (genai_audit_chain_length)"),
                                       ("max 7d", "max by (instance) (max_over_time(genai_audit_chain_length[7d]))")))),
                Query("Chain head per exporter", "genai_audit_chain_head"),
            ),
            mitigation="""
                1. Preserve the audit directory and the exporter's host logs; find who or what removed the files.
                2. Restore the missing day files from backup and verify with `--prometheus`.
                3. The alert resolves when the chain is at least as long as its recorded maximum again, or
                   after 7 days; the Prometheus comparison keeps finding it for as long as Prometheus keeps data.
                """,
        ),
        AlertDoc(
            name="GenAIAuditChainStalled",
            module="alerts/platform.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("instance",),
            dashboard="overview",
            panel="exporter-health",
            escalation="oncall",
            meaning="""
                The exporter counts guardrail findings, policy violations or sensitive entities, but its audit
                chain has not grown for 10 minutes: the events are not being written to the audit log.
                """,
            impact="""
                Security events are missing from the record-keeping evidence while this lasts. The exporter
                holds unwritten lines in memory (up to a bound) and writes them when the directory works again;
                a restart now loses them.
                """,
            diagnosis="""
                1. Write failures: the exporter's log says `could not write the audit log to DIR: REASON`.
                2. The usual reasons: disk full, read-only volume, permissions changed, directory removed.
                """,
            queries=(
                Query("Audit write failures per instance over the last 15 minutes",
                      "sum by (instance) (increase(genai_audit_write_failures_total[15m]))"),
                Query("Seconds since the last audit write", "time() - genai_audit_last_write_timestamp_seconds"),
                Query("Guardrail findings per instance over the last 10 minutes",
                      'sum by (instance) (increase(genai_guardrail_evaluations_total{result!="passed"}[10m]))'),
            ),
            mitigation="""
                1. Free space or fix permissions on the audit volume; the next write (within a second)
                   succeeds on its own and the chain grows again.
                2. Do not restart the exporter until the chain grows: unwritten lines live only in its memory.
                """,
        ),
        # --- Meta-monitoring (alerts/meta.py) --------------------------------------------------
        AlertDoc(
            name="Watchdog",
            module="alerts/meta.py",
            severity="info",
            audience="oncall",
            team="platform",
            labels=(),
            dashboard="overview",
            panel="firing-alerts",
            escalation="deadman",
            meaning="""
                Always firing, on purpose. It goes to the dead-man's switch (`${deadman_receiver}`), an
                outside service that expects it every minute. When the Watchdog stops arriving, the switch
                pages: Prometheus, Alertmanager or the path between them is broken, and every other alert
                is silently lost.
                """,
            impact="""
                Seeing the Watchdog firing: none, all is well. Being paged by the dead-man's switch: no
                alert of this stack can reach anyone until the pipeline is fixed.
                """,
            diagnosis="""
                1. Is Prometheus up and evaluating rules? Is the Watchdog firing in Prometheus?
                2. Does Prometheus reach Alertmanager (alertmanagers discovered, notifications dropped)?
                3. Does Alertmanager reach the dead-man's switch (notifications failing for `webhook`)?
                """,
            queries=(
                Query("Is the Watchdog firing in Prometheus?", 'ALERTS{alertname="Watchdog", alertstate="firing"}'),
                Query("Alertmanagers Prometheus sends to", "prometheus_notifications_alertmanagers_discovered"),
                Query("Alerts Prometheus dropped", "rate(prometheus_notifications_dropped_total[5m])"),
                Query(
                    "Failed notifications per integration",
                    "sum by (integration) (rate(alertmanager_notifications_failed_total[5m]))",
                ),
            ),
            mitigation="""
                1. Never silence the Watchdog in Alertmanager: a silence looks exactly like a broken pipeline
                   to the dead-man's switch.
                2. Restore whichever link the queries show broken: Prometheus, its `alerting` config, or
                   Alertmanager and its deadman route.
                """,
        ),
        AlertDoc(
            name="AlertmanagerNotificationsFailing",
            module="alerts/meta.py",
            severity="critical",
            audience="oncall",
            team="platform",
            labels=("integration",),
            dashboard="overview",
            panel="firing-alerts",
            escalation="oncall",
            meaning="""
                Alertmanager fails to deliver notifications through one integration (`email`, `slack`,
                `pagerduty`, `webhook`).
            """,
            impact="""
                Alerts routed through that integration do not reach their people: budget owners, security
                operations or on-call may be missing alerts right now. You may be reading this through
                another integration.
                """,
            diagnosis="""
                1. Which integration fails and what share of its notifications.
                2. Alertmanager's log names the receiver and the error. The usual causes: a secret file
                   (`routing_key_file`, `api_url_file`, `auth_password_file`, `credentials_file`) missing,
                   empty or rotated on one side only; the SMTP relay refusing; a revoked Slack webhook.
                """,
            queries=(
                Query(
                    "Failure ratio per integration",
                    "sum by (integration) (rate(alertmanager_notifications_failed_total[5m]))\n"
                    "  / sum by (integration) (rate(alertmanager_notifications_total[5m]))",
                ),
                _ALERTS_FIRING,
            ),
            mitigation="""
                1. Fix the secret file or the credentials at the destination; Alertmanager reads the files
                   again on its next notification attempt or on reload.
                2. Check `amtool check-config` against the deployed configuration.
                3. Meanwhile, look at the firing alerts in Prometheus or Alertmanager's UI and tell their
                   owners by hand.
                """,
        ),
        AlertDoc(
            name="PrometheusRuleFailures",
            module="alerts/meta.py",
            severity="critical",
            audience="oncall",
            team="platform",
            labels=("rule_group",),
            dashboard="overview",
            panel="firing-alerts",
            escalation="oncall",
            meaning="""
                Prometheus fails to evaluate rules in the group named by `rule_group`.
            """,
            impact="""
                Recording rules that fail leave gaps every alert and dashboard built on them sees; alerting
                rules that fail cannot fire. The alerts of that group are blind.
                """,
            diagnosis="""
                1. Which group fails, and how long its evaluations take against its interval.
                2. Prometheus's log has the error. Typical: `many-to-many matching not allowed` (a join on a
                   series every replica exposes, like the budget gauge, without `max by`), or a query timeout.
                """,
            queries=(
                Query(
                    "Evaluation failures per rule group over the last 10 minutes",
                    "sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total[10m])) > 0",
                ),
                Query(
                    "Evaluation time against the interval, per group (above 1: evaluations overrun)",
                    "sort_desc(prometheus_rule_group_last_duration_seconds / prometheus_rule_group_interval_seconds)",
                ),
            ),
            mitigation="""
                1. If a rule file changed recently, roll it back to the last generated `build/` that worked;
                   `promtool check rules` and `promtool test rules` must pass before deploying again.
                2. If evaluations overrun, look for a series explosion (`PrometheusSampleLimitHit`,
                   `GenAICardinalityOverflow`).
                """,
        ),
        AlertDoc(
            name="PrometheusSampleLimitHit",
            module="alerts/meta.py",
            severity="warning",
            audience="oncall",
            team="platform",
            labels=("job",),
            dashboard="overview",
            panel="exporter-health",
            escalation="oncall",
            meaning="""
                A scrape exceeded its `sample_limit`. Prometheus then drops the whole scrape, not just the
                excess: every metric of that target is missing for that scrape.
                """,
            impact="""
                For the gatewatch job, this means no data at all from the exporter while it lasts: every
                dashboard and alert on gatewatch metrics goes blind.
                """,
            diagnosis="""
                1. Which job, and how many samples its targets expose.
                2. The exporter caps every metric at ${max_series_per_metric} series; a limit hit means the
                   cap is set too high for the `sample_limit`, or many metrics grew together.
                """,
            queries=(
                Query(
                    "Scrapes that exceeded the sample limit in the last 10 minutes",
                    "increase(prometheus_target_scrapes_exceeded_sample_limit_total[10m])",
                ),
                Query("Samples per scrape per target", "sort_desc(scrape_samples_scraped)"),
                Query(
                    "Values folded by the exporter's guard per label",
                    "sum by (label) (increase(genai_exporter_label_overflow_total[1h]))",
                ),
            ),
            mitigation="""
                1. Lower `ingest.cardinality.max_series_per_metric` (or the per-label allowances) in the spec
                   and reload the exporter; the guard folds the excess into `${other}` without losing counts.
                2. Raising `sample_limit` in the scrape config is the last resort: it protects Prometheus.
                """,
            facts=("cardinality",),
        ),
    )
}
