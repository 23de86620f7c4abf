"""'Why this prediction?' (token attributions), built for every checkpoint family (tests/families.py).

What is checked is computed here from the model itself (``model(input_ids=…)`` and a softmax in
torch), never copied from the code under test: Integrated Gradients add up to f(input) - f(baseline)
within 5%, occlusion equals running the model on the occluded ids, padding and positions after a
decoder's target get 0, and the shared model is left as it was (no hooks, no gradients, eval mode)."""

from __future__ import annotations

import html

import numpy as np
import pytest
import torch

from explorer.errors import InputError
from explorer.explain import attribution as at
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.views import attribution as view
from explorer.views import classification, generation

SHORT = "the cat sat"
LONG = "the quick brown fox jumps over the lazy dog"


def _kind(loaded) -> str | None:
    if loaded.is_encoder_decoder:
        return None
    return {
        "AutoModelForSequenceClassification": "label",
        "AutoModelForCausalLM": "next token",
        "AutoModelForMaskedLM": "masked word",
    }.get(loaded.head_class)


def _state(model):
    hooks = {
        (name, kind, key)
        for name, module in model.named_modules()
        for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks")
        for key in getattr(module, kind)
    }
    return hooks, [p.requires_grad for p in model.parameters()]


def _direct_logits(loaded, rows: list[list[int]], positions: list[int], token_types: bool) -> np.ndarray:
    """[N, K] the head's logits from the model on unpadded ids, one sequence at a time."""
    out = []
    for ids, position in zip(rows, positions, strict=True):
        inputs = {"input_ids": torch.tensor([ids])}
        if token_types:
            inputs["token_type_ids"] = torch.zeros(1, len(ids), dtype=torch.long)
        with torch.no_grad():
            logits = loaded.model(**inputs).logits[0]
        out.append((logits if logits.dim() == 1 else logits[position]).double().numpy())
    return np.array(out)


def _probability(loaded, target, logits: np.ndarray) -> np.ndarray:
    scores = torch.from_numpy(logits)
    if target.function == "softmax":
        scores = torch.softmax(scores, -1)
    elif target.function == "sigmoid":
        scores = torch.sigmoid(scores)
    return scores[:, target.index].numpy()


def _setup(family):
    loaded = family.loaded
    kind = _kind(loaded)
    tokenizer = loaded.batch_tokenizer
    if kind == "masked word":
        short = f"the {tokenizer.mask_token} sat"
        sentences = [short, LONG]
    else:
        sentences = [SHORT, LONG]
    encoding = encode_batch(tokenizer, sentences, max_length=loaded.max_tokens)
    one = at.row(encoding, 0)  # the short sentence: padded
    real = np.flatnonzero(one.attention_mask[0])
    if kind == "label":
        target = at.classifier_target(loaded, one, None)
    elif kind == "next token":
        target = at.token_target(loaded, one, int(real[-1]), None, kind)
    else:
        position = int(np.flatnonzero(one.input_ids[0] == tokenizer.mask_token_id)[0])
        target = at.token_target(loaded, one, position, None, kind)
    return loaded, kind, one, target


def test_attributions_for_every_family(family):
    loaded = family.loaded
    kind = _kind(loaded)
    if kind is None:
        note = view.not_available(loaded, "label" if not loaded.is_encoder_decoder else "next token")
        assert note is not None and note.text
        if loaded.is_encoder_decoder:
            assert "encoder-decoder" in note.text
            encoding = encode_batch(loaded.batch_tokenizer, [SHORT], max_length=loaded.max_tokens)
            with pytest.raises(InputError):
                at.compute(
                    loaded,
                    encoding,
                    at.Target(kind="next token", position=0, index=0, name="x", function="softmax"),
                )
        return
    assert view.not_available(loaded, kind) is None
    loaded, kind, one, target = _setup(family)
    run_model(loaded, one, attentions=True)  # transformers adds its own output-capturing hooks once
    before = _state(loaded.model)
    result = at.compute(loaded, one, target, at.BASELINES[0], at.OCCLUSIONS[2])
    # The shared model is as it was: no hook left, requires_grad untouched, no gradient, eval mode.
    assert _state(loaded.model) == before
    assert all(p.grad is None for p in loaded.model.parameters())
    assert not loaded.model.training

    real = one.attention_mask[0] == 1
    assert (~real).any(), "the short sentence should be padded"
    ids = [int(i) for i in one.input_ids[0, real]]
    first = int(np.flatnonzero(real)[0])
    here = target.position - first
    types = one.token_type_ids is not None

    # f(input) and f(baseline) from the model itself, on ids.
    special = one.special_tokens_mask[0, real] == 1
    pad = loaded.batch_tokenizer.pad_token_id
    baseline = [i if s else pad for i, s in zip(ids, special, strict=True)]
    if kind == "next token":  # a decoder's baseline keeps its first token (its attention sink)
        baseline[0] = ids[0]
    if kind == "masked word":  # and a masked LM's keeps its blank
        baseline[here] = ids[here]
    direct = _direct_logits(loaded, [ids, baseline], [here, here], types)[:, target.index]
    assert result.logit == pytest.approx(direct[0], abs=1e-3)
    assert result.baseline_logit == pytest.approx(direct[1], abs=1e-3)
    difference = direct[0] - direct[1]
    total = float(result.integrated_gradients.sum())
    error = abs(total - difference) / max(abs(difference), at.DELTA_FLOOR)
    assert error < 0.05, (total, difference, result.completeness.history)
    assert result.completeness.converged

    # Padding gets 0 from every method.
    for name, values in view.values_of(result).items():
        assert np.all(values[~real] == 0), name
        assert np.all(np.isfinite(values)), name

    # Occlusion (words removed) equals the model run on the occluded ids.
    _, groups = at.words(one, loaded.batch_tokenizer)
    assert len(groups) in (2, 3)
    for w, group in enumerate(groups):
        local = [p - first for p in group]
        occluded = ids[: local[0]] + ids[local[-1] + 1 :]
        if kind == "masked word" and here in local:
            assert np.isnan(result.occluded_scores[w])
            continue
        if kind == "next token" and here in local:
            position = local[0] - 1
        elif local[-1] < here:
            position = here - len(local)
        else:
            position = here
        expected = _probability(loaded, target, _direct_logits(loaded, [occluded], [position], types))[0]
        assert result.occluded_scores[w] == pytest.approx(expected, abs=1e-4)
        assert result.occlusion[group[0]] == pytest.approx(result.score - expected, abs=1e-4)

    # The view: every method's chips, the exports, notes that name this tokenizer's tokens only.
    settings = (classification.Settings if kind == "label" else generation.Settings)(
        attr_method=at.METHODS[2]
    )
    shown = view.build(result, settings, loaded.resolved.label)
    assert [r.method for r in shown.rows][0] == at.METHODS[2] and len(shown.rows) == 5
    assert shown.completeness.kind == "success"
    assert f"{difference:.4f}"[:-1] in shown.completeness.text
    csv = shown.csv.data()
    assert csv.count("\n") == int(real.sum()) + 1
    assert '"relative_error"' in shown.json.data()


def test_positions_after_a_decoder_target_get_zero(family):
    loaded = family.loaded
    if _kind(loaded) != "next token":
        pytest.skip("decoders only")
    encoding = at.row(encode_batch(loaded.batch_tokenizer, [LONG], max_length=loaded.max_tokens), 0)
    position = 3
    target = at.token_target(loaded, encoding, position, None, "next token")
    ig, check, _, _, _ = at.integrated_gradients(loaded, encoding, target)
    gxi = at.gradient_x_input(loaded, encoding, target)
    assert np.all(ig[position + 1 :] == 0) and np.all(gxi[position + 1 :] == 0)
    assert np.any(ig[: position + 1] != 0) and np.any(gxi[: position + 1] != 0)
    assert check.converged


def test_the_target_picker_labels_do_not_go_stale_when_the_text_changes(tiny_classifier, tiny_gpt):
    """A picker keeps showing the label its value had when picked: labels carry no number, the
    numbers are in a caption rebuilt from the current text."""
    for loaded, kind in ((tiny_classifier, "label"), (tiny_gpt, "next token")):
        shown = {}
        for text in (SHORT, LONG):
            one = at.row(encode_batch(loaded.batch_tokenizer, [text], max_length=loaded.max_tokens), 0)
            position = None if kind == "label" else int(np.flatnonzero(one.attention_mask[0])[-1])
            options = view.target_options(loaded, one, kind, position)
            ids = torch.tensor([[int(i) for i in one.input_ids[0][one.attention_mask[0] == 1]]])
            with torch.no_grad():
                logits = loaded.model(input_ids=ids).logits[0]  # [K], or [S, vocab] for a decoder
            logits = logits if kind == "label" else logits[-1]  # the position after the last token
            probabilities = torch.softmax(logits.double(), -1).numpy()
            for o in options:
                assert "%" not in o.label
                index = (
                    list(loaded.config.id2label.values()).index(o.value)
                    if kind == "label"
                    else loaded.tokenizer.convert_tokens_to_ids(o.value)
                )
                assert o.score == f"{probabilities[index]:.1%}"
                # a shown token may hold "<" (e.g. <0x8C>): the caption carries it escaped once
                assert f"{o.label} {o.score}" in html.unescape(view.scores_note(options).text)
            shown[text] = {o.value: o.label for o in options}
        common = shown[SHORT].keys() & shown[LONG].keys()
        assert common and all(shown[SHORT][v] == shown[LONG][v] for v in common)


def test_tokens_in_code_spans_are_shown_once_escaped(tiny_classifier):
    """Markdown shows a code span's text as it is: `&lt;|im_end|&gt;` would read as those characters."""
    import dataclasses

    one = at.row(
        encode_batch(tiny_classifier.batch_tokenizer, [SHORT], max_length=tiny_classifier.max_tokens), 0
    )
    result = at.compute(tiny_classifier, one, at.classifier_target(tiny_classifier, one, None))
    odd = dataclasses.replace(result, baseline_token="<|im_end|>", occlusion_token="<s>\t")
    shown = view.build(odd, classification.Settings())
    assert "`<|im_end|>`" in shown.baseline.text and "&lt;" not in shown.baseline.text
    assert (
        "`<s>⇥`" in shown.occlusion.text
    )  # a tab shows as ⇥ (token_display) and "&lt;" not in shown.occlusion.text
    assert all("&lt;" not in row.html for row in shown.rows)  # no token here has a <
    # Outside code spans markdown reads `&lt;` as `<` (and would drop a raw `</s>` as HTML): escaped once.
    tagged = dataclasses.replace(odd, target=dataclasses.replace(odd.target, text="'</s>'"))
    notes = view.build(tagged, classification.Settings())
    for note in (notes.summary, notes.legend, notes.occlusion):
        assert "'&lt;/s&gt;'" in note.text and "</s>" not in note.text, note.text
