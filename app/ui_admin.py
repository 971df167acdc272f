"""The admin console: catalogue import with its validation report, statistics, accounts, training (read-only)."""

from __future__ import annotations

import gradio as gr

from app import handlers
from app.ui_common import actor_from, attempt, esc, header
from backend.settings import get_settings
from backend.tables import ROLES

ACCOUNT_COLUMNS = ["username", "role", "client_id", "active", "clients_assigned", "created_at"]
JOB_COLUMNS = ["id", "status", "stage", "progress", "created_at", "finished_at", "candidate_version", "error"]
VERSION_COLUMNS = ["version", "status", "job_id", "created_at", "promoted_at"]
AUDIT_COLUMNS = ["when", "who", "action", "detail", "reason"]


def _rows(rows: list[dict] | None, columns: list[str]) -> list[list]:
    return [[str(r[c]) if r[c] is not None else "" for c in columns] for r in rows or []]


def on_import(path, mapping, request: gr.Request):
    """Validate and import an upload; the report is shown whatever happens."""
    actor, error = attempt(actor_from, request)
    outcome, error = (None, error) if error else attempt(handlers.import_upload, actor, path, mapping)
    if error:
        return f"{error}\n\nNothing was imported; the live catalogue is unchanged."
    result, report = outcome
    return f"{result.summary()}\n\nValidation report\n-----------------\n{report.to_text(limit=100)}"


def _stats_markdown(stats: dict) -> str:
    c = stats["catalogue"]
    if c.get("items"):
        groups = ", ".join(f"{g} {n}" for g, n in c["per_group"].items())
        catalogue = (f"**{esc(c['name'])}** (version {c['version']}, imported {c['imported']}): {c['items']} items "
                     f"from {c['houses']} houses, EUR {c['price_min'] or 0:,.0f} – {c['price_max'] or 0:,.0f}.  \n"
                     f"{esc(groups)}")
    else:
        catalogue = esc(c.get("error") or "The catalogue is empty.")
    feedback = ", ".join(f"{k} {n}" for k, n in sorted(stats["feedback"].items())) or "none yet"
    accounts = ", ".join(f"{k} {n}" for k, n in sorted(stats["accounts"].items())) or "none"
    return (f"### Catalogue\n{catalogue}\n\n### Shortlists and feedback\n{stats['shortlists']} shortlists "
            f"({stats['fallbacks']} with the fallback ranking), {stats['shortlists_reviewed']} reviewed.  \n"
            f"Feedback: {feedback}.\n\n### People\n{stats['clients']} clients; accounts: {accounts}.")


def on_refresh(request: gr.Request):
    """Everything the console shows that can change: stats, accounts, audit log, training rows."""
    actor, error = attempt(actor_from, request)
    if error:
        return error, error, [], [], [], []
    stats, error = attempt(handlers.statistics, actor)
    accounts, _ = attempt(handlers.list_accounts, actor)
    audit, _ = attempt(handlers.audit_log, actor)
    training, _ = attempt(handlers.training_overview, actor)
    audit_rows = [[f"{a['when']:%Y-%m-%d %H:%M}", a["who"], a["action"], str(a["detail"])[:160], a["reason"]]
                  for a in audit or []]
    return (header(actor, "Admin console"), error or _stats_markdown(stats), _rows(accounts, ACCOUNT_COLUMNS),
            audit_rows, _rows((training or {}).get("jobs"), JOB_COLUMNS),
            _rows((training or {}).get("versions"), VERSION_COLUMNS))


def on_create(username, role, password, client_id, request: gr.Request):
    actor, error = attempt(actor_from, request)
    account, error = (None, error) if error else attempt(handlers.admin_create_account, actor, username, role,
                                                         password, client_id)
    return error or f"Created {account.username} ({account.role})."


def on_active(username, active: bool, request: gr.Request):
    actor, error = attempt(actor_from, request)
    _, error = (None, error) if error else attempt(handlers.admin_set_active, actor, username, active)
    return error or f"{(username or '').strip().lower()} is now {'enabled' if active else 'disabled'}."


def on_enable(username, request: gr.Request):
    return on_active(username, True, request)


def on_disable(username, request: gr.Request):
    return on_active(username, False, request)


def on_reset(username, password, request: gr.Request):
    actor, error = attempt(actor_from, request)
    _, error = (None, error) if error else attempt(handlers.admin_reset_password, actor, username, password)
    return error or f"New password set for {username.strip().lower()}; their open sessions have ended."


def on_assign(client_ids, associate, request: gr.Request):
    actor, error = attempt(actor_from, request)
    n, error = (None, error) if error else attempt(handlers.admin_assign, actor, client_ids, associate)
    return error or f"{n} client(s) now looked after by {associate.strip().lower()}."


def build_admin_ui() -> gr.Blocks:
    limit = get_settings().max_upload_mb
    with gr.Blocks(title="Concierge — admin") as page:
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
        with gr.Tab("Training (read-only)"):
            gr.Markdown("**Placeholder.** Starting, watching and cancelling retraining runs, comparing runs and "
                        "promoting or rolling back model versions arrive with the training work (`training/`). "
                        "Until then this tab only lists the training jobs and model versions stored in the "
                        "database; `concierge eval` and `concierge probes` run from the command line.")
            jobs = gr.Dataframe(headers=JOB_COLUMNS, interactive=False, label="Training jobs", elem_id="jobs")
            versions = gr.Dataframe(headers=VERSION_COLUMNS, interactive=False, label="Model versions",
                                    elem_id="versions")

        refresh_outputs = [top, stats, accounts, audit, jobs, versions]
        page.load(on_refresh, None, refresh_outputs, api_name=False)
        refresh.click(on_refresh, None, refresh_outputs, api_name="refresh")
        run.click(on_import, [upload, mapping], [report], api_name="import_catalogue").then(
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
