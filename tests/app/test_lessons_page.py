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


def test_a_lesson_keeps_the_students_text_and_gives_it_back():
    import numpy as np

    from explorer.pipeline import checkpoints
    from explorer.pipeline.encoding import encode_batch
    from explorer.pipeline.loading import load_checkpoint
    from explorer.pipeline.run import run_model
    from explorer.views import attention
    from explorer.views.settings import state_key

    own, ref = "My own sentence, typed before the lesson.", checkpoints.SMOLLM2
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[ui.TEXT_KEY] = own
    at.session_state[ui.PICK_KEY] = ref
    at.switch_page("pages/lessons.py").run()
    at.button(key="lessons.start.2").click().run()
    assert at.session_state[ui.TEXT_KEY] == LESSON[2].text
    index = next(i for i, s in enumerate(LESSON) if s.title == "Attention")
    at.button(key=f"lessons.start.{index}").click().run()  # a later step keeps the first one's copy
    assert not at.exception
    assert at.session_state[ui.LESSON_KEPT_KEY] == (own, ref)
    # The step opens the head its explanation names, computed here from MiniLM's attentions.
    step = LESSON[index]
    loaded = load_checkpoint(checkpoints.resolve(step.ref))
    run = run_model(loaded, encode_batch(loaded.batch_tokenizer, [step.text]), attentions=True)
    tokens = loaded.batch_tokenizer.convert_ids_to_tokens(loaded.batch_tokenizer(step.text)["input_ids"])
    weights = run.attentions[:, 0, :, tokens.index("it"), tokens.index("animal")]  # [L, H]
    layer, head = np.unravel_index(int(weights.argmax()), weights.shape)
    assert at.session_state[state_key(attention.Settings, "layer", step.ref)] == layer + 1
    assert at.session_state[state_key(attention.Settings, "head", step.ref)] == head

    # On the step's page (AppTest cannot follow the switch: a new session with the same state).
    page = AppTest.from_file(APP, default_timeout=TIMEOUT)
    opened = [state_key(attention.Settings, name, step.ref) for name in ("layer", "head")]
    for key in (ui.TEXT_KEY, ui.PICK_KEY, ui.LESSON_STEP_KEY, ui.LESSON_KEPT_KEY, *opened):
        page.session_state[key] = at.session_state[key]
    page.switch_page(step.page).run()
    assert not page.exception
    banner = "\n".join(m.value for m in page.markdown)
    assert f"On layer {layer + 1}, head {head}" in banner
    assert f"**layer {layer + 1}, head {head}**" in banner and "the page shows it." in banner
    assert "Gives back the text and checkpoint" in page.button(key="lesson.end").help
    page.button(key="lesson.end").click().run()
    assert page.session_state[ui.TEXT_KEY] == own and page.session_state[ui.PICK_KEY] == ref
    assert ui.LESSON_STEP_KEY not in page.session_state and ui.LESSON_KEPT_KEY not in page.session_state


def test_the_why_step_opens_on_the_models_answer_and_says_it_is_wrong():
    import torch

    from explorer.pipeline import checkpoints
    from explorer.pipeline.loading import load_checkpoint
    from explorer.views.settings import presets

    index = next(i for i, s in enumerate(LESSON) if s.title == "Why this prediction?")
    step = LESSON[index]
    loaded = load_checkpoint(checkpoints.resolve(step.ref))
    with torch.no_grad():
        logits = loaded.model(**loaded.tokenizer(step.text, return_tensors="pt")).logits[0]
    p = torch.softmax(logits.double(), -1).numpy()
    labels = [loaded.config.id2label[i] for i in range(len(p))]
    said = labels[int(p.argmax())]
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in {
        ui.TEXT_KEY: step.text,
        ui.PICK_KEY: step.ref,
        ui.LESSON_STEP_KEY: index,
        **presets(step.settings, step.ref),
    }.items():
        at.session_state[key] = value
    at.switch_page(step.page).run()
    assert not at.exception
    picker = at.selectbox(key="cls.attr_target")
    assert picker.value == said and sorted(picker.options) == sorted(labels)  # names only: never stale
    captions = "\n".join(c.value for c in at.caption)
    assert "For this text: " + " · ".join(f"{labels[i]} {p[i]:.1%}" for i in p.argsort()[::-1]) in captions
    banner = "\n".join(m.value for m in at.markdown)
    assert f"the model says **{said}** ({p.max():.1%}): **it is wrong here**. Why does it fail?" in banner
    assert "Turn on" not in banner
    assert f"Explaining the label **{said}**" in banner
