"""explorer.pipeline.token_display over real tokenizers: trained here (byte-level BPE, SentencePiece
Unigram and byte-fallback BPE, WordPiece), the family matrix's, and the bundled MiniLM and SmolLM2.

The round trip is checked against the tokenizer's own ``decode``, written independently here:
display forms joined, ␣ ↵ ⇥ ␍ put back, <0xNN> runs turned back into bytes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.pipeline.token_display import ShownToken, scheme_of, shown, shown_pairs, shown_tokens
from tests.conftest import _bpe_tokenizer, _wordpiece_tokenizer
from tests.families import _albert_tokenizer, _qwen_tokenizer, _roberta_tokenizer, _t5_tokenizer

HARD = "Hello Paris  and\nthe\tfox 😀 中文 שלום café <script>x</script>"
RAW_MARKERS = ("Ġ", "Ċ", "ĉ", "▁", "�")
SMOLLM2 = Path.home() / ".cache" / "transformer-explorer" / "bundled" / "smollm2-135m-instruct"


def _undisplay(text: str) -> str:
    """The inverse of the display, written apart from it: marks back to whitespace, bytes back."""
    text = text.replace("␣", " ").replace("↵", "\n").replace("⇥", "\t").replace("␍", "\r")

    def to_bytes(match: re.Match[str]) -> str:
        data = bytes(int(h, 16) for h in re.findall(r"<0x([0-9A-F]{2})>", match.group(0)))
        return data.decode("utf-8", errors="strict")

    return re.sub(r"(?:<0x[0-9A-F]{2}>)+", to_bytes, text)


def _byte_fallback_tokenizer():
    """A Llama-style SentencePiece BPE with byte fallback: ▁ for spaces, <0xNN> for the rest."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, **{f"<0x{b:02X}>": 1 + b for b in range(256)}}
    for piece in ["▁", *"Helopariswndthefxcé", "▁H", "▁P", "▁a", "▁t", "▁f"]:
        vocab.setdefault(piece, len(vocab))
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", byte_fallback=True))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")


def _pieces(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])


BYTE_LEVEL = {"gpt2-bpe": _bpe_tokenizer, "roberta": _roberta_tokenizer, "qwen3": _qwen_tokenizer}


@pytest.mark.parametrize("name", sorted(BYTE_LEVEL))
def test_byte_level_tokens_are_readable_and_give_back_the_text(name):
    tokenizer = BYTE_LEVEL[name]()
    assert scheme_of(tokenizer).kind == "byte-level"
    pieces = _pieces(tokenizer, HARD)
    texts = shown_tokens(tokenizer, pieces)
    assert any(p.startswith("Ġ") for p in pieces) and "Ċ" in "".join(pieces)  # the test has teeth
    for text in texts:
        assert text and not any(m in text for m in RAW_MARKERS), texts
    assert _undisplay("".join(texts)) == tokenizer.decode(
        tokenizer(HARD, add_special_tokens=False)["input_ids"]
    )
    assert "↵" in texts and "⇥" in "".join(texts) and any(t.startswith("␣") for t in texts)


def test_a_partial_utf8_byte_shows_as_that_byte():
    tokenizer = _bpe_tokenizer()  # 400 pieces: the emoji is split into its bytes
    texts = shown_tokens(tokenizer, _pieces(tokenizer, "😀"))
    assert len(texts) > 1
    assert "".join(texts).replace("␣", "") == "<0xF0><0x9F><0x98><0x80>"


def test_a_lone_space_and_an_empty_piece_are_never_empty():
    scheme = scheme_of(_bpe_tokenizer())
    assert shown("Ġ", scheme) == "␣"
    assert shown("", scheme) == "∅"
    assert shown("ĠĠĠ", scheme) == "␣␣␣"


def test_special_tokens_stay_as_they_are():
    tokenizer = _qwen_tokenizer()
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("<|im_start|>hi<|im_end|>")["input_ids"])
    assert "<|im_end|>" in pieces
    assert shown_tokens(tokenizer, pieces)[pieces.index("<|im_end|>")] == "<|im_end|>"
    roberta = _roberta_tokenizer()
    assert shown_tokens(roberta, ["<s>", "</s>", "<pad>", "<mask>"]) == ("<s>", "</s>", "<pad>", "<mask>")


@pytest.mark.parametrize("make", [_t5_tokenizer, _albert_tokenizer], ids=["t5", "albert"])
def test_sentencepiece_spaces_show_as_the_space_mark(make):
    tokenizer = make()
    assert scheme_of(tokenizer).kind == "sentencepiece"
    text = "The quick brown fox jumps over the lazy dog."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    texts = shown_tokens(tokenizer, pieces)
    assert any("▁" in p for p in pieces)
    assert all(t and "▁" not in t for t in texts)
    assert _undisplay("".join(texts)).lstrip(" ") == tokenizer.decode(ids)


def test_sentencepiece_byte_fallback_shows_characters_and_bytes():
    tokenizer = _byte_fallback_tokenizer()
    assert scheme_of(tokenizer).kind == "sentencepiece"
    ids = tokenizer(HARD, add_special_tokens=False)["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert "<0x0A>" in pieces and "<0xF0>" in pieces  # newline and the emoji's first byte fell back
    texts = shown_tokens(tokenizer, pieces)
    assert texts[pieces.index("<0x0A>")] == "↵"
    assert texts[pieces.index("<0x09>")] == "⇥"
    assert texts[pieces.index("<0xF0>")] == "<0xF0>"  # one byte of four: shown as the byte
    assert all(t and not any(m in t for m in RAW_MARKERS) for t in texts)
    assert _undisplay("".join(texts)).lstrip(" ") == tokenizer.decode(ids)


def test_wordpiece_tokens_stay_as_they_are():
    tokenizer = _wordpiece_tokenizer()
    assert scheme_of(tokenizer).kind == "wordpiece"
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("I have been waiting for unbelievably")["input_ids"])
    assert any(p.startswith("##") for p in pieces) and "[CLS]" in pieces
    assert shown_tokens(tokenizer, pieces) == tuple(pieces)


def test_raw_tokenizers_library_tokenizer_is_read_too():
    from explorer.explain.tokenizer_lab import train_tokenizer

    for kind, expected in (("BPE", "byte-level"), ("Unigram", "sentencepiece"), ("WordPiece", "wordpiece")):
        trained = train_tokenizer(kind, "the quick brown fox jumps over the lazy dog\n" * 20, 300)
        assert scheme_of(trained).kind == expected, kind


def test_pairs_carry_the_raw_piece():
    tokenizer = _bpe_tokenizer()
    pairs = shown_pairs(tokenizer, ["Ġthe", "fox"])
    assert pairs == (ShownToken("␣the", "Ġthe"), ShownToken("fox", "fox"))


def test_bundled_minilm_wordpiece_unchanged():
    from transformers import AutoTokenizer

    from explorer.pipeline.checkpoints import minilm_folder

    try:
        folder = minilm_folder()
    except Exception:  # the package is not installed here
        pytest.skip("bundled MiniLM not installed")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("Tokenizers split words")["input_ids"])
    assert scheme_of(tokenizer).kind == "wordpiece"
    assert shown_tokens(tokenizer, pieces) == tuple(pieces)


@pytest.mark.skipif(not (SMOLLM2 / "tokenizer.json").exists(), reason="SmolLM2 not prepared")
def test_bundled_smollm2_byte_level():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(SMOLLM2))
    ids = tokenizer(HARD, add_special_tokens=False)["input_ids"]
    texts = shown_tokens(tokenizer, tokenizer.convert_ids_to_tokens(ids))
    assert "␣Paris" in texts and "↵" in texts
    assert all(t and not any(m in t for m in RAW_MARKERS) for t in texts)
    assert _undisplay("".join(texts)) == tokenizer.decode(ids)
    assert shown_tokens(tokenizer, ["<|im_end|>"]) == ("<|im_end|>",)
