"""What people type: stored without bidi controls (issue 16, D12), shown in Markdown as text (D2), and numbers
from forms and JSON read strictly (D7). Pure functions."""

import pytest
from markdown_it import MarkdownIt

from app.handlers_common import MAX_ROW_ID, clean_text, row_id, whole_number
from app.ui_common import md_text
from catalog.errors import ConciergeError


@pytest.mark.parametrize("typed", [
    "[Sign in again](http://evil.example/login) ![p](http://127.0.0.1:9/pixel.png) a red silk scarf",
    "<img src=x onerror=alert(1)> <b>bold</b> &amp; **strong** _em_ `code`",
    "# heading\n- item\n1. item\n> quote\n    indented code\n| a | b |",
    "http://evil.example www.evil.example <http://evil.example> [x]: http://evil.example",
])
def test_markdown_shows_typed_text_as_itself(typed):
    html = MarkdownIt("commonmark").render(md_text(typed))
    assert html.startswith("<p>") and html.count("<p>") == 1  # one plain paragraph
    for tag in ("<a ", "<img", "<b>", "<strong>", "<em>", "<code>", "<h1>", "<li>", "<blockquote>", "<pre>"):
        assert tag not in html, (tag, html)
    text = MarkdownIt("commonmark").renderInline(md_text(typed))
    assert text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&") == \
        " ".join(typed.split())


def test_stored_text_loses_bidi_controls_and_control_characters_only():
    assert clean_text("a \u202escarf\u202c \u2066x\u2069 \u202a\u202b\u202d\x00\x07\x1b z") == "a scarf x  z"
    assert clean_text("line\nnext\ttab é 日本 \u200d") == "line\nnext\ttab é 日本 \u200d"


def test_numbers_from_forms_and_json_are_read_strictly():
    assert [whole_number(v, "x") for v in (3, 3.0, "3", " #3 ", 10**30)] == [3, 3, 3, 3, 10**30]
    for bad in (None, "", "3.5", 3.5, True, False, float("inf"), float("-inf"), float("nan"), [3], {"a": 3},
                "1e3", "9" * 5000):
        with pytest.raises(ConciergeError, match="^choose$"):
            whole_number(bad, "choose")
    assert [row_id(v, "x") for v in (1, MAX_ROW_ID, MAX_ROW_ID + 1, 0, -4, 1e30)] == [1, MAX_ROW_ID, None, None,
                                                                                        None, None]
