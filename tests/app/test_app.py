"""AppTest: the entry file and every page run without exception, for good and bad input."""

import pytest
from app_helpers import DEFAULT_PAGE, PAGES, html_of, messages_of, rerun, start

from explorer import ui
from explorer.pipeline import checkpoints


def test_every_page_runs_without_exception():
    at = start()
    assert not at.exception
    assert PAGES, "no pages found"
    for page in PAGES:
        if page != DEFAULT_PAGE:
            at.switch_page(page).run()
            assert not at.exception, page


def test_home_page_shows_the_default_pipeline():
    """The default checkpoint: the default classifier when `make run` built it (the course's first
    example ends in labelled probabilities), else the bundled encoder (see the test below)."""
    at = start()
    assert not at.exception
    assert at.selectbox(key=ui.PICK_KEY).value == checkpoints.default_ref()
    html = html_of(at)
    assert html.count('data-testid="token-chips"') == 2  # the default text has two sentences
    assert "[CLS]" in html and "1045" in html  # "i" in the MiniLM vocabulary
    assert 'data-testid="batch-grid"' in html
    headers = [h.value for h in at.header]
    assert [h[:1] for h in headers] == ["①", "②", "③", "G"]  # the three steps, then "Go deeper"
    assert "course's first example" in "\n".join(m.value for m in at.markdown)
    if checkpoints.default_ref() == checkpoints.CLASSIFIER:
        assert headers[2] == "③ Postprocessing: logits → softmax → labelled probabilities"
        assert any("[2, 2]" in table.value.to_string() for table in at.table)  # logits [B, labels]
        assert "POSITIVE" in html and "NEGATIVE" in html  # the probability bars
    else:
        assert any("[2, 16, 384]" in table.value.to_string() for table in at.table)


def test_without_the_default_classifier_the_home_page_offers_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))  # nothing built here
    at = start()
    assert not at.exception
    assert at.selectbox(key=ui.PICK_KEY).value == checkpoints.MINILM  # the encoder meanwhile
    assert any("[2, 16, 384]" in table.value.to_string() for table in at.table)
    assert "has not been built here yet" in messages_of(at)
    assert [b.label for b in at.button if b.key == "home.build_default"] == ["Build the default classifier"]


def test_typing_new_text_updates_the_tokens():
    at = start()
    at.text_area(key=ui.TEXT_KEY).input("Transformers are everywhere")
    rerun(at)
    assert not at.exception
    html = html_of(at)
    assert html.count('data-testid="token-chips"') == 1
    assert "transformers" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "The text box is empty"),
        ("   \n\t\n ", "The text box is empty"),
    ],
)
def test_empty_text_gets_a_clear_message(text, expected):
    at = start(text=text)
    assert not at.exception
    assert expected in messages_of(at)


@pytest.mark.parametrize(
    "text",
    [
        "word " * 4_000,  # 20,000 characters
        "😀🎉 emoji\n中文字符\nمرحبا بالعالم\nzero\u200bwidth\x07bell",
        "<script>alert('x')</script>\n<img src=x onerror=alert(1)>",
    ],
)
def test_unusual_text_renders_without_exception(text):
    at = start(text=text)
    assert not at.exception
    assert not at.error
    assert "<script>" not in html_of(at)


def test_long_text_says_how_many_tokens_were_cut():
    at = start(text="word " * 4_000)
    assert "3,490 token(s) were cut" in messages_of(at)


def test_hub_id_while_offline_says_why_and_what_to_pick(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = start(ref=checkpoints.OTHER_HUB.ref)
    at.text_input(key=ui.HUB_ID_KEY).input("openai-community/gpt2-not-cached-here")
    rerun(at)
    assert not at.exception
    assert "cannot reach" in messages_of(at) and "Pick a bundled model" in messages_of(at)
    # the app keeps working: going back to the default model shows tokens again
    at.selectbox(key=ui.PICK_KEY).select(checkpoints.DEFAULT_REF)
    rerun(at)
    assert not at.exception and 'data-testid="token-chips"' in html_of(at)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("../../etc", "folder path"), ("x" * 500, "500 characters"), ("", "Type a Hub model id")],
)
def test_malformed_hub_ids_get_a_clear_message(typed, expected):
    at = start(ref=checkpoints.OTHER_HUB.ref)
    at.text_input(key=ui.HUB_ID_KEY).input(typed)
    rerun(at)
    assert not at.exception
    assert expected in messages_of(at)


def test_folder_that_is_not_a_checkpoint_gets_a_clear_message(tmp_path):
    at = start(ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(tmp_path))
    rerun(at)
    assert not at.exception
    assert "not a checkpoint folder" in messages_of(at)


def test_local_checkpoint_folder_loads(tiny_classifier_dir):
    at = start(ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(tiny_classifier_dir))
    rerun(at)
    assert not at.exception
    assert any("AutoModelForSequenceClassification" in c.value for c in at.caption)
    bars = [html for html in html_of(at).split("<style>") if 'data-testid="probabilities"' in html]
    assert len(bars) == 2  # one per sentence of the default text
    assert all("NEGATIVE" in html and "POSITIVE" in html for html in bars)


def test_bundled_decoder_shows_next_token_probabilities():
    at = start(text="The capital of France is", ref=checkpoints.SMOLLM2)
    assert not at.exception
    assert any("AutoModelForCausalLM" in c.value for c in at.caption)
    bars = [html for html in html_of(at).split("<style>") if 'data-testid="probabilities"' in html]
    cell = bars[0].split('class="tx-label"')[1]
    first_label = cell.split(">", 1)[1].split("<")[0]
    assert first_label == "␣Paris"  # shown, not the raw ĠParis (token_display) ...
    assert 'title="raw piece ĠParis"' in cell.split(">", 1)[0]  # ... which is on hover


def test_checkpoint_choice_survives_a_page_switch():
    at = start(ref=checkpoints.SMOLLM2)
    for page in PAGES:
        if page != DEFAULT_PAGE:
            at.switch_page(page).run()
        else:
            rerun(at)
        assert at.session_state[ui.PICK_KEY] == checkpoints.SMOLLM2
