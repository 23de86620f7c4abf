"""Table cells are Markdown in st.table: markdown_literal keeps a token or a sentence as itself."""

import re

import pytest

from explorer.drawing.render import markdown_literal

CASES = [
    "- 10.9%",
    "* 8.5%",
    "+ x",
    "1. one",
    "2) two",
    "# heading",
    "> quote",
    "_x_",
    "**b**",
    "`c`",
    "a $x$ b",
    "~~s~~",
    "<|im_end|>",
    "<b>bold</b>",
    "back\\slash",
    "-100 (ignored)",
    "77.3%",
    "[2, 16, 384]",
    "plain",
]


def unescape(text: str) -> str:
    """What CommonMark shows for a backslash escape: the punctuation character alone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


@pytest.mark.parametrize("text", CASES)
def test_markdown_shows_the_text_itself(text):
    assert unescape(markdown_literal(text)) == text


@pytest.mark.parametrize("text", ["- 10.9%", "* 8.5%", "+ x", "# heading", "> quote"])
def test_a_cell_never_starts_a_block(text):
    assert markdown_literal(text).startswith("\\")


@pytest.mark.parametrize("text", ["1. one", "2) two"])
def test_a_number_never_starts_a_numbered_list(text):
    assert re.match(r"^\d+\\[.)]", markdown_literal(text))


@pytest.mark.parametrize("char", list("*`$~<\\"))
def test_every_inline_marker_is_escaped(char):
    escaped = markdown_literal(f"a{char}b{char}c")
    assert escaped == f"a\\{char}b\\{char}c"


def test_an_underscore_is_escaped_where_it_could_emphasise():
    assert markdown_literal("_x_ and *y*") == "\\_x\\_ and \\*y\\*"


@pytest.mark.parametrize(
    "text", ["-100 (ignored)", "77.3%", "[2, 16, 384]", "plain", "from_config", "token_type_ids"]
)
def test_text_that_starts_nothing_is_left_alone(text):
    assert markdown_literal(text) == text


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("[x](https://e.org)", "[x\\](https://e.org)"),  # no link
        ("![i](u.png)", "![i\\](u.png)"),  # no image
        (":red[hi]", ":red\\[hi]"),  # no Streamlit colour
        ("a &amp; b", "a \\&amp; b"),  # the entity's text, not "&"
    ],
)
def test_links_colours_and_entities_stay_text(text, escaped):
    assert markdown_literal(text) == escaped
    assert unescape(escaped) == text
