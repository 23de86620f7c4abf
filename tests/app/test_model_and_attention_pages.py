"""AppTest for the model and attention pages: what they show comes from the model's run."""

import base64
import json

import numpy as np
from app_helpers import APP, TIMEOUT, messages_of, start
from streamlit.testing.v1 import AppTest

from explorer.pipeline import checkpoints

MODEL = "pages/model.py"
ATTENTION = "pages/attention.py"


def open_page(page: str, text: str | None = None, ref: str | None = None):
    at = start(text=text, ref=ref)
    at.switch_page(page).run()
    assert not at.exception
    return at


def plotly_specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(value) -> np.ndarray:
    """Plotly sends arrays as base64 typed arrays ({"dtype", "bdata", "shape"}) or as lists."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.array(value, dtype=float)


def test_model_page_shows_config_hidden_states_and_heads():
    at = open_page(MODEL, ref=checkpoints.MINILM)  # the encoder (the default classifier once built)
    tables = "\n".join(t.value.to_string() for t in at.table)
    assert "BertModel" in tables and "learned absolute embeddings" in tables
    assert tables.count("[2, 16, 384]") >= 7 + 1  # 7 hidden states + AutoModel's output
    assert "[2, 16, 30522]" in tables  # what an LM head would return
    assert len(plotly_specs(at)) == 2


def test_attention_page_draws_the_chosen_head():
    at = open_page(ATTENTION)
    at.selectbox(key="att.layer").select(3)
    at.selectbox(key="att.head").select(5)
    at.run()
    assert not at.exception
    assert not at.success  # step by step is not computed until opened
    at.toggle(key="att.steps").set_value(True).run()
    titles = [spec["layout"]["title"]["text"] for spec in plotly_specs(at)]
    assert "Layer 3, head 5" in titles
    heatmap = next(spec for spec in plotly_specs(at) if spec["layout"]["title"]["text"] == "Layer 3, head 5")
    z = array(heatmap["data"][0]["z"])
    assert z.shape == (16, 16)
    np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-3)  # one row per token, rows sum to 1
    assert "the same" in "\n".join(s.value for s in at.success)


def test_bertviz_view_is_inlined():
    at = open_page(ATTENTION)
    page = at.get("iframe")[0].proto.srcdoc
    assert "window.d3" in page and "PYTHON_PARAMS" not in page and "cdnjs" not in page
    at.radio(key="att.bertviz").set_value("model view").run()
    assert not at.exception and "model_view" not in at.get("iframe")[0].proto.srcdoc[:100]
    at.radio(key="att.bertviz").set_value("off").run()
    assert not at.exception and len(at.get("iframe")) == 0


def test_decoder_shows_the_causal_mask():
    at = open_page(ATTENTION, text="The capital of France is", ref=checkpoints.SMOLLM2)
    assert "causal mask" in messages_of(at)
    heatmap = plotly_specs(at)[0]
    z = array(heatmap["data"][0]["z"])
    assert np.isnan(z[0, 1])  # the first token cannot see the second
    assert np.isnan(z[np.triu_indices(z.shape[0], 1)]).all()
    assert not any("rotary" in m.value for m in at.markdown)  # the position section: not opened yet
    at.toggle(key="att.position").set_value(True).run()
    assert not at.exception and any("rotary" in m.value for m in at.markdown)


def test_a_long_input_draws_every_token_and_says_which_lines_are_left_out():
    at = open_page(ATTENTION, text="word " * 600)  # cut to the model's 512 positions
    assert not at.exception
    assert "too many to draw" not in messages_of(at)  # no token window
    caption = at.caption[-1].value
    assert "Lines for weights below 0.02 are left out" in caption and "weights drawn" in caption
    page = at.get("iframe")[0].proto.srcdoc
    assert len(page.encode()) < 2_500_000  # the libraries (~0.4 MB) and the visible weights
    at.radio(key="att.bertviz").set_value("model view").run()
    assert "up to 64 tokens" in messages_of(at) and not at.get("iframe")
    at.toggle(key="att.steps").set_value(True).run()
    assert "first 48" in "\n".join(c.value for c in at.caption)


def _titles(at) -> list[str]:
    return [spec["layout"]["title"]["text"] for spec in plotly_specs(at)]


def test_a_link_opens_step_by_step_and_position():
    at = start()
    at.switch_page(ATTENTION).run()
    assert not at.success and at.query_params["steps"] == "0"  # closed: not computed
    assert not any(t.startswith("Sinusoidal encoding") for t in _titles(at))
    at.toggle(key="att.steps").set_value(True).run()
    at.toggle(key="att.position").set_value(True).run()
    assert at.query_params["steps"] == "1" and at.query_params["position"] == "1"
    linked = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for name, value in at.query_params.items():
        linked.query_params[name] = value
    linked.switch_page(ATTENTION).run()
    assert not linked.exception and linked.toggle(key="att.steps").value
    assert any("the same" in s.value for s in linked.success)  # the link opened step by step
    assert any(t.startswith("Sinusoidal encoding") for t in _titles(linked))  # and the position section


def test_a_one_layer_bertviz_view_follows_the_chosen_layer(monkeypatch):
    """When bertviz can show one layer only, choosing a layer redraws it too (the page reruns whole)."""
    import functools

    from explorer.drawing import bertviz_html
    from explorer.views import attention

    monkeypatch.setattr(attention, "plan_view", functools.partial(bertviz_html.plan_view, budget=3_000))
    at = open_page(ATTENTION)
    assert "shows layer 1 only" in messages_of(at)
    at.selectbox(key="att.layer").select(3).run()
    assert not at.exception and "shows layer 3 only" in messages_of(at)
    page = at.get("iframe")[0].proto.srcdoc
    assert '"include_layers":[3]' in page and at.session_state["att.bertviz_drawn_layer"] == 3
