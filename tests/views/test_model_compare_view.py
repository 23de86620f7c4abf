"""Inside the model, the course's comparisons, for every family of the matrix: the attention mask's
effect (the same with the mask, different without), the same architecture with two configs, and
random weights against the pretrained ones. Every number is checked against a forward pass or a
config read here, not against the code under test."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
import transformers

from explorer.explain import compare
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.pipeline.token_display import shown_tokens
from explorer.views import model as model_view

SHORT = "The cat sat on the mat."
LONG = "A much longer sentence about the dog that ran in the park today."


def _loaded(family):
    assert family.loaded is not None, family.load_error
    return family.loaded


OPENED = model_view.Settings(mask=True, random=True)  # both comparisons opened


def _view(loaded, sentences=(SHORT, LONG), settings=OPENED, **options):
    encoding = encode_batch(loaded.batch_tokenizer, list(sentences), max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True)
    return model_view.build(loaded, encoding, run, settings, **options)


def _direct(loaded, input_ids, mask, position_ids=None, model=None):
    """The model called here, directly: (last hidden state [B, S, D], logits or None)."""
    model = model or loaded.model
    tokenizer = loaded.batch_tokenizer
    inputs = {"input_ids": torch.tensor(input_ids), "attention_mask": torch.tensor(mask)}
    if "token_type_ids" in tokenizer.model_input_names:
        inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
    if position_ids is not None:
        inputs["position_ids"] = torch.tensor(position_ids)
    # Encoder-decoders: the encoder's vectors; the decoder's first step from its start token.
    if model.config.is_encoder_decoder:
        start = torch.full((len(input_ids), 1), model.config.decoder_start_token_id)
        with torch.no_grad():
            out = model(**inputs, decoder_input_ids=start)
        return out.encoder_last_hidden_state.numpy(), out.logits[:, 0].numpy()
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    logits = getattr(out, "logits", None)
    return out.hidden_states[-1].numpy(), (logits.numpy() if logits is not None else None)


def _expected(loaded, side):
    """(a) alone, (b) padded with the mask, (c) padded with ones, computed here: the values compared
    ([labels] logits for a classifier, else [T, D] hidden states) and the [T, D] hidden states."""
    tokenizer = loaded.batch_tokenizer
    alone = tokenizer([SHORT])
    batch = tokenizer([SHORT, LONG], padding=True, padding_side=side)
    mask = np.array(batch["attention_mask"])
    real = mask[0].astype(bool)
    positions = None
    embeddings = getattr(loaded.model.base_model, "embeddings", None)
    counts_own = getattr(embeddings, "padding_idx", None) is not None  # RoBERTa numbers its own
    accepted = inspect.signature(loaded.model.forward).parameters
    if side == "left" and not counts_own and "position_ids" in accepted:
        positions = np.clip(mask.cumsum(-1) - 1, 0, None)
    results = []
    for ids, given, row_real in (
        (alone["input_ids"], alone["attention_mask"], np.ones(len(alone["input_ids"][0]), dtype=bool)),
        (batch["input_ids"], mask.tolist(), real),
        (batch["input_ids"], np.ones_like(mask).tolist(), real),
    ):
        pos = positions if len(ids) == 2 else None
        hidden, logits = _direct(loaded, ids, given, pos)
        classifier = loaded.head_class == "AutoModelForSequenceClassification"
        results.append((logits[0] if classifier else hidden[0][row_real], hidden[0][row_real]))
    return results


def _sides(family):
    return ["left", "right"] if family.family.kind == "decoder" else ["right", "left"]


@pytest.mark.parametrize("side_index", [0, 1], ids=["default-side", "other-side"])
def test_mask_effect_numbers_are_the_models(family, side_index):
    loaded = _loaded(family)
    side = _sides(family)[side_index]
    view = _view(loaded, padding_side=side if side_index else None)
    effect = view.mask.effect
    assert effect.padding_side == side
    assert effect.sentence == SHORT and effect.other == LONG and not effect.other_is_fixed
    expected = _expected(loaded, side)
    for case, (values, hidden) in zip(effect.cases, expected, strict=True):
        np.testing.assert_allclose(case.values, values, atol=1e-5)
        np.testing.assert_allclose(case.hidden, hidden, atol=1e-5)
    base, base_hidden = expected[0]
    for case, (values, hidden) in zip(effect.cases, expected, strict=True):
        assert case.difference == pytest.approx(np.abs(values - base).max(), abs=2e-6)
        assert case.hidden_difference == pytest.approx(np.abs(hidden - base_hidden).max(), abs=2e-6)
    b, c = effect.cases[1:]
    assert effect.padding == int((~b.real).sum()) > 0
    zeros = b.mask == 0
    assert zeros[: effect.padding].all() if side == "left" else zeros[-effect.padding :].all()
    assert (c.mask == 1).all()
    # What the notes say follows the numbers computed here.
    with_mask, without_mask = view.mask.with_mask, view.mask.without_mask
    b_diff = np.abs(expected[1][0] - base).max()
    assert (with_mask.kind == "success") == (b_diff <= 1e-5 * max(1.0, np.abs(base).max()))
    c_diff = np.abs(expected[2][1] - base_hidden).max()
    assert (without_mask.kind == "warning") == (c_diff > 1e-4)
    if family.family.is_classifier and len(family.family.labels) > 1:
        flips = np.argmax(expected[0][0]) != np.argmax(expected[2][0])
        assert ("The label with the highest logit changes" in without_mask.text) == bool(
            flips and c_diff > 1e-4
        )
    for note in (with_mask, without_mask, view.mask.intro):
        assert "None" not in note.text and "ignore" not in note.text
    if loaded.tokenizer.pad_token is None:  # GPT-2: the batch tokenizer's stand-in, named
        assert (
            f"`{loaded.batch_tokenizer.pad_token}` (id {loaded.batch_tokenizer.pad_token_id})"
            in view.mask.intro.text
        )
    rows = view.mask.table.rows
    assert [row["run"] for row in rows] == [case.name for case in effect.cases]
    assert [row["tokens the model reads"] for row in rows] == [
        case.encoding.shape[1] for case in effect.cases
    ]


def test_the_mask_keeps_the_numbers_and_its_absence_changes_them(family):
    """The course's claim, for every family that pads (T5 is refused by the loader): with the
    mask, the padded sentence gives what it gives alone (within 1e-5); without it, not (> 1e-4).
    Decoders pad on the left (with right padding their causal attention never sees the padding)."""
    loaded = _loaded(family)
    effect = _view(loaded).mask.effect
    if family.family.kind == "decoder":
        assert effect.padding_side == "left"
    a, b, c = effect.cases
    assert a.difference == 0.0
    assert b.difference <= 1e-5 and b.hidden_difference <= 1e-5
    assert c.hidden_difference > 1e-4
    if family.family.is_classifier:
        assert c.difference > b.difference  # the logits move too (a random head makes them small)
    else:
        assert c.difference > 1e-4
    view = _view(loaded)
    shown = "0" if b.difference == 0.0 else f"{b.difference:.1e}"
    assert view.mask.with_mask.kind == "success" and f"**{shown}**" in view.mask.with_mask.text
    assert view.mask.without_mask.kind == "warning"
    assert f"{c.difference:.2g}" in view.mask.without_mask.text


def test_a_decoder_padded_on_the_right_is_not_changed_and_says_why(family):
    loaded = _loaded(family)
    if family.family.kind != "decoder":
        pytest.skip("only decoders have causal attention")
    view = _view(loaded, padding_side="right")
    c = view.mask.effect.cases[2]
    assert c.difference <= 1e-5
    assert view.mask.without_mask.kind == "info" and "causal" in view.mask.without_mask.text


def test_the_shorter_line_is_padded_and_one_line_gets_a_fixed_partner(tiny_bert):
    effect = _view(tiny_bert, (LONG, SHORT)).mask.effect
    assert (effect.sentence, effect.other) == (SHORT, LONG)
    alone = _view(tiny_bert, (SHORT,)).mask
    assert alone.effect.other_is_fixed and alone.effect.other.startswith(compare.OTHER_SENTENCE)
    assert "fixed longer sentence" in alone.intro.text
    assert alone.effect.padding > 0 and alone.effect.cases[1].difference <= 1e-5


def test_a_sentence_that_fills_the_model_cannot_be_padded(tiny_bert):
    long_line = "word " * (tiny_bert.max_tokens + 10)
    mask = _view(tiny_bert, (long_line,)).mask
    assert mask.effect is None and mask.table is None
    assert str(tiny_bert.max_tokens) in mask.missing.text


# --- Architecture versus checkpoint ----------------------------------------------------------------


def _meta_count(cls, config) -> int:
    """Parameters of the concrete class built from ``config`` on the meta device (not the Auto path)."""
    with torch.device("meta"):
        model = cls(config)
    return sum(p.numel() for p in model.parameters())


def test_architecture_table_is_the_two_configs(family):
    loaded = _loaded(family)
    view = _view(loaded)
    part = view.architecture
    config = loaded.config
    default = type(config)()
    rows = {row[""]: row for row in part.table.rows}
    mine, theirs = list(part.table.columns)[1:]
    assert mine == "this checkpoint's config" and theirs.startswith(f"{type(config).__name__}() defaults")
    assert rows["class built"][mine] == rows["class built"][theirs] == type(loaded.model).__name__
    for label, name in (
        ("layers", "num_hidden_layers"),
        ("hidden size", "hidden_size"),
        ("attention heads", "num_attention_heads"),
        ("vocabulary size", "vocab_size"),
    ):
        assert rows[label][mine] == f"{getattr(config, name):,}", label
        assert rows[label][theirs] == f"{getattr(default, name):,}", label
    assert rows["layers"][mine] == f"{family.family.layers:,}"
    assert rows["hidden size"][mine] == f"{family.family.hidden:,}"
    kv = getattr(config, "num_key_value_heads", None)
    if kv is not None and kv != config.num_attention_heads:
        assert rows["key/value heads"][mine] == f"{kv:,}"
    # Parameters: the checkpoint's own count, and the defaults built here by the concrete class.
    cls = type(loaded.model)
    assert rows["parameters"][mine] == f"{sum(p.numel() for p in loaded.model.parameters()):,}"
    assert rows["parameters"][theirs] == f"{_meta_count(cls, default):,}"
    assert part.checkpoint.parameters == loaded.num_parameters
    assert (
        f"{part.defaults.parameters:,}" in part.sentence.text
        and f"{loaded.num_parameters:,}" in part.sentence.text
    )
    assert "None" not in part.sentence.text


def test_defaults_are_named_after_a_checkpoint_only_when_the_sizes_match(family):
    loaded = _loaded(family)
    name = _view(loaded).architecture.defaults_name
    default = type(loaded.config)()
    if loaded.config.model_type == "bert":
        # bert-base: 12 layers, hidden 768, 12 heads, 109,482,240 parameters without a head.
        assert (default.num_hidden_layers, default.hidden_size, default.num_attention_heads) == (12, 768, 12)
        assert name == "BertConfig() defaults (the size of bert-base)"
    elif loaded.config.model_type == "qwen3":
        assert "size of" not in name  # Qwen3Config() is no published Qwen3 size
    assert compare.count_parameters(transformers.BertConfig(), "AutoModel") == 109_482_240


def test_the_shared_config_is_not_changed(family):
    loaded = _loaded(family)
    before = loaded.config.to_dict()
    _view(loaded, random_weights=True)
    assert loaded.config.to_dict() == before


# --- Random weights against the pretrained ones ----------------------------------------------------


def test_random_weights_are_different_and_run_as_a_direct_forward(family):
    loaded = _loaded(family)
    view = _view(loaded)  # the tiny models are under the size built on every run
    result = view.random.comparison
    assert result is not None and view.random.offer is None
    random = compare.random_model(loaded)
    pretrained_embeddings = loaded.model.get_input_embeddings().weight
    random_embeddings = random.get_input_embeddings().weight
    assert pretrained_embeddings.shape == random_embeddings.shape
    assert not torch.equal(pretrained_embeddings, random_embeddings)
    assert result.weight_difference == pytest.approx(
        float((pretrained_embeddings.detach().double() - random_embeddings.detach().double()).abs().max()),
        rel=1e-6,
    )
    encoding = result.encoding
    assert list(encoding.sentences) == [SHORT, LONG]
    positions = None
    if loaded.is_decoder:
        assert encoding.padding_side == "left"
        mask = np.array(encoding.attention_mask)
        positions = np.clip(mask.cumsum(-1) - 1, 0, None)
    ids, mask = encoding.input_ids.tolist(), encoding.attention_mask.tolist()
    hidden_p, logits_p = _direct(loaded, ids, mask, positions)
    hidden_r, logits_r = _direct(loaded, ids, mask, positions, model=random)
    np.testing.assert_allclose(result.pretrained.last_hidden_state, hidden_p, atol=1e-5)
    np.testing.assert_allclose(result.random.last_hidden_state, hidden_r, atol=1e-5)
    assert np.abs(hidden_p - hidden_r).max() > 1e-3
    rows = view.random.table.rows
    if result.kind == "similarity":
        real = np.array(mask)[..., None].astype(float)
        for hidden, value, row in zip((hidden_p, hidden_r), result.similarity, rows, strict=True):
            pooled = (hidden * real).sum(1) / real.sum(1)
            cosine = pooled[0] @ pooled[1] / np.linalg.norm(pooled[0]) / np.linalg.norm(pooled[1])
            assert value == pytest.approx(cosine, abs=1e-5)
            assert row["cosine similarity of the two sentences' mean-pooled vectors"] == f"{value:.4f}"
    elif result.kind == "labels":
        assert family.family.is_classifier
        labels = family.family.labels
        for logits, row_pair in ((logits_p, rows[:2]), (logits_r, rows[2:])):
            for b, row in enumerate(row_pair):
                for k, label in enumerate(labels):
                    assert row[f"logit {label}"] == f"{logits[b, k]:.4f}"
                if len(labels) > 1:
                    assert row["label"] == labels[int(np.argmax(logits[b]))]
    else:
        assert family.family.kind == "decoder"
        ends = [int(np.flatnonzero(m)[-1]) for m in mask]
        for logits, row_pair in ((logits_p, rows[:2]), (logits_r, rows[2:])):
            for b, row in enumerate(row_pair):
                top = np.argsort(-logits[b, ends[b]])[:3]
                tokens = loaded.tokenizer.convert_ids_to_tokens([int(i) for i in top])
                shown = row["top 3 next tokens (probability)"]
                positions_in_text = [
                    shown.index(f"{token} ") for token in shown_tokens(loaded.tokenizer, tokens)
                ]
                assert positions_in_text == sorted(positions_in_text), (tokens, shown)


def test_closed_comparisons_run_nothing_and_say_what_opening_them_does(tiny_bert, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a closed comparison ran a forward pass")

    monkeypatch.setattr(compare, "mask_effect", refuse)
    monkeypatch.setattr(compare, "random_vs_pretrained", refuse)
    monkeypatch.setattr(compare, "random_model", refuse)
    view = _view(tiny_bert, settings=model_view.Settings())
    assert view.mask.effect is None and view.mask.table is None and view.mask.missing is None
    assert "three more forward passes" in view.mask.offer.text
    part = view.random
    assert part.comparison is None and part.table is None
    assert f"{tiny_bert.num_parameters:,}" in part.offer.text and "on request" in part.offer.text
    assert "MB more memory" not in part.offer.text  # a tiny model
    # random_weights overrides the setting either way.
    monkeypatch.undo()
    assert _view(tiny_bert, settings=model_view.Settings(), random_weights=True).random.comparison is not None
    assert _view(tiny_bert, random_weights=False).random.comparison is None


def test_a_large_model_says_what_its_random_copy_costs(tiny_bert, monkeypatch):
    monkeypatch.setattr(model_view, "RANDOM_AUTO_PARAMETERS", 1000)
    offer = _view(tiny_bert, settings=model_view.Settings()).random.offer
    megabytes = tiny_bert.num_parameters * 4 / 1e6
    assert f"about {megabytes:,.0f} MB more memory" in offer.text


def test_opened_comparisons_come_from_the_callers_cache(tiny_bert):
    """The page passes cached results; the view shows exactly those (no forward pass of its own)."""
    encoding = encode_batch(tiny_bert.batch_tokenizer, [SHORT, LONG], max_length=tiny_bert.max_tokens)
    run = run_model(tiny_bert, encoding, hidden_states=True)
    effect = compare.mask_effect(tiny_bert, [SHORT, LONG])
    compared = compare.random_vs_pretrained(tiny_bert, [SHORT, LONG])
    calls = []

    def cached(value):
        return lambda: calls.append(value) or value

    view = model_view.build(
        tiny_bert,
        encoding,
        run,
        OPENED,
        mask_effect=cached(effect),
        random_comparison=cached(compared),
        random_model=lambda: pytest.fail("the cached comparison needs no model"),
    )
    assert view.mask.effect is effect and view.random.comparison is compared and len(calls) == 2
    # The cached results are shared between sessions: none of their arrays can be written.
    for case in effect.cases:
        for array in (case.mask, case.real, case.values, case.hidden, case.encoding.input_ids):
            assert not array.flags.writeable
    assert not compared.pretrained.last_hidden_state.flags.writeable


def test_parameter_counts_are_remembered_per_config_content(monkeypatch):
    small = transformers.BertConfig(
        num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=37
    )
    first = compare.count_parameters(small, "AutoModel")
    assert first == _meta_count(transformers.BertModel, small)
    bigger = transformers.BertConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=37
    )
    assert (
        compare.count_parameters(bigger, "AutoModel") == _meta_count(transformers.BertModel, bigger) > first
    )
    monkeypatch.setattr(compare, "_count_parameters", lambda *a: pytest.fail("counted again"))
    same = transformers.BertConfig(
        num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=37
    )
    assert compare.count_parameters(same, "AutoModel") == first  # an equal config, another object
