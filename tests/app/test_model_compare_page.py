"""AppTest for Inside the model's comparisons: the attention mask's effect, two configs of one
class, and random weights (built on every run for MiniLM, behind a button for SmolLM2)."""

from app_helpers import start

from explorer import checkpoints

MODEL = "pages/model.py"


def open_page(ref: str | None = None):
    at = start(ref=ref)
    at.switch_page(MODEL).run()
    assert not at.exception
    return at


def test_mask_effect_and_architecture_on_the_default_encoder():
    at = open_page(checkpoints.MINILM)
    headers = [h.value for h in at.header]
    assert "The attention mask's effect" in headers and "Architecture versus checkpoint" in headers
    successes = "\n".join(s.value for s in at.success)
    warnings = "\n".join(w.value for w in at.warning)
    assert "(b) with the mask" in successes and "the same numbers" in successes
    assert "(c) without the mask" in warnings
    tables = "\n".join(t.value.to_string() for t in at.table)
    assert "BertConfig() defaults (the size of bert-base)" in tables and "109,482,240" in tables
    assert "22,713,216" in tables  # MiniLM's parameters
    assert "cosine similarity" in tables and "random weights (from_config, seed 0)" in tables
    assert not [b for b in at.button if b.key == "model.random.go"]  # built without asking


def test_the_decoder_builds_its_random_copy_on_request():
    at = open_page(checkpoints.SMOLLM2)
    infos = "\n".join(i.value for i in at.info)
    assert "built only on request" in infos
    assert [b for b in at.button if b.key == "model.random.go"]
    tables = "\n".join(t.value.to_string() for t in at.table)
    assert "LlamaConfig() defaults" in tables and "random weights" not in tables
