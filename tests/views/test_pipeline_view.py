"""The home page's View, built for every checkpoint family and checked against the model, its
config and transformers' own pipelines (computed here, independently of explorer.pipeline.postprocess)."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.app.registry import go_deeper
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import MAX_TOKENS
from explorer.pipeline.run import run_model
from explorer.views import pipeline as home
from explorer.views.common import Note, Table

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ("the model reads tokens", "attention is all you need and more")
# Special tokens of the families' tokenizers: a sentence may name one only if the tokenizer has it.
SPECIALS = (
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "[PAD]",
    "[UNK]",
    "<s>",
    "</s>",
    "<mask>",
    "<pad>",
    "<unk>",
    "<|endoftext|>",
)


def sentences_for(loaded) -> tuple[str, ...]:
    mask = loaded.tokenizer.mask_token
    if loaded.head_class == "AutoModelForMaskedLM" and mask:
        return (f"the model reads {mask}", f"attention is all you {mask} and more")
    return SENTENCES


def built(loaded, sentences=None):
    sentences = sentences or sentences_for(loaded)
    encoding = encode_batch(loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding)
    return encoding, run, home.build(loaded, encoding, run)


def model_output(loaded, sentences):
    """The model called here, directly: (batch inputs, output)."""
    batch = loaded.batch_tokenizer(
        list(sentences), padding=True, truncation=True, max_length=loaded.max_tokens, return_tensors="pt"
    )
    accepted = inspect.signature(loaded.model.forward).parameters
    inputs = {k: v for k, v in batch.items() if k in accepted}
    with torch.inference_mode():
        return inputs, loaded.model(**inputs, return_dict=True)


def texts(value, skip=("chips_html", "batch_html", "bars_html", "batch_json", "prediction")) -> list[str]:
    """Every sentence a View shows (HTML fragments, which show tokens themselves, left out)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Note):
        return [value.text]
    if isinstance(value, Table):
        return [str(x) for row in value.rows for item in row.items() for x in item]
    if dataclasses.is_dataclass(value):
        return [
            t for f in dataclasses.fields(value) if f.name not in skip for t in texts(getattr(value, f.name))
        ]
    if isinstance(value, tuple | list):
        return [t for item in value for t in texts(item)]
    return []


def _check_encoder_decoder(loaded, facts):
    """Issue 13: the encoder reads the text, the decoder starts from decoder_start_token_id and
    generates; the page shows what it generated (= generate() called here), both stacks' shapes,
    the T5 prefixes, and the decoder's next-token probabilities (= softmax of a direct forward)."""
    sentences = SENTENCES
    encoding, run, view = built(loaded, sentences)
    batch = loaded.tokenizer(list(sentences), padding=True, return_tensors="pt")
    with torch.inference_mode():
        generated = loaded.model.generate(**batch, do_sample=False, max_new_tokens=20)  # [B, 1 + n]
    config = loaded.config
    assert (generated[:, 0] == config.decoder_start_token_id).all()
    part = view.seq2seq
    start_token = loaded.tokenizer.convert_ids_to_tokens(config.decoder_start_token_id)
    assert f"`{start_token}` (id {config.decoder_start_token_id})" in part.intro.text
    for b, shown in enumerate(part.generated):
        row = generated[b, 1:].tolist()
        if config.eos_token_id in row:
            row = row[: row.index(config.eos_token_id) + 1]
        assert shown.ids == tuple(row)
        assert shown.text == loaded.tokenizer.decode(row, skip_special_tokens=True)
        assert part.table.rows[b]["generated text"] == shown.text
    decoder_layers = getattr(config, "decoder_layers", None) or config.num_decoder_layers
    metrics = {m.label: m.value for m in view.metrics}
    assert metrics["Layers (encoder + decoder)"] == f"{facts.layers} + {decoder_layers}"
    shapes = {row["part"]: row["shape"] for row in part.shapes.rows}
    B, S = batch["input_ids"].shape
    T = run.decoder_input_ids.shape[1]
    assert shapes["encoder hidden states"] == str([facts.layers + 1, B, S, facts.hidden])
    assert shapes["decoder hidden states"] == str([decoder_layers + 1, B, T, facts.hidden])
    assert "translate English to German:" in part.prefixes.text and "summarize:" in part.prefixes.text
    # ③ the decoder's next token, from a forward pass made here on the same decoder inputs
    with torch.inference_mode():
        logits = loaded.model(
            **batch,
            decoder_input_ids=torch.from_numpy(np.array(run.decoder_input_ids)),
            decoder_attention_mask=torch.from_numpy(np.array(run.decoder_attention_mask)),
        ).logits  # [B, T, vocab]
    assert len(view.predictions) == B
    for block in view.predictions:
        b = block.prediction.sentence
        last = int(run.decoder_attention_mask[b].sum()) - 1
        probabilities = torch.softmax(logits[b, last].double(), dim=-1)
        top = torch.topk(probabilities, len(block.prediction.scores))
        assert block.prediction.scores == pytest.approx(top.values.tolist(), abs=1e-5)
        assert "decoder" in block.title
    assert "decoder" in view.postprocess_intro.text


def test_view_for_every_family(family):
    assert family.loaded is not None, family.load_error
    loaded, facts = family.loaded, family.family
    if facts.kind == "encoder-decoder":
        _check_encoder_decoder(loaded, facts)
        return
    sentences = sentences_for(loaded)
    encoding, run, view = built(loaded, sentences)
    inputs, output = model_output(loaded, sentences)

    # ① the batch: shape of the tensor the model really got
    B, S = inputs["input_ids"].shape
    assert view.batch_title.endswith(f"[{B}, {S}]")
    assert len(view.sentences) == B and all("data-testid" in s.chips_html for s in view.sentences)

    # ② the config's numbers, never "?"
    metrics = {m.label: m.value for m in view.metrics}
    assert metrics["Layers"] == str(facts.layers)
    assert metrics["Attention heads"] == str(facts.heads)
    assert metrics["Hidden size"] == str(facts.hidden)
    parameters = sum(p.numel() for p in loaded.model.parameters())
    assert metrics["Parameters"] in (f"{parameters:,}", f"{parameters / 1e6:.1f} M")
    assert not any("?" in value for value in metrics.values())
    if facts.kv_heads != facts.heads:
        assert f"share {facts.kv_heads} key/value heads" in view.heads_note.text
    else:
        assert view.heads_note is None

    # ② the outputs table has the shapes the model returned
    shapes = {row["output"]: row["shape"] for row in view.outputs.rows}
    main = "logits" if "logits" in output else "last_hidden_state"
    assert shapes[main] == str(list(output[main].shape))

    # No sentence names a special token the tokenizer does not have.
    own = set(loaded.tokenizer.all_special_tokens)
    for text in texts(view):
        for special in SPECIALS:
            if special in text:
                assert special in own, f"{facts.name}: {text!r} names {special}"

    # ③ postprocessing, against transformers (below) or the model's logits
    if facts.head == "AutoModel":
        # no logits: step ③ is feature extraction (its own section), never "no task head"
        assert view.predictions == () and view.no_predictions is None
        assert view.postprocess_intro is None
        assert "pooling" in view.postprocess_header and "sentence embeddings" in view.postprocess_header
    elif facts.head == "AutoModelForCausalLM":
        assert len(view.predictions) == len(sentences)
        real = inputs["attention_mask"].sum(dim=1)  # right padding: the last real token is at real - 1
        for block in view.predictions:
            b = block.prediction.sentence
            probabilities = torch.softmax(output.logits[b, real[b] - 1].double(), dim=-1)  # [vocab]
            top = torch.topk(probabilities, len(block.prediction.scores))
            assert block.prediction.scores == pytest.approx(top.values.tolist(), abs=1e-5)
            assert block.bars_html and "probabilities" in block.bars_html
        assert "softmax over the vocabulary" in view.postprocess_intro.text
    elif facts.head == "AutoModelForMaskedLM":
        from transformers import pipeline

        fill = pipeline("fill-mask", model=loaded.model, tokenizer=loaded.tokenizer, device="cpu", top_k=5)
        theirs = fill(list(sentences))
        assert len(view.predictions) == len(sentences)
        for block, answer in zip(view.predictions, theirs, strict=True):
            assert block.prediction.scores == pytest.approx([a["score"] for a in answer], abs=1e-5)
    else:
        from transformers import pipeline

        classify = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, top_k=None)
        theirs = classify(list(sentences))
        for block, answer in zip(view.predictions, theirs, strict=True):
            ours = dict(zip(block.prediction.labels, block.prediction.scores, strict=True))
            assert set(ours) == {a["label"] for a in answer}
            for a in answer:
                assert ours[a["label"]] == pytest.approx(a["score"], abs=1e-5)
        if facts.pipeline_function == "none":
            assert view.postprocess_header == "③ Postprocessing: logits → scores"
        else:  # the function pipeline() applies, named in the header
            assert (
                view.postprocess_header
                == f"③ Postprocessing: logits → {facts.pipeline_function} → labelled probabilities"
            )
            assert all(block.bars_html for block in view.predictions)
        assert facts.pipeline_function in view.postprocess_intro.text or facts.pipeline_function == "none"


@pytest.mark.parametrize("family", ["cls-regression"], indirect=True)
def test_regression_shows_the_raw_score_as_a_number(family):
    assert family.family.pipeline_function == "none"
    loaded = family.loaded
    _, _, view = built(loaded)
    _, output = model_output(loaded, SENTENCES)
    raw = output.logits[:, 0].tolist()  # [B] the head's raw scores
    for block, score in zip(view.predictions, raw, strict=True):
        assert block.bars_html is None  # a score is not a probability: no bar
        assert f"**{score:.4f}**" in block.score.text
        assert block.prediction.scores[0] == pytest.approx(score, abs=1e-5)
        assert "probabilit" not in (block.title + block.score.text).lower()
    assert "probabilit" not in (view.postprocess_header + view.postprocess_intro.text).lower()
    assert "no function" in view.postprocess_intro.text


@pytest.mark.parametrize("family", ["gpt2"], indirect=True)
def test_gpt2_numbers_come_from_n_layer_n_head_n_embd(family):
    config = family.loaded.config
    _, _, view = built(family.loaded)
    metrics = {m.label: m.value for m in view.metrics}
    assert (metrics["Layers"], metrics["Attention heads"], metrics["Hidden size"]) == (
        str(config.n_layer),
        str(config.n_head),
        str(config.n_embd),
    )


def test_config_value_reads_the_first_name_present():
    class Config:
        n_layer = 7
        num_attention_heads = None

    assert home.config_value(Config(), *home.LAYER_NAMES) == 7
    assert home.config_value(Config(), *home.HEAD_NAMES) is None
    assert home.parameters_text(22_700_000) == "22.7 M"
    assert home.parameters_text(41_234) == "41,234"


def test_links_go_to_every_other_page():
    links = go_deeper()  # the home page's "Go deeper" links, from the page registry
    paths = [link.path for link in links]
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
    assert sorted(paths + ["pages/pipeline.py"]) == pages
    assert all(link.label and link.icon for link in links)


def test_long_sentence_is_cut_on_screen_and_truncation_is_said(tiny_bert):
    long = "tokens " * 200
    encoding, _, view = built(tiny_bert, (long,))
    first = view.sentences[0]
    assert first.text.endswith(f"… ({len(long):,} characters)") and len(first.text) < len(long)
    assert encoding.truncated[0] > 0
    assert (
        first.truncation.kind == "warning"
        and f"{encoding.truncated[0]:,} token(s) were cut" in first.truncation.text
    )
    # tiny BERT: 64 positions, below the app's cap, so the model's limit cut it; both are named
    positions = tiny_bert.config.max_position_embeddings
    assert first.truncation.text.startswith(f"Sentence 0 was cut to {positions} tokens")
    assert "by the model's own limit" in first.truncation.text
    assert f"{positions} positions (max_position_embeddings)" in first.truncation.text
    assert f"the app's cap is {MAX_TOKENS}" in first.truncation.text
