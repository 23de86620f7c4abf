"""AppTest for the lessons: a step presets its text and page, and explains what the page shows."""

from app_helpers import APP, TIMEOUT
from streamlit.testing.v1 import AppTest

from explorer import ui
from explorer.app.lessons import LESSON


def test_starting_a_step_presets_its_text_settings_and_page():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("pages/lessons.py").run()
    assert not at.exception
    at.button(key="lessons.start.2").click().run()
    assert not at.exception
    assert at.session_state[ui.TEXT_KEY] == LESSON[2].text
    assert at.session_state[ui.LESSON_STEP_KEY] == 2
    assert at.session_state["tok.padding"] == "longest"
    # the browser then opens the step's page (the entry file switches to it; AppTest cannot follow)
    assert at.session_state[ui.LESSON_GOTO_KEY] == "pages/tokenizer.py"


def test_the_step_page_shows_the_explanation_for_what_is_on_screen():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[ui.TEXT_KEY] = LESSON[2].text
    at.session_state[ui.LESSON_STEP_KEY] = 2
    at.switch_page(LESSON[2].page).run()
    assert not at.exception
    banner = "\n".join(m.value for m in at.markdown)
    assert f"Lesson, step 3 of {len(LESSON)}: Padding and the attention mask" in banner
    assert "[2, 16]" in banner and "**8** padding token(s)" in banner
    assert "Tokenizer" in at.title[0].value
    at.button(key="lesson.end").click().run()
    assert ui.LESSON_STEP_KEY not in at.session_state
