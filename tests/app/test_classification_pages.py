"""AppTest for the Classification and Save-and-load pages."""

from app_helpers import html_of, messages_of, rerun, start

from explorer import ui
from explorer.pipeline import checkpoints

CLASSIFICATION = "pages/classification.py"
SAVE_LOAD = "pages/save_load.py"


def open_page(page, ref=None, text=None):
    at = start(text=text, ref=ref)
    at.switch_page(page).run()
    assert not at.exception
    return at


def test_encoder_without_a_head_says_so():
    at = open_page(CLASSIFICATION, ref=checkpoints.MINILM)  # the default is the classifier once built
    assert "has no classification head" in messages_of(at)
    assert "last_hidden_state [2, 16, 384]" in messages_of(at)


def test_classifier_shows_three_steps_and_matches_pipeline(tiny_classifier_dir):
    at = start(ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(tiny_classifier_dir))
    rerun(at)
    at.switch_page(CLASSIFICATION).run()
    assert not at.exception
    assert [h.value for h in at.subheader][:3] == ["① Preprocessing", "② Model", "③ Postprocessing"]
    assert html_of(at).count('data-testid="probabilities"') == 2
    assert "gives the same labels" in "\n".join(s.value for s in at.success)


def test_bad_upload_gets_a_clear_message_and_the_page_keeps_working():
    at = open_page(CLASSIFICATION)
    at.radio(key="cls.source").set_value("Upload a CSV").run()
    at.get("file_uploader")[0].set_value(("bad.csv", b"review,stars\nnice,5\n", "text/csv")).run()
    assert not at.exception
    assert "needs a 'text' column" in messages_of(at)
    at.get("file_uploader")[0].set_value(
        ("latin.csv", "text,label\ncaf\xe9,1\n".encode("latin-1"), "text/csv")
    ).run()
    assert not at.exception and "not UTF-8" in messages_of(at)


def test_bundled_data_is_described():
    at = open_page(CLASSIFICATION)
    assert any("**530** training sentences" in m.value for m in at.markdown)


def test_save_and_load_round_trip(tmp_path, monkeypatch, tiny_bert_dir):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    at = start(ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(tiny_bert_dir))
    rerun(at)
    at.switch_page(SAVE_LOAD).run()
    at.text_input(key=f"save.name.{at.session_state[ui.SELECTION_KEY].ref}").input("tiny-copy")
    at.button(key="save.go").click().run()
    assert not at.exception
    assert (tmp_path / "checkpoints" / "tiny-copy" / "model.safetensors").is_file()
    assert "identical" in "\n".join(s.value for s in at.success)
    tables = "\n".join(t.value.to_string() for t in at.table)
    assert "model.safetensors" in tables and "config.json" in tables
    at.text_input(key=f"save.name.{at.session_state[ui.SELECTION_KEY].ref}").input("Bad Name!")
    at.button(key="save.go").click().run()
    assert not at.exception and "Name the checkpoint" in messages_of(at)
