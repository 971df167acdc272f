"""The admin console: catalogue import with its validation report, statistics, accounts, and training:
start a retraining run, watch it live (a timer refreshes while it runs), cancel it, compare model versions
with the gate's verdict, promote or roll back with a reason."""

from __future__ import annotations

import os

import gradio as gr

from app import handlers_admin
from app.ui_common import actor_from, attempt, header, md_text, price_range
from backend.settings import get_settings
from backend.tables import ROLES
from catalog.errors import ConciergeError

ACCOUNT_COLUMNS = ["username", "role", "client_id", "active", "clients_assigned", "created_at"]
JOB_COLUMNS = ["id", "status", "stage", "progress", "created_at", "finished_at", "candidate_version", "error"]
VERSION_COLUMNS = ["version", "status", "job", "n", "NDCG@5 [95% CI]", "Recall@5", "Hit@1", "instructions",
                   "knowledge", "reasoning gates", "gate vs active"]
WATCH_EVERY_S = 3.0
AUDIT_COLUMNS = ["when", "who", "action", "detail", "reason"]


def _rows(rows: list[dict] | None, columns: list[str]) -> list[list]:
    return [[str(r[c]) if r[c] is not None else "" for c in columns] for r in rows or []]


def uploaded_file(path, uploads: set[str]) -> str | None:
    """`path` if Gradio stored it for an upload to this page (`uploads`: the page's `upload_file_set`).

    A Gradio API call can name any server file in a `FileData`; only what came through the page's upload is read.

    Raises:
        `ConciergeError`: a path that no upload to this page produced.
    """
    if not path:
        return None
    if os.path.abspath(path) not in {os.path.abspath(p) for p in uploads}:
        raise ConciergeError("upload the file through this page first; only files uploaded here are imported")
    return path


def on_import(path, mapping, request: gr.Request, uploads: set[str] = frozenset(), progress=None):
    """Validate and import an upload; the report is shown whatever happens. `progress` (a `gr.Progress`) is told
    each stage; with `track_tqdm=True` it also shows the importer's bars (embedding, storing) as they fill."""
    actor, error = attempt(actor_from, request)
    path, error = (None, error) if error else attempt(uploaded_file, path, uploads)
    stage = (lambda text: progress(None, desc=text)) if progress is not None else None
    outcome, error = (None, error) if error else attempt(handlers_admin.import_upload, actor, path, mapping, stage)
    if error:
        return f"{error}\n\nNothing was imported; the live catalogue is unchanged."
    result, report = outcome
    return f"{result.summary()}\n\nValidation report\n-----------------\n{report.to_text(limit=100)}"


def _stats_markdown(stats: dict) -> str:
    c = stats["catalogue"]
    if c.get("items"):
        groups = ", ".join(f"{g} {n}" for g, n in c["per_group"].items())
        catalogue = (f"**{md_text(c['name'])}** (version {c['version']}, imported {c['imported']}): {c['items']} items "
                     f"from {c['houses']} houses, {md_text(price_range(c))}.  \n"
                     f"{md_text(groups)}")
    else:
        catalogue = md_text(c.get("error") or "The catalogue is empty.")
    feedback = ", ".join(f"{k} {n}" for k, n in sorted(stats["feedback"].items())) or "none yet"
    accounts = ", ".join(f"{k} {n}" for k, n in sorted(stats["accounts"].items())) or "none"
    return (f"### Catalogue\n{catalogue}\n\n### Shortlists and feedback\n{stats['shortlists']} shortlists "
            f"({stats['fallbacks']} with the fallback ranking), {stats['shortlists_reviewed']} reviewed.  \n"
            f"Feedback: {feedback}.\n\n### People\n{stats['clients']} clients; accounts: {accounts}.")


def on_refresh(request: gr.Request):
    """Everything the console shows that can change: stats, accounts, audit log, training rows."""
    actor, error = attempt(actor_from, request)
    if error:
        return error, error, [], [], [], [], [], gr.skip(), gr.skip()
    stats, error = attempt(handlers_admin.statistics, actor)
    accounts, _ = attempt(handlers_admin.list_accounts, actor)
    audit, _ = attempt(handlers_admin.audit_log, actor)
    training, _ = attempt(handlers_admin.training_overview, actor)
    versions, _ = attempt(handlers_admin.compare_versions, actor)
    audit_rows = _audit_rows(audit)
    return (header(actor, "Admin console"), error or _stats_markdown(stats), _rows(accounts, ACCOUNT_COLUMNS),
            audit_rows, _rows((training or {}).get("jobs"), JOB_COLUMNS), _version_rows(versions), audit_rows,
            gr.update(choices=_job_choices(training)), gr.update(choices=[v["version"] for v in versions or []]))


def _audit_rows(audit: list[dict] | None) -> list[list]:
    return [[f"{a['when']:%Y-%m-%d %H:%M}", a["who"], a["action"], str(a["detail"])[:160], a["reason"]]
            for a in audit or []]


# --- training ----------------------------------------------------------------------------------

def _job_choices(training: dict | None) -> list[tuple[str, int]]:
    return [(f"#{j['id']} · {j['status']} · {j['created_at']:%d %b %H:%M}", j["id"])
            for j in (training or {}).get("jobs", [])]


def _number_text(metric: dict | None, interval: bool = False) -> str:
    if not metric or metric.get("mean") is None:
        return "–"
    if interval and metric.get("low") is not None:
        return f"{metric['mean']:.3f} [{metric['low']:.3f}, {metric['high']:.3f}]"
    return f"{metric['mean']:.3f}"


def _version_rows(versions: list[dict] | None) -> list[list]:
    rows = []
    for v in versions or []:
        probes = [f"{v[k]:.3f}" if isinstance(v.get(k), (int, float)) else "–"
                  for k in ("instruction_following", "knowledge_contains")]
        gate = v["gate"] + (f": {'; '.join(v['reasons'])}" if v["reasons"] else "")
        rows.append([v["version"], v["status"], v["job_id"] or "", v["n"] or "", _number_text(v["ndcg@5"], True),
                     _number_text(v["recall@5"]), _number_text(v["hit@1"]), *probes,
                     _reasoning_text(v.get("reasoning")), gate])
    return rows


def _reasoning_text(gates: dict | None) -> str:
    """The reasoning quality gates of a version's evaluation in one cell (`training.metrics.reasoning_gates`)."""
    if not gates:
        return "–"
    missed = [g for g, ok in gates["passed"].items() if not ok]
    return (f"valid pick {gates['valid_pick']:.0%}, degenerate {gates['degenerate']}, consistent steps "
            f"{gates['consistent']:.0%}, inconsistent {gates['inconsistent']:.0%}, ungrounded {gates['ungrounded']}"
            + (f" · missed: {', '.join(missed)}" if missed else " · all met"))


def _progress_html(progress: float, status: str) -> str:
    pct = max(0.0, min(1.0, float(progress or 0))) * 100
    colour = {"failed": "#c62828", "cancelled": "#9e9e9e", "succeeded": "#2e7d32"}.get(status, "#3b2f1e")
    return (f'<div id="job-progress" style="border:1px solid #d9d4c7;border-radius:6px;height:18px;'
            f'background:#fffdf8"><div style="width:{pct:.1f}%;height:100%;background:{colour};border-radius:5px">'
            f'</div></div><div style="font-size:.85em">{pct:.0f}%</div>')


def _job_markdown(job: dict) -> str:
    stage = f" · stage *{md_text(job['stage'])}*" if job["stage"] else ""
    lines = [f"**Job #{job['id']}** — {job['status']}{stage}"]
    metrics = job["metrics"]
    if metrics.get("step") is not None:
        lines.append(f"step {metrics['step']} of {metrics.get('max_steps', '?')} (current stage)")
    ranker_job = "ranker_candidate" in metrics
    if job["candidate_version"]:
        lines.append(f"candidate {'ranker' if ranker_job else 'version'} **{md_text(job['candidate_version'])}**")
    gate = job["gate"]
    if gate and not gate.get("passed"):
        lines.append("gate: **refused** — " + md_text("; ".join(gate.get("reasons") or [])))
    elif gate and ranker_job:
        lines.append(f"gate (NDCG@5 against the served ranker on {gate.get('n')} held-out requests): **passes** — "
                     "serve it with the button below")
    elif gate:
        lines.append("gate: **passes** — promote it below")
    if job["error"]:
        lines.append(f"⚠️ {md_text(job['error'][:500])}")
    if job["status"] == "queued":
        lines.append("Waiting for a worker (`concierge worker`, or `concierge serve --with-worker`).")
    return "  \n".join(lines)


def on_watch(job_id, drawn, request: gr.Request):
    """The watch panel of one job. The timer stays on only while the job is queued or running.

    Returns:
        (summary, progress bar, curves picture, log tail, drawn key, timer, jobs table)
    """
    from app.pictures import training_curves_picture

    stop = gr.Timer(active=False)
    if job_id in (None, ""):
        return "Choose a job to watch.", "", None, "", None, stop, gr.skip()
    actor, error = attempt(actor_from, request)
    job, error = (None, error) if error else attempt(handlers_admin.training_job, actor, job_id)
    if error:
        return error, "", None, "", None, stop, gr.skip()
    key = (job["id"], len(job["curves"]), job["status"])
    picture = gr.skip() if key == drawn else training_curves_picture(job["curves"])
    training, _ = attempt(handlers_admin.training_overview, actor)
    return (_job_markdown(job), _progress_html(job["progress"], job["status"]), picture, job["log_tail"] or "",
            key, gr.Timer(active=job["running"]), _rows((training or {}).get("jobs"), JOB_COLUMNS))


def on_start(stages, max_steps, max_cases, learning_rate, share, eval_limit, probes_limit, request: gr.Request):
    """Queue a run from the form; on success the watch panel follows the new job."""
    actor, error = attempt(actor_from, request)
    job, error = (None, error) if error else attempt(handlers_admin.start_training, actor, stages, max_steps, max_cases,
                                                     learning_rate, share, eval_limit, probes_limit)
    if error:
        return error + "\n\nNothing was queued.", gr.skip()
    training, _ = attempt(handlers_admin.training_overview, actor)
    return (f"Queued job #{job.id}; a worker picks it up within seconds.",
            gr.update(choices=_job_choices(training), value=job.id))


def on_start_ranker(request: gr.Request):
    """Queue a ranker job; on success the watch panel follows it."""
    actor, error = attempt(actor_from, request)
    job, error = (None, error) if error else attempt(handlers_admin.start_ranker_training, actor)
    if error:
        return error + "\n\nNothing was queued.", gr.skip()
    training, _ = attempt(handlers_admin.training_overview, actor)
    return (f"Queued ranker job #{job.id}; a worker picks it up within seconds.",
            gr.update(choices=_job_choices(training), value=job.id))


def on_promote_ranker(job_id, reason, request: gr.Request):
    actor, error = attempt(actor_from, request)
    outcome, error = (None, error) if error else attempt(handlers_admin.promote_ranker_job, actor, job_id, reason)
    if error:
        return error + "\n\nNothing changed."
    if outcome["passed"]:
        return f"The catalogue is now ordered by ranker **{md_text(outcome['served'])}**; the next shortlist uses it."
    reasons = "\n".join(f"- {md_text(r)}" for r in outcome["reasons"])
    return f"⚠️ Refused: the served ranker stays. The gate said:\n{reasons}"


def on_cancel(job_id, confirmed, request: gr.Request):
    actor, error = attempt(actor_from, request)
    job, error = (None, error) if error else attempt(handlers_admin.cancel_training, actor, job_id, bool(confirmed))
    return (error or f"Job #{job.id} cancelled; a running job stops at its next step."), False


def on_promote(version, reason, request: gr.Request):
    actor, error = attempt(actor_from, request)
    verdict, error = (None, error) if error else attempt(handlers_admin.promote_version, actor, version, reason)
    if error:
        return error + "\n\nNothing changed."
    if verdict.passed:
        return (f"**{md_text(verdict.candidate)}** is now active (was {md_text(verdict.reference)}); the next "
                f"shortlist uses it.")
    reasons = "\n".join(f"- {md_text(r)}" for r in verdict.reasons)
    return (f"⚠️ Promotion refused: **{md_text(verdict.reference)}** stays active and {md_text(verdict.candidate)} "
            f"is marked rejected. The gate said:\n{reasons}")


def on_rollback(version, reason, request: gr.Request):
    actor, error = attempt(actor_from, request)
    row, error = (None, error) if error else attempt(handlers_admin.rollback_version, actor, version, reason)
    if error:
        return error + "\n\nNothing changed."
    return f"**{md_text(row.version)}** is active again; the next shortlist uses it."


def on_create(username, role, password, client_id, request: gr.Request):
    actor, error = attempt(actor_from, request)
    account, error = (None, error) if error else attempt(handlers_admin.admin_create_account, actor, username, role,
                                                         password, client_id)
    return error or f"Created {account.username} ({account.role})."


def on_active(username, active: bool, request: gr.Request):
    actor, error = attempt(actor_from, request)
    _, error = (None, error) if error else attempt(handlers_admin.admin_set_active, actor, username, active)
    return error or f"{(username or '').strip().lower()} is now {'enabled' if active else 'disabled'}."


def on_enable(username, request: gr.Request):
    return on_active(username, True, request)


def on_disable(username, request: gr.Request):
    return on_active(username, False, request)


def on_reset(username, password, request: gr.Request):
    actor, error = attempt(actor_from, request)
    _, error = (None, error) if error else attempt(handlers_admin.admin_reset_password, actor, username, password)
    return error or f"New password set for {username.strip().lower()}; their open sessions have ended."


def on_assign(client_ids, associate, request: gr.Request):
    actor, error = attempt(actor_from, request)
    n, error = (None, error) if error else attempt(handlers_admin.admin_assign, actor, client_ids, associate)
    return error or f"{n} client(s) now looked after by {associate.strip().lower()}."


def build_admin_ui() -> gr.Blocks:
    limit = get_settings().max_upload_mb
    # uploads (and pictures) older than a day are deleted, hourly, and all of them when the server stops
    with gr.Blocks(title="Concierge — admin", delete_cache=(3600, 86400)) as page:
        top = gr.Markdown(elem_id="header")
        with gr.Tab("Catalogue import"):
            gr.Markdown(f"Upload a **bundle as .zip** (manifest.json, items.jsonl, optional clients.jsonl, "
                        f"interactions.csv, queries.jsonl) or a **.csv / .jsonl** catalogue with an optional column "
                        f"mapping. At most {limit} MiB. Bad rows are skipped and listed; the import is all or nothing.")
            upload = gr.File(label="Catalogue file", file_types=[".zip", ".csv", ".jsonl"], type="filepath",
                             elem_id="upload")
            mapping = gr.Textbox(label="Column mapping (CSV / JSONL only)", elem_id="mapping",
                                 placeholder="title=Name,price=Price,brand=Maker")
            run = gr.Button("Validate and import", variant="primary", elem_id="import-button")
            report = gr.Textbox(label="Import result and validation report", lines=14, elem_id="import-report")
        with gr.Tab("Statistics"):
            stats = gr.Markdown(elem_id="stats")
            refresh = gr.Button("Refresh", elem_id="refresh-stats")
        with gr.Tab("Accounts"):
            accounts = gr.Dataframe(headers=ACCOUNT_COLUMNS, interactive=False, elem_id="accounts")
            with gr.Row():
                username = gr.Textbox(label="Username", elem_id="acct-username")
                role = gr.Radio(list(ROLES), label="Role", value="client", elem_id="acct-role")
                password = gr.Textbox(label="Password (8+ characters)", type="password", elem_id="acct-password")
                client_id = gr.Textbox(label="Client id (client accounts)", elem_id="acct-client")
            with gr.Row():
                create = gr.Button("Create account", variant="primary", elem_id="acct-create")
                enable = gr.Button("Enable", elem_id="acct-enable")
                disable = gr.Button("Disable", elem_id="acct-disable")
                reset = gr.Button("Set password", elem_id="acct-reset")
            with gr.Row():
                assign_ids = gr.Textbox(label="Client ids (comma-separated)", elem_id="assign-clients")
                assign_to = gr.Textbox(label="Associate username", elem_id="assign-associate")
                assign = gr.Button("Assign clients", elem_id="assign")
            account_status = gr.Markdown(elem_id="account-status")
            gr.Markdown("#### Audit log")
            audit = gr.Dataframe(headers=AUDIT_COLUMNS, interactive=False, elem_id="audit", max_height=260)
        with gr.Tab("Training"):
            (jobs, versions, training_audit, job_choice, version_choice), wire_training = build_training_tab()
        refresh_outputs = [top, stats, accounts, audit, jobs, versions, training_audit, job_choice, version_choice]
        wire_training(on_refresh, refresh_outputs)
        page.load(on_refresh, None, refresh_outputs, api_name=False)
        refresh.click(on_refresh, None, refresh_outputs, api_name="refresh")
        def import_catalogue(path, mapping, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            return on_import(path, mapping, request, page.upload_file_set, progress)

        run.click(import_catalogue, [upload, mapping], [report], api_name="import_catalogue").then(
            on_refresh, None, refresh_outputs, api_name=False)
        create.click(on_create, [username, role, password, client_id], [account_status], api_name="create_account") \
            .then(on_refresh, None, refresh_outputs, api_name=False)
        enable.click(on_enable, [username], [account_status], api_name=False) \
            .then(on_refresh, None, refresh_outputs, api_name=False)
        disable.click(on_disable, [username], [account_status], api_name=False) \
            .then(on_refresh, None, refresh_outputs, api_name=False)
        reset.click(on_reset, [username, password], [account_status], api_name="set_password") \
            .then(on_refresh, None, refresh_outputs, api_name=False)
        assign.click(on_assign, [assign_ids, assign_to], [account_status], api_name="assign_clients") \
            .then(on_refresh, None, refresh_outputs, api_name=False)
    return page


def build_training_tab():
    """The training tab's components and events (inside `build_admin_ui`'s Blocks).

    Returns:
        ((jobs, versions, audit, job choice, version choice), wire): the components the console's refresh
        fills, and `wire(refresh, outputs)`, which connects the buttons whose follow-up is that refresh.
    """
    from training.config import STAGES

    gr.Markdown("Start a retraining run; `concierge worker` (started by `concierge serve --with-worker`) takes "
                "it. Max steps and learning rate apply to the SFT and GRPO stages; at the end the candidate is "
                "evaluated and probed next to the active version, and the gate's verdict is shown below.")
    with gr.Row():
        stages = gr.CheckboxGroup(list(STAGES), value=["grpo"], label="Stages (run in this order)",
                                  elem_id="train-stages")
        max_steps = gr.Number(12, label="Max steps", precision=0, elem_id="train-steps")
        max_cases = gr.Number(64, label="Cases (max)", precision=0, elem_id="train-cases")
        learning_rate = gr.Number(2e-4, label="Learning rate", elem_id="train-lr")
    with gr.Row():
        share = gr.Slider(0.01, 1.0, value=0.25, step=0.01, label="Feedback share (of the cases, when there is "
                          "feedback)", elem_id="train-share")
        eval_limit = gr.Number(20, label="Eval queries", precision=0, elem_id="train-eval")
        probes_limit = gr.Number(20, label="Probes (per set)", precision=0, elem_id="train-probes")
        start = gr.Button("Start run", variant="primary", elem_id="train-start")
    with gr.Row():
        gr.Markdown("Or retrain the catalogue's **ranker** (the order before the model) on the associates' "
                    "verdicts: seconds, not minutes; its gate cross-validates over the judged shortlists (each "
                    "scored by a ranker that did not learn from it). Serve it from the job panel below once its "
                    "gate passes.")
        start_ranker = gr.Button("Retrain the ranker", elem_id="train-ranker", scale=0)
    start_status = gr.Markdown(elem_id="train-status")
    jobs = gr.Dataframe(headers=JOB_COLUMNS, interactive=False, label="Training jobs", elem_id="jobs", max_height=220)

    gr.Markdown("#### Watch a job")
    with gr.Row():
        job_choice = gr.Dropdown(label="Job", choices=[], allow_custom_value=True, elem_id="job-choice", scale=3)
        watch = gr.Button("Watch", elem_id="job-watch", scale=1)
    job_summary = gr.Markdown(elem_id="job-summary")
    progress = gr.HTML(elem_id="job-progress-bar")
    curves = gr.Image(label="Reward · NDCG · curriculum pool", type="pil", interactive=False, elem_id="job-curves")
    log_tail = gr.Textbox(label="Log tail", lines=8, max_lines=8, autoscroll=True, elem_id="job-log")
    with gr.Row():
        confirm = gr.Checkbox(label="Yes, cancel this job", value=False, elem_id="job-confirm")
        cancel = gr.Button("Cancel job", variant="stop", elem_id="job-cancel")
    cancel_status = gr.Markdown(elem_id="job-cancel-status")
    with gr.Row():
        ranker_reason = gr.Textbox(label="Reason to serve this job's ranker (required; audit log)",
                                   elem_id="ranker-reason", scale=3)
        promote_ranker = gr.Button("Serve this job's ranker", elem_id="ranker-promote", scale=1)
    ranker_status = gr.Markdown(elem_id="ranker-status")
    drawn = gr.State(None)  # (job, points, status) of the picture on screen: redrawn only when it changes
    nothing_drawn = gr.State(None)
    timer = gr.Timer(WATCH_EVERY_S, active=False)

    gr.Markdown("#### Model versions\nNDCG@5 with its 95% interval, Recall@5 and Hit@1 on the held-out queries "
                "(re-ranking protocol); probe scores; the gate's verdict against the active version.")
    versions = gr.Dataframe(headers=VERSION_COLUMNS, interactive=False, elem_id="versions", wrap=True)
    with gr.Row():
        version_choice = gr.Dropdown(label="Version", choices=[], allow_custom_value=True, elem_id="version-choice",
                                     scale=2)
        reason = gr.Textbox(label="Reason (required; recorded in the audit log)", elem_id="version-reason", scale=3)
        promote = gr.Button("Promote", variant="primary", elem_id="version-promote", scale=1)
        rollback = gr.Button("Roll back to it", elem_id="version-rollback", scale=1)
    version_status = gr.Markdown(elem_id="version-status")
    gr.Markdown("#### Audit log")
    training_audit = gr.Dataframe(headers=AUDIT_COLUMNS, interactive=False, elem_id="training-audit", max_height=260)

    watch_outputs = [job_summary, progress, curves, log_tail, drawn, timer, jobs]
    watch.click(on_watch, [job_choice, nothing_drawn], watch_outputs, api_name="watch_job")
    job_choice.input(on_watch, [job_choice, nothing_drawn], watch_outputs, api_name=False)
    timer.tick(on_watch, [job_choice, drawn], watch_outputs, api_name=False, show_progress="hidden")

    def wire(refresh, outputs):
        start.click(on_start, [stages, max_steps, max_cases, learning_rate, share, eval_limit, probes_limit],
                    [start_status, job_choice], api_name="start_training") \
            .then(refresh, None, outputs, api_name=False) \
            .then(on_watch, [job_choice, nothing_drawn], watch_outputs, api_name=False)
        start_ranker.click(on_start_ranker, None, [start_status, job_choice], api_name="start_ranker_training") \
            .then(refresh, None, outputs, api_name=False) \
            .then(on_watch, [job_choice, nothing_drawn], watch_outputs, api_name=False)
        promote_ranker.click(on_promote_ranker, [job_choice, ranker_reason], [ranker_status],
                             api_name="promote_ranker").then(refresh, None, outputs, api_name=False)
        cancel.click(on_cancel, [job_choice, confirm], [cancel_status, confirm], api_name="cancel_training") \
            .then(on_watch, [job_choice, nothing_drawn], watch_outputs, api_name=False) \
            .then(refresh, None, outputs, api_name=False)
        promote.click(on_promote, [version_choice, reason], [version_status], api_name="promote_version") \
            .then(refresh, None, outputs, api_name=False)
        rollback.click(on_rollback, [version_choice, reason], [version_status], api_name="rollback_version") \
            .then(refresh, None, outputs, api_name=False)

    return (jobs, versions, training_audit, job_choice, version_choice), wire
