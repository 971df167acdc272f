"""The associate's review console: queue, client profile and preference graph, shortlist, steps, feedback."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import gradio as gr

from app import handlers_associate
from app.pictures import preference_picture
from app.ui_common import (actor_from, attempt, cards_html, header, md_text, price_text, reasoning_note,
                           steps_html)

QUEUE_COLUMNS = ["shortlist", "client", "name", "created (UTC)", "request", "feedback"]
ALL = "All my clients"


def _queue_rows(actor, client_filter):
    client_id = None if client_filter in (None, "", ALL) else client_filter
    rows, error = attempt(handlers_associate.review_queue, actor, client_id)
    table = [[r["shortlist_id"], r["client_id"], r["client"], f"{r['created_at']:%Y-%m-%d %H:%M}",
              r["request"][:120], r["feedback"]] for r in rows or []]
    return table, error


def on_load(request: gr.Request):
    actor, error = attempt(actor_from, request)
    if error:
        return error, gr.update(choices=[ALL], value=ALL), [], error
    clients, error = attempt(handlers_associate.my_clients, actor)
    choices = [ALL] + [(f"{c['client_id']} · {c['name']}", c["client_id"]) for c in clients or []]
    table, queue_error = _queue_rows(actor, ALL)
    status = error or queue_error or ("" if table else "No shortlists to review yet.")
    return header(actor, "Review console"), gr.update(choices=choices, value=ALL), table, status


def on_filter(client_filter, request: gr.Request):
    actor, error = attempt(actor_from, request)
    if error:
        return [], error
    table, error = _queue_rows(actor, client_filter)
    return table, error or ("" if table else "No shortlists for this client yet.")


def on_row(evt: gr.SelectData, table):
    """Clicking a queue row puts its shortlist number in the box."""
    try:
        row = evt.index[0]
        return int(table.iloc[row, 0]) if hasattr(table, "iloc") else int(table[row][0])
    except Exception:  # noqa: BLE001 - a click on nothing selects nothing
        return gr.update()


def _profile_markdown(profile: dict) -> str:
    likes = ", ".join(node.split("=", 1)[1] for node, _ in profile["likes"]) or "—"
    dislikes = ", ".join(node.split("=", 1)[1] for node, _ in profile["dislikes"]) or "—"
    stated = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                       for k, v in profile["stated_preferences"].items()) or "—"
    notes = "\n".join(f"- {md_text(n['text'])} _({n['source']})_" for n in profile["notes"]) or "- none yet"
    history = "\n".join(f"- {h['timestamp']:%Y-%m-%d} {h['kind']}: {md_text(h['title'] or h['item_id'])}"
                        for h in profile["history"]) or "- none"
    return (f"### {md_text(profile['name'])} ({md_text(profile['client_id'])})\n**Likes:** {md_text(likes)}  \n"
            f"**Avoids:** {md_text(dislikes)}  \n**Stated:** {md_text(stated)}\n\n**Notes**\n{notes}\n\n"
            f"**Recent history**\n{history}")


def _feedback_markdown(feedback: list[dict]) -> str:
    if not feedback:
        return "_No feedback on this shortlist yet._"
    lines = []
    for f in feedback:
        target = f"item {md_text(f['item_id'])}" if f["item_id"] else f"step {f['step_index']}" \
            if f["step_index"] is not None else "client"
        extra = f" → position {f['new_rank']}" if f["new_rank"] else f" → {md_text(f['replacement_item_id'])}" \
            if f["replacement_item_id"] else ""
        lines.append(f"- **{f['kind']}** {target}{extra}: {md_text(f['reason'])}")
    return "**Feedback so far**\n" + "\n".join(lines)



def on_open(shortlist_id, request: gr.Request):
    """Open one shortlist: profile, graph picture, request, query graph, cards, steps, feedback."""
    actor, error = attempt(actor_from, request)
    view, error = (None, error) if error else attempt(handlers_associate.review_shortlist, actor, shortlist_id)
    if error:
        cleared = gr.update(choices=[], value=None)
        return None, "", None, "", "", "", cleared, cleared, "", error, None
    profile, error = attempt(handlers_associate.client_profile, actor, view["client_id"])
    graph, graph_error = attempt(handlers_associate.client_preference_graph, actor, view["client_id"])
    picture = preference_picture(graph, view["client_id"]) if graph is not None else None
    request_md = (f"### Shortlist #{view['shortlist_id']} · {view['created_at']:%Y-%m-%d %H:%M} UTC\n"
                  f"**Request:** {md_text(view['request'])}  \nModel {md_text(view['model_version'])}"
                  + (f"  \n**Flagged:** {md_text(note)}" if (note := reasoning_note(view.get("reasoning"),
                                                                                    view["fallback_used"])) else ""))
    items = [(f"{i['rank']}. {i['title']} ({i['item_id']}, {price_text(i['price'], i.get('currency'))})", i["item_id"])
             for i in view["items"]]
    steps = [(f"{s['index']}. [{s['verdict']}] {s['text'][:90]}", s["index"]) for s in view["steps"]]
    return (view["shortlist_id"], _profile_markdown(profile) if profile else error, picture, request_md,
            json.dumps(view["query_graph"], indent=1, default=str), cards_html(view["items"]) +
            "<h4>Reasoning steps and verdicts</h4>" + steps_html(view["steps"]),
            gr.update(choices=items, value=None), gr.update(choices=steps, value=None),
            _feedback_markdown(view["feedback"]), graph_error or "", view["client_id"])


def _after(actor, shortlist_id, done: str):
    view, error = attempt(handlers_associate.review_shortlist, actor, shortlist_id)
    return (_feedback_markdown(view["feedback"]) if view else gr.update()), error or done


def _save(request: gr.Request, shortlist_id, action: Callable, args: tuple, done: Callable[[], str]):
    """One review action on a shortlist as the signed-in associate: `action(actor, shortlist_id, *args)`.

    Returns (the feedback after it, the status line): `done()` words the status once the action has
    succeeded, the error's message otherwise.
    """
    actor, error = attempt(actor_from, request)
    if not error:
        _, error = attempt(action, actor, shortlist_id, *args)
    if error:
        return gr.update(), error
    return _after(actor, shortlist_id, done())


def _review_handler(action: Callable, inputs: tuple[str, str], saved: Callable[[Any, Any], str]) -> Callable:
    """The event handler of one review action on the open shortlist, with the shortlist, two inputs and a reason.

    Args:
        action (`Callable`): `action(actor, shortlist_id, first, second, reason)`, from `handlers_associate`.
        inputs (`tuple[str, str]`): the names of `first` and `second` in the handler's signature, which Gradio
            gives the event's API parameters.
        saved (`Callable`): words the status line from `(first, second)` once the action has succeeded.

    Returns:
        `Callable`: `handler(shortlist_id, first, second, reason, request)`, its two inputs renamed `inputs`.
    """
    def handler(shortlist_id, first, second, reason, request: gr.Request):
        return _save(request, shortlist_id, action, (first, second, reason), lambda: saved(first, second))

    # The API of each event keeps its action's own parameter names ("item_id", "verdict", ...).
    names = dict(zip(("first", "second"), inputs))
    signature = inspect.signature(handler)
    handler.__signature__ = signature.replace(
        parameters=[p.replace(name=names.get(p.name, p.name)) for p in signature.parameters.values()])
    return handler


on_judge = _review_handler(handlers_associate.judge_item, ("item_id", "verdict"),
                           lambda item_id, verdict: f"Saved: {verdict} {item_id}.")
on_reorder = _review_handler(handlers_associate.reorder_item, ("item_id", "new_rank"),
                             lambda item_id, rank: f"Saved: move {item_id} to position {int(rank)}.")
on_replace = _review_handler(handlers_associate.replace_item, ("item_id", "replacement"),
                             lambda item_id, other: f"Saved: replace {item_id} with {other.strip()}.")
on_flag = _review_handler(handlers_associate.flag_step, ("step_index", "kind"),
                          lambda step_index, kind: f"Saved: step {step_index} flagged as {kind}.")


def _verdict_form(title: str, target: str, verdicts: tuple[str, ...], verdict_label: str, reason_label: str,
                  save: str, ids: tuple[str, str, str, str]) -> tuple:
    """One form of the review panel: choose what is judged (an item, a step), the verdict (the first one
    preselected), a reason, and save. Returns the four components; `ids` are their element ids."""
    gr.Markdown(f"#### {title}")
    return (gr.Radio(label=target, choices=[], elem_id=ids[0]),
            gr.Radio(list(verdicts), label=verdict_label, value=verdicts[0], elem_id=ids[1]),
            gr.Textbox(label=reason_label, elem_id=ids[2]),
            gr.Button(save, variant="primary", elem_id=ids[3]))


def on_note(shortlist_id, client_id, text, request: gr.Request):
    actor, error = attempt(actor_from, request)
    if not error and not client_id:
        error = "⚠️ open a shortlist first; the note goes on its client's profile"
    _, error = (None, error) if error else attempt(handlers_associate.add_client_note, actor, client_id, text,
                                                   shortlist_id)
    if error:
        return gr.update(), gr.update(), error
    feedback, status = _after(actor, shortlist_id, f"Note added to {client_id}'s profile.")
    return feedback, "", status


def build_associate_ui() -> gr.Blocks:
    with gr.Blocks(title="Concierge — review console") as page:
        top = gr.Markdown(elem_id="header")
        with gr.Row():
            client_filter = gr.Dropdown(label="Client", choices=[ALL], value=ALL, scale=3, elem_id="client-filter")
            refresh = gr.Button("Refresh queue", scale=1, elem_id="refresh")
        queue_status = gr.Markdown(elem_id="queue-status")
        table = gr.Dataframe(headers=QUEUE_COLUMNS, interactive=False, elem_id="queue", max_height=280)
        with gr.Row():
            pick = gr.Number(label="Shortlist #", precision=0, scale=1, elem_id="pick-shortlist")
            open_button = gr.Button("Open shortlist", variant="primary", scale=1, elem_id="open-shortlist")
        current, client_state = gr.State(None), gr.State(None)
        status = gr.Markdown(elem_id="review-status")
        with gr.Row():
            with gr.Column(scale=2):
                profile = gr.Markdown(elem_id="profile")
                picture = gr.Image(label="Preference graph", type="pil", interactive=False, elem_id="pref-graph")
            with gr.Column(scale=3):
                request_md = gr.Markdown(elem_id="request")
                with gr.Accordion("Query graph", open=False):
                    query_graph = gr.Code(language="json", elem_id="query-graph")
                shortlist = gr.HTML(elem_id="shortlist")
                feedback = gr.Markdown(elem_id="feedback")
        with gr.Row():
            with gr.Column():
                item, verdict, reason, judge = _verdict_form(
                    "Judge an item", "Item", ("accept", "reject"), "Verdict", "Reason (needed to reject or replace)",
                    "Save judgement", ("fb-item", "fb-verdict", "fb-reason", "fb-save"))
                with gr.Row():
                    new_rank = gr.Number(label="Move to position", value=None, precision=0, minimum=1,
                                         elem_id="fb-rank")
                    reorder = gr.Button("Save new position", elem_id="fb-reorder")
                with gr.Row():
                    replacement = gr.Textbox(label="Replace with catalogue item id", elem_id="fb-replacement")
                    replace = gr.Button("Save replacement", elem_id="fb-replace")
            with gr.Column():
                step, flag, step_reason, flag_button = _verdict_form(
                    "Flag a reasoning step", "Step", ("wrong", "irrelevant"), "The step is", "Why (optional)",
                    "Flag step", ("fb-step", "fb-flag", "fb-step-reason", "fb-flag-save"))
                gr.Markdown("#### Add a client note")
                note = gr.Textbox(label="Note (feeds the client's preference graph)", lines=2, elem_id="fb-note")
                note_button = gr.Button("Add note", elem_id="fb-note-save")

        page.load(on_load, None, [top, client_filter, table, queue_status], api_name=False)
        client_filter.change(on_filter, [client_filter], [table, queue_status], api_name="queue")
        refresh.click(on_filter, [client_filter], [table, queue_status], api_name=False)
        table.select(on_row, [table], [pick], api_name=False)
        open_outputs = [current, profile, picture, request_md, query_graph, shortlist, item, step, feedback,
                        status, client_state]
        open_button.click(on_open, [pick], open_outputs, api_name="open_shortlist")
        pick.submit(on_open, [pick], open_outputs, api_name=False)
        judge.click(on_judge, [current, item, verdict, reason], [feedback, status], api_name="judge_item")
        reorder.click(on_reorder, [current, item, new_rank, reason], [feedback, status], api_name="reorder_item")
        replace.click(on_replace, [current, item, replacement, reason], [feedback, status], api_name="replace_item")
        flag_button.click(on_flag, [current, step, flag, step_reason], [feedback, status], api_name="flag_step")
        note_button.click(on_note, [current, client_state, note], [feedback, note, status], api_name="add_note")
    return page
