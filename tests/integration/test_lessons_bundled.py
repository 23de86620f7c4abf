import re

import pytest

from explorer.app import lessons
from explorer.app.lessons import LESSON, Facts
from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.run import run_model

pytestmark = pytest.mark.bundled


def test_attention_step_names_the_head_where_it_looks_most_at_animal():
    loaded = load_checkpoint(checkpoints.resolve(checkpoints.MINILM))
    step = next(s for s in LESSON if s.title == "Attention")
    encoding = encode_batch(loaded.batch_tokenizer, [step.text])
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    text = lessons.explain_attention(Facts(loaded=loaded, encoding=encoding, run=run))
    layer, head = (int(x) for x in re.search(r"layer (\d+), head (\d+)\*\*", text).groups())
    tokens = encoding.tokens[0]
    it, animal = tokens.index("it"), tokens.index("animal")
    weights = run.attentions[:, 0, :, it, animal]  # [L, H]: layers are numbered from 1
    assert 1 <= layer <= run.attentions.shape[0]
    assert weights[layer - 1, head] == weights.max()
    assert f"({weights.max():.0%})" in text
    assert step.settings.layer == 1 and step.settings.head == 0
    opened = run.attentions[0, 0, 0, it]  # the page opens on layer 1, head 0: attentions[0]
    assert "On layer 1, head 0" in text
    assert f"looks most at `{tokens[int(opened.argmax())]}`" in text
    assert "layer 0" not in text.lower()
