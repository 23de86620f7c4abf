"""AppTest for the Attention page with an encoder-decoder (T5, BART): the part selector switches
the heatmap between encoder self-attention, decoder self-attention and cross-attention, and the
bertviz view carries the three attentions, offline."""

import json

import numpy as np
import pytest
from app_helpers import APP, TIMEOUT
from streamlit.testing.v1 import AppTest

from tests.families import build_family

ATTENTION = "pages/attention.py"
TEXT = "translate English to German: the cat sat on the mat.\nsummarize: tokens turn into vectors"


@pytest.fixture(scope="module", params=["t5", "bart"])
def ref(request, tmp_path_factory):
    from explorer.pipeline.checkpoints import local_ref

    folder = build_family(request.param, tmp_path_factory.mktemp(f"attention-{request.param}"))
    return local_ref(str(folder))


def _heatmap(at, title: str) -> dict:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    titles = [spec["layout"]["title"]["text"] for spec in specs]
    assert title in titles, titles
    return next(spec for spec in specs if spec["layout"]["title"]["text"] == title)


def _z(value) -> np.ndarray:
    import base64

    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return flat.reshape([int(n) for n in str(value["shape"]).split(",")])
    return np.array(value, dtype=float)


def test_the_part_selector_switches_to_cross_attention(ref):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["text"] = TEXT
    at.query_params["ckpt"] = ref
    at.switch_page(ATTENTION).run()
    assert not at.exception, [e.value for e in at.exception]
    part = at.radio(key="att.part")
    assert part.value == "encoder self-attention"
    assert list(part.options) == ["encoder self-attention", "decoder self-attention", "cross-attention"]
    _heatmap(at, "Encoder layer 1, head 0: self-attention")
    at.radio(key="att.part").set_value("cross-attention").run()
    at.selectbox(key="att.layer").select(2).run()
    assert not at.exception, [e.value for e in at.exception]
    spec = _heatmap(at, "Decoder layer 2, head 0: cross-attention")
    z = _z(spec["data"][0]["z"])  # [T decoder tokens, S encoder positions]
    assert len(spec["data"][0]["y"]) == z.shape[0] and len(spec["data"][0]["x"]) == z.shape[1]
    np.testing.assert_allclose(np.nansum(z, axis=1), 1.0, atol=2e-3)
    shown = "\n".join(m.value for m in at.markdown)
    assert "**Cross-attention**: rows are the decoder's tokens" in shown
    assert not any("the same" in m.value for m in at.success)  # step by step: not computed until opened
    at.toggle(key="att.steps").set_value(True).run()
    assert any("the same" in m.value for m in at.success)  # cross-attention step by step
    page = at.get("iframe")[0].proto.srcdoc
    assert '"name":"Cross"' in page and "cdnjs" not in page and "window.d3" in page
    at.radio(key="att.part").set_value("decoder self-attention").run()
    assert not at.exception
    z = _z(_heatmap(at, "Decoder layer 2, head 0: self-attention")["data"][0]["z"])
    assert np.isnan(z[np.triu_indices(z.shape[0], 1)]).all()  # the causal mask


def test_a_link_opens_the_cross_attention(ref):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["text"] = TEXT
    at.query_params["ckpt"] = ref
    at.query_params["part"] = "cross-attention"
    at.query_params["layer"] = "2"
    at.query_params["head"] = "1"
    at.switch_page(ATTENTION).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="att.part").value == "cross-attention"
    _heatmap(at, "Decoder layer 2, head 1: cross-attention")
    assert "Cross-attention (decoder layers 1 … 2)" in [h.value for h in at.header]
