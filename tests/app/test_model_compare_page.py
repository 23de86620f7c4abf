"""AppTest for Inside the model's comparisons: the attention mask's effect, two configs of one
class, and random weights. The two comparisons that cost forward passes run only when opened (their
toggle, or a shared link that opened them)."""

from app_helpers import APP, TIMEOUT
from streamlit.testing.v1 import AppTest

from explorer.pipeline import checkpoints

MODEL = "pages/model.py"


def open_page(ref: str, **query: str):
    """Like a browser opening a link to the page (the share box then follows this page)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["ckpt"] = ref
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(MODEL).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _tables(at) -> str:
    return "\n".join(t.value.to_string() for t in at.table)


def _shows_both_comparisons(at) -> None:
    successes = "\n".join(s.value for s in at.success)
    warnings = "\n".join(w.value for w in at.warning)
    assert "(b) with the mask" in successes and "the same numbers" in successes
    assert "(c) without the mask" in warnings
    tables = _tables(at)
    assert "cosine similarity" in tables and "random weights (from_config, seed 0)" in tables


def test_the_comparisons_wait_for_their_toggles_on_the_default_encoder():
    at = open_page(checkpoints.MINILM)
    headers = [h.value for h in at.header]
    assert "The attention mask's effect" in headers and "Architecture versus checkpoint" in headers
    tables = _tables(at)
    assert "BertConfig() defaults (the size of bert-base)" in tables and "109,482,240" in tables
    assert "22,713,216" in tables  # MiniLM's parameters
    assert "(b) with the mask" not in "\n".join(s.value for s in at.success)
    assert "random weights (from_config" not in tables
    assert "three more forward passes" in "\n".join(c.value for c in at.caption)
    assert "on request" in "\n".join(i.value for i in at.info)
    at.toggle(key="model.mask").set_value(True).run()
    at.toggle(key="model.random").set_value(True).run()
    assert not at.exception
    _shows_both_comparisons(at)


def test_a_shared_link_opens_both_comparisons():
    at = open_page(checkpoints.MINILM, mask="1", random="1")
    assert at.toggle(key="model.mask").value and at.toggle(key="model.random").value
    _shows_both_comparisons(at)
    share = "\n".join(c.value for c in at.sidebar.get("code"))  # the share box's link keeps them open
    assert "mask=1" in share and "random=1" in share


def test_the_decoder_builds_its_random_copy_on_request():
    at = open_page(checkpoints.SMOLLM2)
    infos = "\n".join(i.value for i in at.info)
    assert "built only on request" in infos and "MB more memory" in infos
    assert not at.toggle(key="model.random").value
    tables = _tables(at)
    assert "LlamaConfig() defaults" in tables and "random weights" not in tables
