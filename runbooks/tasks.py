"""Task runbooks: routine changes done the same way every time, mostly edits to the spec."""

from __future__ import annotations

from runbooks.model import Task

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            name="onboard-a-team",
            title="Onboarding a team",
            summary="Give a new team attributed usage, a budget with alerts to its budget owner, and policies.",
            when="""
                A team starts using the gateway, or its traffic shows up as `${unassigned}` / `${other}`
                (`GenAIUnattributedSpend`, `GenAICardinalityOverflow`).
                """,
            steps="""
                1. Add the team to `teams` in the spec: `name` (lower-case; it becomes the `team` label),
                   `display_name`, `owner` (a handle, never an email — it becomes a label), `cost_center`,
                   `tier`, `budget_owner` (name and email), `budget.monthly_usd`.
                2. Add `aliases` for every raw value the gateways send for it: the LiteLLM team id or alias,
                   the Kong consumer group.
                3. Add its apps under `apps` with their key aliases or Kong consumer names.
                4. Set `approved_models`, `classifications` and `required_guardrails` with security.
                5. Optional: `alerting.team_overrides.<team>` for its own budget thresholds, anomaly factor or a
                   receiver (otherwise budget alerts email the budget owner).
                6. Run `python generate.py` and commit the spec with the regenerated `build/`; CI runs
                   `python generate.py --check`.
                7. Deploy the rules and Alertmanager config, then send the exporters `SIGHUP` with the new
                   `ops.yaml` (no restart).
                """,
            verify="""
                1. `count by (hash) (genai_spec_info)` shows one hash on every replica, and `GenAISpecOutOfStep`
                   stays quiet.
                2. The team's first requests appear under its name: `sum by (team) (rate(genai_requests_total[5m]))`.
                3. `max by (team) (genai_team_budget_usd)` shows its budget.
                4. `amtool config routes test --verify.receivers=budget-<team> team=<team> audience=budget_owner
                   alertname=GenAIBudgetThreshold` names its receiver.
                """,
            undo="Revert the spec commit, regenerate, redeploy and `SIGHUP` the exporters.",
        ),
        Task(
            name="rotate-a-key",
            title="Rotating a key",
            summary="Replace an app's gateway key (or gatewatch's ingest token) without losing attribution.",
            when="""
                A key leaked or may have (`GenAIAppVolumeAnomaly`, the api-key-compromise playbook), an owner
                left, or the rotation schedule says so.
                """,
            steps="""
                1. **App key, LiteLLM:** create a new virtual key with the *same* `key_alias` and team
                   (`POST /key/generate`). gatewatch attributes the app from `metadata.user_api_key_alias`,
                   so a new alias would turn the app into an unknown app.
                2. **App key, Kong:** add a new credential to the *same* consumer (`POST
                   /consumers/<consumer>/key-auth`); the consumer's username is the app.
                3. Hand the new key to the app's owner through the secret store; never by chat or ticket.
                4. Once the app runs on the new key, block and then delete the old one (LiteLLM `/key/block`,
                   `/key/delete`; Kong `DELETE /consumers/<consumer>/key-auth/<id>`). In a compromise, block
                   first and accept the downtime.
                5. **gatewatch ingest token:** put the new value in the exporters' environment variable
                   `${token_env}` and in the gateways' logging configuration. An environment variable changes
                   only with a restart: restart the exporters (with `--state-dir`, nothing is lost) right after
                   the gateways switch; records posted with the old token in between get `401` and count only
                   if the gateway retries them.
                6. **Alertmanager secrets** (`*_file`): replace the file's content in the secret store; the
                   configuration names only the file.
                """,
            verify="""
                1. The app's traffic continues under the same `app` label:
                   `sum by (team, app) (rate(genai_requests_total[5m]))`.
                2. After an ingest-token rotation, `genai_exporter_events_total{result="accepted"}` keeps rising
                   for every source and `GenAITelemetryStale` stays quiet.
                """,
            undo="Unblock the old key (LiteLLM `/key/unblock`) if the app breaks and the rotation was routine.",
        ),
        Task(
            name="raise-a-budget",
            title="Raising a budget",
            summary="Change a team's monthly budget so budget alerts measure against the new figure.",
            when="A budget owner asks, with finance's agreement, usually after `GenAIBudgetThreshold` at 90 %.",
            steps="""
                1. Get the new figure and finance's agreement in writing (finance contact: `${finance_contact}`).
                2. Edit `teams[<team>].budget.monthly_usd` in the spec (thresholds stay percentages of it).
                3. If the gateway enforces budgets too (a LiteLLM team `max_budget`), raise it there the same day.
                4. `python generate.py`, commit, deploy, `SIGHUP` the exporters: `genai_team_budget_usd` comes from
                   the spec the exporter runs.
                """,
            verify="""
                `max by (team) (genai_team_budget_usd{period="month"})` shows the new figure, and the month-to-date
                share falls accordingly; resolved budget alerts stay resolved.
                """,
            undo="Revert the spec change and reload; alerts re-fire against the old budget if it is exceeded.",
        ),
        Task(
            name="escalate-a-guardrail-false-positive",
            title="Escalating a guardrail false positive",
            summary="A guardrail blocks legitimate requests of an app; get it fixed without switching it off.",
            when="""
                A team reports refused requests (`guardrail_blocked`), or `GenAIGuardrailBlockSurge` fires and
                review shows the blocked requests are legitimate.
                """,
            steps="""
                1. Quantify from metrics: app, guardrail, stage, block ratio before and after
                   (`genai_guardrail_evaluations_total{result="blocked"}`).
                2. Pick a few example requests in the guardrail's own console and reference them by their
                   request ids there. Do not copy prompt text into the ticket.
                3. Open a ticket with security operations and the guardrail's owner: app, guardrail, stage, block
                   ratio, example ids, since when (a guardrail or policy update is the usual cause).
                4. Meanwhile, a narrower exception for the app (an allow-list, a threshold for that route) is
                   acceptable with security's approval; removing a guardrail the team is required to run is not —
                   it would fire `GenAIGuardrailBypass`.
                """,
            verify="The app's block ratio returns to its baseline; `GenAIGuardrailBypass` stays quiet.",
            undo="Remove the temporary exception once the guardrail is fixed.",
        ),
        Task(
            name="answer-a-cost-alert",
            title="Answering a cost alert",
            summary="What a budget owner does with a budget, projection or anomaly alert for their team.",
            when="""
                You are a team's budget owner and got `GenAIBudgetThreshold`, `GenAIBudgetOverrunProjected`,
                `GenAICostAnomaly` or `GenAIBudgetExhausted`.
                """,
            steps="""
                1. Open the alert's dashboard link (cost dashboard) and your team dashboard.
                2. Find where the money goes: spend per app and model
                   (`sort_desc(team_app:genai_cost_usd:rate1h * 3600)` for USD per hour now).
                3. Decide: expected (a launch, an evaluation run) → raise the budget if the month will not fit;
                   unexpected → ask the app's owner, and have the platform team rate-limit the key if it keeps
                   spending.
                4. Cheaper options: a smaller model for batch or classification work, prompt caching (see the
                   cost dashboard's cache-savings panel), shorter context.
                5. Reply on the alert's thread with what you decided, so finance and the platform team see it.
                """,
            verify="The spend rate falls, or the raised budget gives the projection room again.",
            undo="Nothing to undo; budget raises have their own runbook.",
        ),
    )
}
