"""The lesson's explanations across the checkpoint-family matrix: words grouped as each tokenizer
groups them (WordPiece `##`, byte-level `Ġ`, SentencePiece `▁`), and the padding step following
the Tokenizer lab's current settings.

Expected values come from the tokenizer called here (its own ``word_ids()``, its own padding),
never from the lesson's code."""

from __future__ import annotations

import dataclasses
import re
import types

import numpy as np
import pytest

from explorer.app import lessons
from explorer.app.lessons import Facts
from explorer.pipeline.encoding import encode_batch
from explorer.views import tokenizer as tokenizer_view

# Words the tiny tokenizers (trained on a few sentences) must cut into pieces, and punctuation.
TEXTS = (
    "Tokenization of transformerification is unbelievable.",
    "The quick brown fox jumps over the lazy dog.",
    "I've been waiting for a HuggingFace course my whole life.",
)
PADDING = ("I hate this so much!", "Attention lets every token look at every other token.")


def _tokenizer(family):
    if family.loaded is not None:
        return family.loaded.batch_tokenizer
    from transformers import AutoTokenizer  # T5: the loader refuses the model, the tokenizer is fine

    return AutoTokenizer.from_pretrained(family.folder)


def _words_from_word_ids(tokenizer, text: str) -> list[list[str]]:
    """Tokens grouped by the tokenizer's own word_ids() (special tokens have none)."""
    encoded = tokenizer(text)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    grouped: dict[int, list[str]] = {}
    for token, word in zip(tokens, encoded.word_ids(), strict=True):
        if word is not None:
            grouped.setdefault(word, []).append(token)
    return [grouped[w] for w in sorted(grouped)]


@pytest.mark.parametrize("text", TEXTS)
def test_words_are_the_tokenizers_own_words(family, text):
    tokenizer = _tokenizer(family)
    encoding = encode_batch(tokenizer, [text, "a"] if tokenizer.pad_token else [text], padding="longest")
    expected = _words_from_word_ids(tokenizer, text)
    assert lessons.words(tokenizer, encoding, 0) == expected
    # the grouping is not trivial: these words are split by every tiny tokenizer
    if text == TEXTS[0]:
        assert any(len(w) > 1 for w in expected)


def test_words_without_word_ids_fall_back_to_offsets(family, monkeypatch):
    """Without word ids (a slow tokenizer), tokens whose character spans touch are one word: the
    same words as word_ids() on text whose words are separated by spaces only."""
    tokenizer = _tokenizer(family)
    text = "tokenization transformerification unbelievable"
    encoding = encode_batch(tokenizer, [text], padding="do_not_pad")
    monkeypatch.setattr(lessons, "_word_ids", lambda *args: None)
    if encoding.offsets is None:
        pytest.skip("no offsets: a slow tokenizer")
    assert lessons.words(tokenizer, encoding, 0) == _words_from_word_ids(tokenizer, text)


def test_the_tokens_step_names_this_tokenizers_marker(family):
    if family.loaded is None:
        pytest.skip("T5: the loader refuses it")
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, [TEXTS[0]], max_length=loaded.max_tokens)
    text = lessons.explain_tokens(Facts(loaded=loaded, encoding=encoding, run=None))
    split = [w for w in _words_from_word_ids(loaded.batch_tokenizer, TEXTS[0]) if len(w) > 1]
    assert split and "nothing was split" not in text
    for word in split[:3]:
        assert " + ".join(word) in text
    tokens = [t for w in split for t in w]
    if any(t.startswith("##") for t in tokens):
        assert "`##` continues the word before it" in text
    elif any(t.startswith("Ġ") for t in tokens):
        assert "starts with `Ġ` (a space) begins a word" in text and "##" not in text
    elif any(t.startswith("▁") for t in tokens):
        assert "starts with `▁` begins a word" in text and "##" not in text


SETTINGS = {
    "longest, right": tokenizer_view.Settings(padding="longest", side="right"),
    "longest, left": tokenizer_view.Settings(padding="longest", side="left"),
    "max_length": tokenizer_view.Settings(padding="max_length", side="right", max_length=40),
    "do_not_pad": tokenizer_view.Settings(padding="do_not_pad"),
}


@pytest.mark.parametrize("case", list(SETTINGS))
def test_the_padding_step_follows_the_pages_settings(family, case):
    if family.loaded is None:
        pytest.skip("T5: the loader refuses it")
    loaded = family.loaded
    settings = SETTINGS[case]
    # the banner's own batch is always the default padded one; the explanation must not use it
    banner = encode_batch(loaded.batch_tokenizer, PADDING, max_length=loaded.max_tokens)
    text = lessons.explain_padding(Facts(loaded=loaded, encoding=banner, run=None, settings=settings))
    tokenizer = loaded.batch_tokenizer
    lengths = [len(ids) for ids in tokenizer(list(PADDING))["input_ids"]]
    assert "so the model ignores it" not in text
    assert " and ".join(str(n) for n in lengths) + " tokens" in text
    if settings.padding == "do_not_pad":
        assert "**no padding**" in text and "own length" in text
        assert "[2, " not in text and "padding token(s)" not in text
        return
    padded = tokenizer(
        list(PADDING), padding=settings.padding, max_length=settings.max_length, padding_side=settings.side
    )
    mask = np.array(padded["attention_mask"])  # [B, S]
    B, S = mask.shape
    short = int(mask.sum(1).argmin())
    pads = S - int(mask[short].sum())
    assert f"**[{B}, {S}]**" in text
    assert (
        f"sentence {short} gets **{pads}** padding token(s) `{tokenizer.pad_token}` (ID {tokenizer.pad_token_id})"
        in text
    )
    side = "left" if settings.side == "left" else "right"
    assert f"on the **{side}**" in text
    first_pad = int(np.flatnonzero(mask[short] == 0)[0])
    assert (first_pad == 0) == (side == "left")  # the tokenizer really padded on that side
    if settings.padding == "max_length":
        assert S == settings.max_length and "max_length = 40" in text
        assert "1 other sentence padded too" in text  # both are shorter than 40 tokens
    else:
        assert "padded to the longest sentence" in text
    # only attention ignores padding; the padded positions still get vectors
    assert "weight of 0" in text and "still go through every layer and get vectors" in text


def test_the_padding_step_without_settings_describes_the_banners_batch(family):
    if family.loaded is None:
        pytest.skip("T5: the loader refuses it")
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, PADDING, max_length=loaded.max_tokens)
    text = lessons.explain_padding(Facts(loaded=loaded, encoding=encoding, run=None))
    B, S = encoding.shape
    assert f"**[{B}, {S}]**" in text and re.search(r"\*\*\d+\*\* padding token", text)
    assert "so the model ignores it" not in text


def _as_shown(piece: str) -> str:
    """A piece of these ASCII texts as the pages show it: its space marker (Ġ, ▁) as ␣."""
    return piece.replace("Ġ", "␣").replace("▁", "␣")


def test_the_attention_step_counts_layers_from_1(family):
    if family.loaded is None:
        pytest.skip("T5: the loader refuses it")
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, [PADDING[1]], max_length=loaded.max_tokens)
    # The tiny vocabularies split 'it' and 'animal': name two real tokens so for the explanation.
    it, animal = 4, 2
    tokens = list(encoding.tokens[0])
    tokens[it], tokens[animal] = "it", "animal"
    encoding = dataclasses.replace(encoding, tokens=(tuple(tokens),), shown=(encoding.show(tokens),))
    from explorer.pipeline.run import run_model

    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    weights = run.attentions[:, 0, :, it, animal]  # [L, H]
    layer, head = np.unravel_index(int(weights.argmax()), weights.shape)
    settings = types.SimpleNamespace(layer=2, head=1)  # the page as the student left it
    explained = lessons.explain_attention(Facts(loaded=loaded, encoding=encoding, run=run, settings=settings))
    assert f"**layer {layer + 1}, head {head}**" in explained
    shown = run.attentions[1, 0, 1, it]  # layer 2, head 1
    assert (
        "On layer 2, head 1" in explained
        and f"`{_as_shown(encoding.tokens[0][int(shown.argmax())])}`" in explained
    )
    assert "layer 0" not in explained.lower()


def test_the_families_step_shows_each_familys_attention(family):
    """Encoders attend both ways, decoders only backwards, encoder-decoders add cross-attention:
    the step's numbers are this model's own attention weights, recomputed here."""
    from explorer.pipeline.run import run_model

    loaded = family.loaded
    text = "translate English to German: The house is wonderful."
    encoding = encode_batch(loaded.batch_tokenizer, [text], max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    explained = lessons.explain_families(Facts(loaded=loaded, encoding=encoding, run=run))
    config = loaded.config
    if getattr(config, "is_encoder_decoder", False):
        assert "**encoder-decoder**" in explained
        cross = run.cross_attentions  # [L_dec, B, H, T, S]
        last = cross[-1, 0].mean(axis=0)  # [T, S]
        first = int(last[0].argmax())
        looked = _as_shown(encoding.tokens[0][first])
        assert f"`{_as_shown(run.decoder_tokens[0][0])}` it looks most at `{looked}`" in explained
        assert f"layer {cross.shape[0]})" in explained and f"{cross.shape[2]} heads" in explained
        assert "Pick *cross-attention* above to see it" in explained  # the page shows another part
        step = next(s for s in lessons.LESSON if s.explain is lessons.explain_families)
        opened = lessons.explain_families(
            Facts(loaded=loaded, encoding=encoding, run=run, settings=step.settings)
        )
        assert "The heatmap above shows cross-attention" in opened and "Pick" not in opened  # already open
        return
    weights = run.attentions[0, 0]  # [H, S, S]
    later = float(np.mean([weights[:, q, q + 1 :].sum(axis=-1) for q in range(weights.shape[-1])]))
    if loaded.is_decoder:
        assert "**decoder**" in explained and "**0.0%**" in explained
        assert later < 1e-6
    else:
        assert "**encoder**" in explained and f"**{later:.1%}**" in explained
        assert later > 0.05
