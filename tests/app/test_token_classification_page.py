"""The Pipeline page on a token classifier (a tiny BERT NER folder): step ③ shows each token's
label, the entities with the strategy chosen, and the check against transformers' pipeline."""

from pathlib import Path

import pytest
from app_helpers import APP, TIMEOUT, html_of, messages_of
from streamlit.testing.v1 import AppTest

from tests.unit.test_token_classification import BUILDERS, NER


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> str:
    from explorer.pipeline.checkpoints import local_ref

    folder: Path = BUILDERS["bert"](tmp_path_factory.mktemp("page-ner"), NER, 41)
    return local_ref(str(folder))


def test_the_pipeline_page_shows_entities_and_the_check(ref):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["text"] = (
        "My name is Sylvain and I work at Hugging Face in Brooklyn.\n<script>alert(1)</script>"
    )
    at.query_params["ckpt"] = ref
    at.switch_page("pages/pipeline.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = html_of(at)
    assert 'data-testid="ner-chips"' in shown and 'data-testid="ner-highlight"' in shown
    assert "<script>alert" not in shown
    assert "no task head" not in messages_of(at)
    assert any('aggregation_strategy="first"' in s.value and "the same" in s.value for s in at.success)

    radio = next(r for r in at.radio if r.label == "Aggregation strategy")
    radio.set_value("simple").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any('aggregation_strategy="simple"' in s.value and "the same" in s.value for s in at.success)
