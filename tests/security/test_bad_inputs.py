"""The reliability and security catalogue: each bad input gets a clear message, nothing is
executed that should not be, and the app keeps working afterwards (explorer functions and pages).
What the app promises here is stated in the README ("Limits and promises")."""

import json
import pickle
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from app_helpers import html_of, messages_of, rerun, start  # noqa: E402

from explorer import ui
from explorer.drawing.render import batch_grid_html, token_chips_html  # noqa: E402
from explorer.errors import CheckpointError, ExplorerError, InputError  # noqa: E402
from explorer.pipeline import checkpoints
from explorer.pipeline.checkpoints import hub_ref, local_ref, resolve  # noqa: E402
from explorer.pipeline.encoding import encode_batch, split_sentences  # noqa: E402
from explorer.pipeline.loading import load_checkpoint  # noqa: E402

TEXTS = {
    "empty": "",
    "whitespace": " \t\n   \n",
    "100,000 characters": "lorem ipsum " * 8_334,
    "emoji": "😀🎉👩‍👩‍👧 🇫🇷",
    "CJK": "変換器は注意機構を使う。你好世界",
    "RTL": "مرحبا بالعالم שלום עולם",
    "zero-width": "zero\u200bwidth\u200c\u200djoiner\ufeff",
    "control": "bell\x07 null\x00 escape\x1b[31m",
    "script": "<script>alert('x')</script>",
    "img onerror": '<img src=x onerror="alert(1)">',
    "closing tags": "</textarea></style></script><b>bold</b>",
}
PAGES = [
    "pages/pipeline.py",
    "pages/tokenizer.py",
    "pages/model.py",
    "pages/attention.py",
    "pages/generation.py",
]


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_text_gives_tokens_or_a_clear_message(name, tiny_bert, tiny_gpt):
    text = TEXTS[name]
    try:
        sentences = split_sentences(text)
    except InputError as problem:
        assert name in ("empty", "whitespace") and "empty" in str(problem)
        return
    for loaded in (tiny_bert, tiny_gpt):
        encoding = encode_batch(loaded.batch_tokenizer, sentences.sentences, max_length=loaded.max_tokens)
        assert encoding.shape[1] <= loaded.max_tokens
        for html in (token_chips_html(encoding, 0), batch_grid_html(encoding)):
            assert "<script" not in html and "<img" not in html and "</textarea>" not in html


@pytest.mark.parametrize(
    "name", ["empty", "100,000 characters", "script", "img onerror", "closing tags", "RTL", "control"]
)
@pytest.mark.parametrize("page", PAGES)
def test_pages_show_a_message_or_the_text_literally_and_keep_working(page, name):
    at = start(text=TEXTS[name])
    at.switch_page(page).run()
    assert not at.exception, (page, name)
    if name == "empty":
        assert "The text box is empty" in messages_of(at)
    for html in html_of(at).split("<style>"):
        assert "<script" not in html and "<img" not in html
    at.session_state[ui.TEXT_KEY] = "Back to normal"  # the app keeps working afterwards
    at.run()
    assert not at.exception


@pytest.mark.parametrize(
    "model_id",
    [
        "../../etc",
        "/etc/passwd",
        "https://huggingface.co/gpt2",
        "x" * 500,
        "a/b/c",
        "bert base",
        "<script>",
        "gpt2\x00",
    ],
)
def test_malformed_hub_ids_are_refused(model_id):
    with pytest.raises(CheckpointError):
        hub_ref(model_id)


def test_unknown_hub_id_offline_is_refused_quickly(monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError, match="cannot reach"):
        load_checkpoint(resolve("hub:no-such-org/no-such-model"))


def test_folders_that_are_not_checkpoints(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "bad-config").mkdir()
    (tmp_path / "bad-config" / "config.json").write_text("{ this is not json")
    for path, says in (
        (tmp_path / "missing", "no folder"),
        (tmp_path / "empty", "no config.json"),
        (tmp_path / "file.txt", "is a file"),
    ):
        with pytest.raises(CheckpointError, match=says):
            local_ref(str(path))
    with pytest.raises(CheckpointError, match="Could not load"):
        load_checkpoint(resolve(local_ref(str(tmp_path / "bad-config"))))


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pickle code ran"))


def test_pickle_weights_never_run_code(tmp_path, tiny_bert_dir):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_text((tiny_bert_dir / name).read_text())
    marker = tmp_path / "ran.txt"
    with open(folder / "pytorch_model.bin", "wb") as out:
        pickle.dump({"bert.embeddings.word_embeddings.weight": _Exploit(marker)}, out)
    with pytest.raises(CheckpointError):
        load_checkpoint(resolve(local_ref(str(folder))))
    assert not marker.exists()


def test_remote_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran.txt"
    (tmp_path / "config.json").write_text(
        json.dumps(
            {"model_type": "evil", "auto_map": {"AutoConfig": "evil.Config", "AutoModel": "evil.Model"}}
        )
    )
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(CheckpointError, match="trust_remote_code"):
        load_checkpoint(resolve(local_ref(str(tmp_path))))
    assert not marker.exists()


def test_tokenizer_without_pad_token_and_pairs_without_type_ids(tiny_gpt):
    assert tiny_gpt.tokenizer.pad_token is None
    encoding = encode_batch(tiny_gpt.batch_tokenizer, ["a question", "another"], ["an answer", "and more"])
    assert encoding.token_type_ids is None and encoding.shape[0] == 2


def test_max_length_above_the_model_limit_is_flagged_on_the_page():
    at = start()
    at.switch_page("pages/tokenizer.py").run()
    at.number_input(key=f"tok.max_length.{checkpoints.default_ref()}").set_value(4096).run()
    assert not at.exception
    assert "above this model's limit of 512 tokens" in messages_of(at)


def test_a_checkpoint_error_leaves_the_app_usable(tmp_path):
    at = start(ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(tmp_path))
    rerun(at)
    assert "not a checkpoint folder" in messages_of(at)
    at.selectbox(key=ui.PICK_KEY).select(checkpoints.DEFAULT_REF)
    rerun(at)
    assert not at.exception and 'data-testid="token-chips"' in html_of(at)


def test_every_error_is_an_explorer_error_with_a_sentence():
    for error in (CheckpointError("x"), InputError("y")):
        assert isinstance(error, ExplorerError)


def test_a_symbolic_link_loop_is_called_one(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for path in (tmp_path / "a", tmp_path / "a" / "checkpoint"):
        with pytest.raises(CheckpointError, match="is a symbolic link loop") as refused:
            local_ref(str(path))
        assert not str(refused.value).startswith("There is no folder")  # what it said before
        assert "real path" in str(refused.value)


@pytest.mark.parametrize("kept", [0.5, 100, 7])
def test_truncated_weights_are_called_incomplete_and_named(tmp_path, tiny_bert_dir, kept):
    """A copy or download cut short: the file is named, with what to do (not the safetensors error)."""
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_bert_dir / name).read_bytes())
    weights = (tiny_bert_dir / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(weights[: int(len(weights) * kept) if kept < 1 else kept])
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(resolve(local_ref(str(tmp_path))))
    message = str(refused.value)
    assert "The weights file model.safetensors of" in message and "is incomplete or damaged" in message
    assert "Copy or download it again" in message and "header" not in message


def test_a_truncated_torch_weights_file_is_named(tmp_path, tiny_bert_dir):
    import torch

    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_bert_dir / name).read_bytes())
    torch.save({"bert.pooler.dense.bias": torch.zeros(1000)}, tmp_path / "pytorch_model.bin")
    whole = (tmp_path / "pytorch_model.bin").read_bytes()
    (tmp_path / "pytorch_model.bin").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        CheckpointError, match="The weights file pytorch_model.bin of .* is incomplete or damaged"
    ):
        load_checkpoint(resolve(local_ref(str(tmp_path))))
