"""Every page opens a T5 and a BART folder (written by save_pretrained, loaded by the app's loader)
without a traceback: the page runs, shows no exception, and says it is an encoder-decoder where a
view shows only the encoder or does not apply."""

import pytest
from app_helpers import APP, PAGES, TIMEOUT, messages_of
from streamlit.testing.v1 import AppTest

from tests.families import build_family

TEXT = "translate English to German: the cat sat on the mat.\nsummarize: tokens turn into vectors"


@pytest.fixture(scope="module", params=["t5", "bart"])
def ref(request, tmp_path_factory):
    from explorer.pipeline.checkpoints import local_ref

    folder = build_family(request.param, tmp_path_factory.mktemp(f"pages-{request.param}"))
    return local_ref(str(folder))


@pytest.mark.parametrize("page", [p for p in PAGES if p != "pages/lessons.py"])
def test_each_page_opens_an_encoder_decoder_without_a_traceback(ref, page):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["text"] = TEXT
    at.query_params["ckpt"] = ref
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = messages_of(at) + "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)
    assert "Traceback" not in shown
    assert "does not explain encoder-decoders" not in shown
    assert not at.error, [e.value for e in at.error]


def test_the_home_page_shows_what_the_decoder_wrote_and_offers_the_t5_prefixes(ref):
    from explorer import ui
    from explorer.views.pipeline import T5_PREFIXES

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["text"] = "Hello world"
    at.query_params["ckpt"] = ref
    at.switch_page("pages/pipeline.py").run()
    assert not at.exception
    assert any("what the decoder generated" in h.value for h in at.subheader)
    assert any("decoder_start_token_id" in m.value for m in at.markdown)
    at.button(key="home.t5_examples").click().run()
    assert not at.exception
    assert at.session_state[ui.TEXT_KEY] == "\n".join(T5_PREFIXES)
