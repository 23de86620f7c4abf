"""The checkpoint-family matrix (tests/families.py): each family builds, loads through the app's real
loader, runs through run_model with shapes that match its config, and has the facts it claims.

The facts are checked against the checkpoint itself (config.json, the tokenizer, the weights), never
against numbers copied from the app's own output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from tests.families import (
    ALL_FAMILIES,
    ALL_NAMES,
    FAMILIES,
    NAMES,
    NER,
    NLI,
    TASK_HEAD_NAMES,
    build_and_load,
    build_family,
    family,
)

SENTENCES = ("a short sentence", "another one here")
PAIRS = ("the quick brown fox", "tokens turn into vectors, layer by layer")
CLASSIFIERS = tuple(f.name for f in ALL_FAMILIES if f.kind == "classifier")
TOKEN_CLASSIFIERS = tuple(f.name for f in ALL_FAMILIES if f.kind == "token-classifier")
QUESTION_ANSWERING = tuple(f.name for f in ALL_FAMILIES if f.kind == "question-answering")
MULTIPLE_CHOICE = tuple(f.name for f in ALL_FAMILIES if f.kind == "multiple-choice")
NLI_HEADS = tuple(f.name for f in ALL_FAMILIES if f.nli)
RUNNABLE = ALL_NAMES  # every family loads (encoder-decoders with AutoModelForSeq2SeqLM)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """checkpoint(name) -> FamilyCheckpoint, built and loaded once per module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build_and_load(name, tmp_path_factory.mktemp(f"family-{name}"))
        return cache[name]

    return get


def _loaded(checkpoint, name):
    built = checkpoint(name)
    assert built.load_error is None, f"{name}: the app's loader raised {built.load_error!r}"
    return built.loaded


def _reloaded(checkpoint, name):
    """(tokenizer, config) as the app loaded them."""
    loaded = _loaded(checkpoint, name)
    return loaded.tokenizer, loaded.config


def _direct_logits(model, tokenizer, text):
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits[0].double().numpy()  # [labels]


def test_the_matrix_covers_every_family_and_head_kind():
    assert NAMES == (
        "bert",
        "distilbert",
        "roberta",
        "albert",
        "gpt2",
        "llama",
        "qwen3",
        "t5",
        "bart",
        "cls-single",
        "cls-multi",
        "cls-regression",
        "bert-mlm",
    )
    # Issue 19: the course's other heads on BERT, DistilBERT and RoBERTa, and a decoder classifier.
    assert TASK_HEAD_NAMES == tuple(
        f"{body}-{head}" for head in ("ner", "qa", "mc", "nli") for body in ("bert", "distilbert", "roberta")
    ) + ("llama-cls",)
    assert ALL_NAMES == NAMES + TASK_HEAD_NAMES and len(set(ALL_NAMES)) == len(ALL_NAMES)
    assert {f.kind for f in FAMILIES} == {"encoder", "decoder", "encoder-decoder", "classifier"}
    assert {f.kind for f in ALL_FAMILIES} - {f.kind for f in FAMILIES} == {
        "token-classifier",
        "question-answering",
        "multiple-choice",
    }
    assert {f.tokenizer_family for f in FAMILIES} == {"WordPiece", "BPE", "Unigram"}
    assert family("roberta-qa").head == "AutoModelForQuestionAnswering"
    with pytest.raises(KeyError, match="the families are"):
        family("gpt-5")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_each_family_writes_a_checkpoint_folder(tmp_path, name):
    folder = build_family(name, tmp_path / name)
    fam = family(name)
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == [fam.architecture]
    assert config["model_type"] == fam.model_type
    weights = (folder / "model.safetensors").stat().st_size
    assert weights < 1_000_000, f"{name} writes {weights:,} bytes of weights; the matrix must stay tiny"
    assert (folder / "tokenizer.json").is_file() and (folder / "tokenizer_config.json").is_file()


@pytest.mark.parametrize("name", RUNNABLE)
def test_each_family_loads_through_the_app_loader(checkpoint, name):
    built = checkpoint(name)
    fam = built.family
    loaded = _loaded(checkpoint, name)
    assert built.ref == f"local:{built.folder.resolve()}"
    assert loaded.resolved.location == str(built.folder.resolve())
    assert loaded.head_class == fam.head
    assert loaded.model_class == fam.architecture
    assert loaded.config.model_type == fam.model_type
    assert loaded.model.config._attn_implementation == "eager"
    assert not loaded.model.training
    # The app's run length: at most the tokenizer's and the position table's limit.
    assert loaded.max_tokens == 64


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_encoder_decoders_load_with_their_language_model_head(checkpoint, name):
    """Issue 13: the loader no longer refuses encoder-decoders; it loads the LM head the config
    names (T5ForConditionalGeneration, BartForConditionalGeneration) with AutoModelForSeq2SeqLM."""
    built = checkpoint(name)
    assert built.load_error is None, built.load_error
    loaded = built.loaded
    assert loaded.config.is_encoder_decoder and loaded.is_encoder_decoder and not loaded.is_decoder
    assert loaded.head_class == "AutoModelForSeq2SeqLM"
    assert loaded.model.get_output_embeddings() is not None


def test_t5_needs_decoder_inputs_which_run_model_does_not_give(checkpoint):
    """Why the app cannot simply run T5 like an encoder: the checkpoint itself is fine (it loads
    with AutoModelForSeq2SeqLM and runs with decoder inputs), but a bare forward without
    decoder_input_ids raises."""
    from transformers import AutoModel, AutoModelForSeq2SeqLM

    folder = checkpoint("t5").folder
    tokenizer, _ = _reloaded(checkpoint, "t5")
    batch = tokenizer(list(SENTENCES), padding=True, return_tensors="pt")
    bare = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    assert type(bare).__name__ == "T5Model"
    with torch.no_grad(), pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        bare(**batch)
    seq2seq = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()
    assert type(seq2seq).__name__ == family("t5").architecture
    start = torch.full((len(SENTENCES), 1), seq2seq.config.decoder_start_token_id)
    with torch.no_grad():
        out = seq2seq(**batch, decoder_input_ids=start, output_attentions=True)
    assert out.logits.shape == (len(SENTENCES), 1, seq2seq.config.vocab_size)
    assert len(out.encoder_attentions) == 2 and out.encoder_attentions[0].shape[1] == 4
    assert len(out.cross_attentions) == 2


@pytest.mark.parametrize("name", ALL_NAMES)
def test_config_has_the_sizes_the_family_claims(checkpoint, name):
    tokenizer, config = _reloaded(checkpoint, name)
    fam = family(name)
    assert config.num_hidden_layers == fam.layers
    assert config.num_attention_heads == fam.heads
    assert config.hidden_size == fam.hidden
    assert getattr(config, "num_key_value_heads", config.num_attention_heads) == fam.kv_heads
    assert len(tokenizer) <= config.vocab_size  # every token id has an embedding row
    assert 50 <= config.vocab_size <= 500
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    # RoBERTa's config counts its 2 offset rows; BART's counts positions only (its table adds 2).
    offset = 0 if fam.kind == "encoder-decoder" else fam.position_offset
    expected = None if fam.max_positions is None else fam.max_positions + offset
    assert positions == expected
    if fam.has_labels:
        assert config.num_labels == fam.num_labels == len(fam.labels)
        assert tuple(config.id2label[i] for i in range(config.num_labels)) == fam.labels
        assert {label: i for i, label in enumerate(fam.labels)} == config.label2id
    else:
        assert fam.num_labels is None and not fam.labels
    if fam.is_classifier:
        assert config.problem_type == fam.problem_type
    else:
        assert fam.problem_type is None and fam.pipeline_function is None
    assert fam.nli == ("entailment" in fam.labels)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_tokenizer_reloads_with_its_algorithm_and_special_tokens(checkpoint, name):
    tokenizer, config = _reloaded(checkpoint, name)
    fam = family(name)
    assert type(tokenizer.backend_tokenizer.model).__name__ == fam.tokenizer_family
    assert (tokenizer.pad_token is not None) == fam.has_pad_token
    assert (tokenizer.sep_token is not None) == fam.has_separator
    assert (tokenizer.mask_token is not None) == fam.has_mask_token
    assert ("token_type_ids" in tokenizer.model_input_names) == fam.has_token_type_ids
    assert tokenizer.model_max_length == 64
    # Special tokens are single tokens with the ids the config uses, and survive the round trip.
    for token in tokenizer.all_special_tokens:
        assert tokenizer.tokenize(token) == [token], token
    if fam.has_pad_token:
        assert tokenizer.pad_token_id == config.pad_token_id
    unk = tokenizer.unk_token_id
    if unk is not None:
        ids = tokenizer(" ".join(SENTENCES + PAIRS))["input_ids"]
        assert unk not in ids  # the trained vocabulary covers plain English letters


@pytest.mark.parametrize("name", ALL_NAMES)
def test_pair_encoding_follows_the_family_template(checkpoint, name):
    tokenizer, _ = _reloaded(checkpoint, name)
    encoded = tokenizer(SENTENCES[0], PAIRS[0])
    parts = []
    for token, segment in zip(encoded.tokens(), encoded.sequence_ids(), strict=True):
        part = token if segment is None else "AB"[segment]
        if part in ("A", "B") and parts and parts[-1] == part:
            continue
        parts.append(part)
    assert " ".join(parts) == family(name).pair_template


@pytest.mark.parametrize("name", RUNNABLE)
def test_pair_batches_carry_token_type_ids_only_where_the_family_has_them(checkpoint, name):
    loaded = _loaded(checkpoint, name)
    fam = family(name)
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, PAIRS, max_length=loaded.max_tokens)
    if not fam.has_token_type_ids:
        assert encoding.token_type_ids is None
        return
    sep = loaded.tokenizer.sep_token_id
    for row, ids, mask in zip(
        encoding.token_type_ids, encoding.input_ids, encoding.attention_mask, strict=True
    ):
        first_sep = int(np.flatnonzero(ids == sep)[0])
        real = int(mask.sum())
        expected = np.zeros_like(row)
        expected[first_sep + 1 : real] = 1  # the second segment and its closing separator
        np.testing.assert_array_equal(row, expected)
        assert row[: first_sep + 1].sum() == 0 and row[first_sep + 1 : real].all()


@pytest.mark.parametrize("name", RUNNABLE)
def test_run_model_shapes_match_the_config(checkpoint, name):
    loaded = _loaded(checkpoint, name)
    fam, config = family(name), loaded.config
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, hidden_states=True, attentions=True)
    B, S = encoding.shape
    L, H, D = config.num_hidden_layers, config.num_attention_heads, config.hidden_size
    assert (L, H, D) == (fam.layers, fam.heads, fam.hidden)
    assert run.hidden_states.shape == (L + 1, B, S, D)
    assert run.attentions.shape == (L, B, H, S, S)  # query heads, even with fewer K/V heads
    real = encoding.attention_mask.astype(bool)  # [B, S]
    rows = run.attentions.sum(axis=-1).transpose(0, 2, 1, 3)  # [L, H, B, S]
    np.testing.assert_allclose(rows[:, :, real], 1.0, atol=1e-5)  # each real query's row sums to 1
    returned = {o.name: o.shape for o in run.outputs}
    if fam.kind == "classifier":
        assert run.logits.shape == (B, fam.num_labels)
    elif fam.kind == "token-classifier":  # [batch, sequence, labels]
        assert run.token_logits.shape == returned["logits"] == (B, S, fam.num_labels)
        assert run.logits is None
    elif fam.kind == "question-answering":  # a start and an end score per token
        assert run.start_logits.shape == run.end_logits.shape == returned["start_logits"] == (B, S)
        assert run.logits is None
    elif fam.kind == "multiple-choice":  # run_model reads each sentence as its one choice
        assert returned["logits"] == (B, 1) and run.logits is None
    elif fam.kind in ("decoder", "encoder-decoder"):
        # the next token after each sentence (encoder-decoders: after each decoder sequence)
        assert run.logits.shape == (B, config.vocab_size)
    elif fam.head == "AutoModelForMaskedLM":
        assert run.logits.shape == (0, config.vocab_size)  # no [MASK] in the sentences
    else:
        assert run.logits is None
    if fam.kind not in ("token-classifier", "question-answering"):
        assert run.token_logits is None and run.start_logits is None


@pytest.mark.parametrize("name", RUNNABLE)
def test_attention_is_causal_exactly_where_the_family_says(checkpoint, name):
    """The body's self-attention sees only earlier tokens (decoders, and a decoder under a
    classification head) or the whole text: read from the attention weights the model returns."""
    loaded = _loaded(checkpoint, name)
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES[:1], max_length=loaded.max_tokens)
    run = run_model(loaded, encoding, attentions=True)
    S = encoding.shape[1]
    later = np.triu(np.ones((S, S), dtype=bool), k=1)  # key after query
    reads_later = bool((run.attentions[..., later] > 0).any())
    assert reads_later == (not family(name).causal)
    if family(name).causal:
        assert family(name).kind in ("decoder", "classifier") and name in (
            "gpt2",
            "llama",
            "qwen3",
            "llama-cls",
        )


@pytest.mark.parametrize("name", RUNNABLE)
def test_a_sentence_at_the_token_limit_runs(checkpoint, name):
    """max_tokens tokens fit the position table (RoBERTa's offset of 2 included)."""
    loaded = _loaded(checkpoint, name)
    text = " ".join(PAIRS * 40)
    encoding = encode_batch(loaded.batch_tokenizer, (text,), max_length=loaded.max_tokens)
    assert encoding.shape == (1, loaded.max_tokens) and encoding.truncated[0] > 0
    run = run_model(loaded, encoding, hidden_states=True)
    assert run.hidden_states.shape[2] == loaded.max_tokens


# --- Family-specific facts ------------------------------------------------------------------------


def test_bert_pairs_have_second_segment_type_ids(checkpoint):
    tokenizer = _loaded(checkpoint, "bert").tokenizer
    encoded = tokenizer(SENTENCES[0], SENTENCES[1])
    tokens, types = encoded.tokens(), encoded["token_type_ids"]
    second = tokens.index("[SEP]") + 1
    assert set(types[:second]) == {0} and set(types[second:]) == {1}
    assert tokens[-1] == "[SEP]" and tokens.count("[SEP]") == 2


def test_distilbert_takes_no_token_type_ids(checkpoint):
    loaded = _loaded(checkpoint, "distilbert")
    assert "token_type_ids" not in loaded.tokenizer(SENTENCES[0], SENTENCES[1])
    assert "token_type_ids" not in loaded.model.forward.__code__.co_varnames


def test_roberta_pads_with_id_1_and_offsets_positions_by_2(checkpoint):
    loaded = _loaded(checkpoint, "roberta")
    tokenizer, config, embeddings = loaded.tokenizer, loaded.config, loaded.model.embeddings
    assert tokenizer.pad_token == "<pad>" and tokenizer.pad_token_id == 1 == config.pad_token_id
    assert (
        (tokenizer.cls_token_id, tokenizer.sep_token_id)
        == (0, 2)
        == (config.bos_token_id, config.eos_token_id)
    )
    assert config.type_vocab_size == 1
    assert embeddings.padding_idx == 1
    assert embeddings.position_embeddings.num_embeddings == config.max_position_embeddings == 64 + 2
    # The embedding layer reads positions 2, 3, …: recompute it by hand with that offset.
    ids = torch.tensor([tokenizer(SENTENCES[0])["input_ids"]])  # [1, S]
    S = ids.shape[1]
    with torch.no_grad():
        by_hand = embeddings.LayerNorm(
            embeddings.word_embeddings(ids)
            + embeddings.position_embeddings(torch.arange(2, 2 + S))[None]
            + embeddings.token_type_embeddings(torch.zeros_like(ids))
        )
        got = embeddings(input_ids=ids)
    torch.testing.assert_close(got, by_hand)
    # <mask> swallows the space before it, as in roberta-base.
    assert tokenizer.tokenize("a <mask>")[-1] == "<mask>"


def test_roberta_left_padding_gives_the_same_hidden_states_as_right_padding(checkpoint):
    loaded = _loaded(checkpoint, "roberta")
    sentences = ("a short sentence", "another one here and more words")
    last = {}
    for side in ("right", "left"):
        encoding = encode_batch(
            loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens, padding_side=side
        )
        hidden = run_model(loaded, encoding, hidden_states=True).hidden_states[-1]  # [B, S, D]
        last[side] = hidden[0][encoding.attention_mask[0].astype(bool)]  # the padded sentence
    np.testing.assert_allclose(last["left"], last["right"], atol=1e-4)


def test_albert_factorizes_its_embeddings(checkpoint):
    loaded = _loaded(checkpoint, "albert")
    config, model = loaded.config, loaded.model
    assert config.embedding_size == 16 < config.hidden_size == 32
    assert model.embeddings.word_embeddings.embedding_dim == 16
    mapping = model.encoder.embedding_hidden_mapping_in
    assert (mapping.in_features, mapping.out_features) == (16, 32)
    assert loaded.tokenizer.pad_token_id == 0 and loaded.tokenizer.tokenize("short")[0].startswith("▁")


def test_gpt2_has_no_pad_token_and_the_app_pads_with_eos(checkpoint):
    loaded = _loaded(checkpoint, "gpt2")
    assert loaded.tokenizer.pad_token is None  # the shared tokenizer stays as shipped
    assert loaded.batch_tokenizer is not loaded.tokenizer
    assert loaded.batch_tokenizer.pad_token == loaded.tokenizer.eos_token == "<|endoftext|>"
    assert loaded.config.n_inner is None
    assert loaded.model.transformer.h[0].mlp.c_fc.nf == 4 * loaded.config.n_embd


@pytest.mark.parametrize("name", ["llama", "qwen3"])
def test_grouped_query_attention_has_fewer_key_value_heads(checkpoint, name):
    loaded = _loaded(checkpoint, name)
    fam, config = family(name), loaded.config
    attention = loaded.model.model.layers[0].self_attn
    assert config.num_key_value_heads == fam.kv_heads == 2 < config.num_attention_heads
    assert attention.q_proj.out_features == fam.heads * fam.head_dim
    assert attention.k_proj.out_features == attention.v_proj.out_features == fam.kv_heads * fam.head_dim


def test_qwen3_head_dim_is_not_hidden_over_heads(checkpoint):
    loaded = _loaded(checkpoint, "qwen3")
    config, attention = loaded.config, loaded.model.model.layers[0].self_attn
    assert config.head_dim == 16 != config.hidden_size // config.num_attention_heads
    assert attention.q_proj.in_features == 32 and attention.q_proj.out_features == 64
    assert attention.o_proj.in_features == 64 and attention.o_proj.out_features == 32
    assert loaded.tokenizer.pad_token == "<|endoftext|>" != loaded.tokenizer.eos_token


def test_t5_pads_with_0_starts_decoding_with_pad_and_ends_with_eos(checkpoint):
    tokenizer, config = _reloaded(checkpoint, "t5")
    assert config.is_encoder_decoder
    assert tokenizer.pad_token_id == 0 == config.pad_token_id == config.decoder_start_token_id
    assert tokenizer.eos_token == "</s>" and tokenizer.eos_token_id == config.eos_token_id
    assert tokenizer(SENTENCES[0])["input_ids"][-1] == tokenizer.eos_token_id
    assert (config.d_model, config.d_kv, config.num_heads, config.num_layers) == (32, 8, 4, 2)


def test_bert_mlm_scores_the_vocabulary_at_the_mask(checkpoint):
    loaded = _loaded(checkpoint, "bert-mlm")
    encoding = encode_batch(loaded.batch_tokenizer, ("a short [MASK]",), max_length=loaded.max_tokens)
    run = run_model(loaded, encoding)
    mask_at = int(np.flatnonzero(encoding.input_ids[0] == loaded.tokenizer.mask_token_id)[0])
    assert run.logit_positions.tolist() == [[0, mask_at]]
    assert run.logits.shape == (1, loaded.config.vocab_size)


# --- What pipeline("text-classification") returns: the truth the app must match -----------------


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


FUNCTIONS = {"softmax": _softmax, "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "none": lambda x: x}


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_text_classification_pipeline_scores(checkpoint, name):
    from transformers import pipeline

    loaded = _loaded(checkpoint, name)
    fam = family(name)
    classify = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, top_k=None)
    results = classify(list(SENTENCES))
    for text, result in zip(SENTENCES, results, strict=True):
        logits = _direct_logits(loaded.model, loaded.tokenizer, text)  # [labels]
        scores = np.array([next(r["score"] for r in result if r["label"] == label) for label in fam.labels])
        assert [r["score"] for r in result] == sorted((r["score"] for r in result), reverse=True)
        assert len(result) == fam.num_labels
        matching = [f for f, apply in FUNCTIONS.items() if np.allclose(scores, apply(logits), atol=1e-5)]
        assert matching == [fam.pipeline_function], (name, logits, scores)


# --- The course's other heads (issue 19): what each checkpoint really returns ------------------


@pytest.mark.parametrize("name", TOKEN_CLASSIFIERS)
def test_token_classifiers_label_every_token_as_the_pipeline_does(checkpoint, name):
    """pipeline("token-classification") (aggregation "none") gives each non-special token's best
    label and its softmax probability, from the NER labels the family claims."""
    from transformers import pipeline

    loaded = _loaded(checkpoint, name)
    assert family(name).labels == NER
    text = SENTENCES[1]
    inputs = loaded.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = loaded.model(**inputs).logits[0].double().numpy()  # [S, labels]
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)  # [S, labels]
    tagger = pipeline("token-classification", model=loaded.model, tokenizer=loaded.tokenizer)
    entities = tagger(text, ignore_labels=[])  # "O" kept: every non-special token
    special = loaded.tokenizer(text, return_special_tokens_mask=True)["special_tokens_mask"]
    assert [e["index"] for e in entities] == [i for i, flag in enumerate(special) if not flag]
    for entity in entities:
        best = int(np.argmax(probabilities[entity["index"]]))
        assert entity["entity"] == NER[best]
        assert entity["score"] == pytest.approx(probabilities[entity["index"], best], abs=1e-5)


@pytest.mark.parametrize("name", QUESTION_ANSWERING)
def test_question_answering_heads_score_each_token_as_start_and_end(checkpoint, name):
    loaded = _loaded(checkpoint, name)
    inputs = loaded.tokenizer("where is the fox", PAIRS[0], return_tensors="pt")
    with torch.no_grad():
        output = loaded.model(**inputs)
    S = inputs["input_ids"].shape[1]
    assert output.start_logits.shape == output.end_logits.shape == (1, S)
    assert loaded.model.qa_outputs.out_features == 2  # one linear layer: [hidden] -> (start, end)
    from transformers.pipelines import SUPPORTED_TASKS

    assert "question-answering" not in SUPPORTED_TASKS  # transformers 5 removed the pipeline


@pytest.mark.parametrize("name", MULTIPLE_CHOICE)
def test_multiple_choice_heads_give_one_logit_per_choice(checkpoint, name):
    """The head reads [batch, choices, sequence] and returns [batch, choices]; each choice's logit
    does not depend on the other choices."""
    loaded = _loaded(checkpoint, name)
    prompt, choices = SENTENCES[0], list(PAIRS)
    batch = loaded.tokenizer([prompt] * len(choices), choices, padding=True, return_tensors="pt")
    together = {key: value[None] for key, value in batch.items()}  # each [1, C, S]
    with torch.no_grad():
        logits = loaded.model(**together).logits  # [1, C]
        alone = [
            loaded.model(**{k: v[None] for k, v in loaded.tokenizer(prompt, c, return_tensors="pt").items()})
            .logits[0, 0]
            .item()
            for c in choices
        ]
    assert logits.shape == (1, len(choices))
    np.testing.assert_allclose(logits[0].numpy(), alone, atol=1e-5)


@pytest.mark.parametrize("name", NLI_HEADS)
def test_nli_heads_serve_the_zero_shot_pipeline(checkpoint, name):
    """pipeline("zero-shot-classification") finds the entailment label by name and scores each
    candidate label with the (sentence, "This example is {label}.") pair: entailment against
    contradiction, softmax over the labels."""
    from transformers import pipeline

    loaded = _loaded(checkpoint, name)
    assert family(name).labels == NLI and loaded.config.label2id["entailment"] == 2
    labels = ["sports", "science"]
    zero_shot = pipeline("zero-shot-classification", model=loaded.model, tokenizer=loaded.tokenizer)
    result = zero_shot(SENTENCES[0], candidate_labels=labels)
    entailment = []
    for label in labels:
        inputs = loaded.tokenizer(SENTENCES[0], f"This example is {label}.", return_tensors="pt")
        with torch.no_grad():
            entailment.append(loaded.model(**inputs).logits[0, 2].item())
    expected = _softmax(np.array(entailment))
    scores = dict(zip(result["labels"], result["scores"], strict=True))
    np.testing.assert_allclose([scores[label] for label in labels], expected, atol=1e-5)


def test_llama_classifier_reads_the_last_real_token_so_batches_work(checkpoint):
    """LlamaForSequenceClassification scores the last token that is not the pad token id: with the
    config's pad token id (the end-of-sequence token) a padded batch gives each sentence's own logits."""
    loaded = _loaded(checkpoint, "llama-cls")
    assert loaded.config.pad_token_id == loaded.tokenizer.eos_token_id is not None
    assert loaded.tokenizer.pad_token is None  # as shipped: the app pads with EOS on a private copy
    assert family("llama-cls").causal and family("llama-cls").kv_heads == loaded.config.num_key_value_heads
    texts = ("a short one", "a much longer sentence than the first")
    alone = np.stack([_direct_logits(loaded.model, loaded.tokenizer, t) for t in texts])  # [2, labels]
    for side in ("left", "right"):
        encoding = encode_batch(loaded.batch_tokenizer, texts, max_length=64, padding_side=side)
        assert encoding.attention_mask[0].sum() < encoding.shape[1]  # the first is padded
        batch = run_model(loaded, encoding)
        np.testing.assert_allclose(batch.logits, alone, atol=1e-4)
