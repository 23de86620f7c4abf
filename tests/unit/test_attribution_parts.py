"""The pure parts of 'Why this prediction?': the chips (array -> HTML), attention rollout, the step
cap, the word grouping and the length cap."""

from __future__ import annotations

import re

import numpy as np
import pytest

from explorer.errors import InputError
from explorer.explain import attribution as at
from explorer.views import attribution as view


def _backgrounds(html: str) -> list[str]:
    return re.findall(r"background:(rgb\([^)]*\))", html)


def test_chips_are_diverging_and_escaped():
    html = view.chips_html(["<script>alert(1)</script>", "up", "down", "zero", "[PAD]"], [0.5, 2.0, -2.0, 0.0, 0.0],
                           none=[False, False, False, False, True])  # fmt: skip
    assert "<script>" not in html and "&lt;script&gt;" in html
    colours = _backgrounds(html)
    assert len(colours) == 4  # padding is drawn without a colour
    assert colours[1] == "rgb({},{},{})".format(*view.POSITIVE_RGB)  # the largest positive: full purple
    assert colours[2] == "rgb({},{},{})".format(*view.NEGATIVE_RGB)  # the largest negative: full orange
    assert colours[3] == "rgb(255,255,255)"
    half = [round(255 + (c - 255) * 0.25) for c in view.POSITIVE_RGB]  # 0.5 of the largest |value| 2.0
    assert colours[0] == "rgb({},{},{})".format(*half)
    assert 'title="position 2 · down · -2.0000"' in html
    assert "at-none" in html


def test_chips_of_all_zeros_are_white():
    assert set(_backgrounds(view.chips_html(["a", "b"], [0.0, 0.0]))) == {"rgb(255,255,255)"}


def test_rollout_by_hand():
    # Two layers, one head, two tokens.
    first = np.array([[[1.0, 0.0], [0.5, 0.5]]])
    second = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    a1 = 0.5 * first[0] + 0.5 * np.eye(2)
    a2 = 0.5 * second[0] + 0.5 * np.eye(2)
    a1 /= a1.sum(-1, keepdims=True)
    a2 /= a2.sum(-1, keepdims=True)
    expected = (a2 @ a1)[0]
    assert np.allclose(at.rollout(np.stack([first, second]), 0), expected)
    assert at.rollout(np.stack([first, second]), 1).sum() == pytest.approx(1.0)


def test_step_cap_keeps_steps_times_tokens_in_budget():
    assert at.step_cap(10) == at.MAX_STEPS
    for tokens in (16, 64, 128):
        cap = at.step_cap(tokens)
        assert cap * tokens <= max(at.STEP_BUDGET, at.FIRST_STEPS * tokens) and cap >= at.FIRST_STEPS
        assert cap & (cap - 1) == 0  # a power of two: the doubling ends on it


def test_spearman():
    assert view._spearman(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])) == pytest.approx(1.0)
    assert view._spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    assert np.isnan(view._spearman(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])))


def test_words_and_the_length_cap(tiny_classifier):
    from explorer.pipeline.encoding import encode_batch

    loaded = tiny_classifier
    encoding = at.row(encode_batch(loaded.batch_tokenizer, ["hello world.", "a b c d e"]), 0)
    index, groups = at.words(encoding, loaded.batch_tokenizer)
    assert len(groups) == 2  # "hello", "world." (no space before the full stop)
    special = encoding.special_tokens_mask[0] == 1
    assert all(index[s] == -1 for s in range(encoding.shape[1]) if special[s])
    long = at.row(encode_batch(loaded.batch_tokenizer, ["word " * (at.MAX_TOKENS + 5)], max_length=512), 0)
    with pytest.raises(InputError, match=f"at most {at.MAX_TOKENS} tokens"):
        at.check_length(long)


def test_bad_input_is_text_not_markup(tiny_classifier):
    from explorer.pipeline.encoding import encode_batch
    from explorer.views import classification

    loaded = tiny_classifier
    sentence = "<script>alert(1)</script> 😀 日本語 שלום <b>bold</b>"
    encoding = at.row(encode_batch(loaded.batch_tokenizer, [sentence], max_length=loaded.max_tokens), 0)
    target = at.classifier_target(loaded, encoding, None)
    result = at.compute(loaded, encoding, target)
    shown = view.build(result, classification.Settings(attr_show=True))
    for row in shown.rows:
        assert "<script>" not in row.html and "<b>" not in row.html
    assert "<script>" not in shown.explained.text and "&lt;script&gt;" in shown.explained.text
    assert np.all(np.isfinite(result.integrated_gradients))


def test_the_page_says_when_completeness_was_not_reached(tiny_classifier):
    import dataclasses

    from explorer.pipeline.encoding import encode_batch
    from explorer.views import classification

    loaded = tiny_classifier
    encoding = at.row(encode_batch(loaded.batch_tokenizer, ["hello world."], max_length=loaded.max_tokens), 0)
    result = at.compute(loaded, encoding, at.classifier_target(loaded, encoding, None))
    c = result.completeness
    for stopped, phrase in (
        ("steps", f"within {c.step_cap} steps"),
        ("time", f"within {at.MAX_SECONDS:.0f} s"),
    ):
        failed = dataclasses.replace(c, relative_error=0.2, converged=False, stopped=stopped, seconds=61.0)
        shown = view.build(dataclasses.replace(result, completeness=failed), classification.Settings())
        assert shown.completeness.kind == "warning"
        assert "could not get under 5%" in shown.completeness.text and phrase in shown.completeness.text
        assert "20.00%" in shown.completeness.text
