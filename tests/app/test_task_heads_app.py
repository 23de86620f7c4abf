"""AppTest: every page opens, without an exception, on checkpoints with the course's other heads
opened as "A local folder" (tests/families.py TASK_HEADS). Three representative families keep it
fast: a multiple-choice head (its input has a choices axis), a question-answering head (two
outputs) and a decoder used as a classifier; tests/views/test_task_heads_pages.py builds every
page's View for all thirteen."""

import pytest
from app_helpers import DEFAULT_PAGE, PAGES, messages_of, rerun, start

from explorer import ui
from explorer.pipeline import checkpoints
from tests.families import build_family, family

SHOWN = ("bert-mc", "roberta-qa", "llama-cls")


@pytest.mark.parametrize("name", SHOWN)
def test_every_page_opens_on_a_task_head(name, tmp_path):
    folder = build_family(name, tmp_path / name)
    at = start(ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(folder))
    rerun(at)
    assert not at.exception, at.exception
    assert "no task head" not in messages_of(at)
    for page in PAGES:
        if page != DEFAULT_PAGE:
            at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.session_state[ui.PICK_KEY] == checkpoints.LOCAL_FOLDER.ref, page
        if page == "pages/model.py":  # the page is about this checkpoint and its head
            shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
            assert f"`{family(name).architecture}`" in shown and f"`{family(name).head}`" in shown
