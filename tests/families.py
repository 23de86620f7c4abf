"""The checkpoint-family matrix: one tiny checkpoint per model family and head kind.

Every checkpoint is built from a config (random weights, seeded), with a tokenizer trained here on
a few sentences (no Hub, no downloads), and written with ``save_pretrained`` so that tests load it
through the app's real path (``load_checkpoint(resolve(local_ref(folder)))``).

This is a plain module, no pytest fixtures: ``tests/views/conftest.py`` turns :data:`FAMILIES` into
a parametrized fixture, ``tests/unit/test_families.py`` checks that each family's facts hold.

Each :class:`Family` carries *facts* a test can check the app against: what kind of model it is,
its tokenizer's algorithm and special tokens, its sizes. They describe the checkpoint as built here
(and as the real checkpoints of that family are), not what the app does with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tests.conftest import CORPUS, _bert_config, _bpe_tokenizer, _save, _wordpiece_tokenizer

# What the checkpoint is, by its head: a bare body ("encoder", "decoder", "encoder-decoder": the
# last two with a language-model head), a sequence "classifier" (any body), or one of the course's
# other task heads on an encoder body.
Kind = Literal[
    "encoder",
    "decoder",
    "encoder-decoder",
    "classifier",
    "token-classifier",
    "question-answering",
    "multiple-choice",
]
TokenizerFamily = Literal["WordPiece", "BPE", "Unigram"]

HIDDEN = 32
LAYERS = 2
HEADS = 4
MAX_POSITIONS = 64


@dataclass(frozen=True)
class Family:
    """One checkpoint family of the matrix and the facts tests check against."""

    name: str  # the parameter id, e.g. "roberta"
    build: Callable[[Path], Path]  # writes the checkpoint into a folder, returns it
    kind: Kind
    architecture: str  # config.architectures[0], e.g. "RobertaModel"
    model_type: str  # config.model_type, e.g. "roberta"
    head: str  # the Auto class that loads the head the checkpoint really has
    tokenizer_family: TokenizerFamily
    has_pad_token: bool  # the tokenizer as saved defines a pad token
    has_token_type_ids: bool  # the tokenizer returns token_type_ids (1s for a pair's 2nd segment)
    has_separator: bool  # the tokenizer defines a sep token between a pair's segments
    has_mask_token: bool
    # What the tokenizer makes of a sentence pair: special tokens by name, A / B for the segments.
    pair_template: str
    layers: int = LAYERS
    heads: int = HEADS  # query heads: the H axis of the attention weights
    kv_heads: int = HEADS  # key/value heads (fewer than `heads` with grouped-query attention)
    hidden: int = HIDDEN  # D axis of the hidden states
    head_dim: int = HIDDEN // HEADS  # width of one head (not always hidden / heads: Qwen3)
    max_positions: int | None = MAX_POSITIONS  # longest input the model takes (None: relative)
    position_offset: int = 0  # RoBERTa: positions start at padding_idx + 1 = 2
    num_labels: int | None = None  # classifiers only
    problem_type: str | None = None  # classifiers only
    labels: tuple[str, ...] = ()  # classifiers: id2label in id order
    # What pipeline("text-classification") applies to the logits: "softmax", "sigmoid" or "none".
    pipeline_function: str | None = None
    # The body's self-attention is causal (each token sees only itself and the tokens before it):
    # decoders, and a decoder body under a classification head (LlamaForSequenceClassification).
    causal: bool = False
    # A natural-language-inference head: its labels are contradiction / neutral / entailment.
    nli: bool = False

    @property
    def is_classifier(self) -> bool:
        return self.kind == "classifier"

    @property
    def has_labels(self) -> bool:
        """The head scores labels named in config.id2label (sequence and token classifiers)."""
        return self.kind in ("classifier", "token-classifier")


SENTIMENT = ("NEGATIVE", "NEUTRAL", "POSITIVE")
TOPICS = ("SPORTS", "POLITICS", "SCIENCE")
SCORE = ("SCORE",)
NER = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")  # the CoNLL-2003 tags, no MISC
NLI = ("contradiction", "neutral", "entailment")  # roberta-large-mnli's order


# --- Tokenizers trained here ------------------------------------------------------------------


def _byte_level_bpe(specials: list[str], vocab_size: int = 400):
    """A byte-level BPE backend (GPT-2 / RoBERTa / Qwen style) trained on CORPUS; specials first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return backend


def _roberta_tokenizer(max_length: int = MAX_POSITIONS):
    """RoBERTa's byte-level BPE: <s>=0, <pad>=1, </s>=2, <unk>=3, <mask>=4; pairs are
    ``<s> A </s></s> B </s>``; no token_type_ids."""
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    backend = _byte_level_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    backend.post_processor = processors.RobertaProcessing(
        sep=("</s>", backend.token_to_id("</s>")),
        cls_token=("<s>", backend.token_to_id("<s>")),
        trim_offsets=True,
        add_prefix_space=False,
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_input_names=["input_ids", "attention_mask"],
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token=AddedToken("<mask>", lstrip=True, special=True),
        model_max_length=max_length,
    )


def _qwen_tokenizer(max_length: int = MAX_POSITIONS):
    """Qwen-style byte-level BPE: unlike GPT-2 it has a pad token (<|endoftext|>); EOS is <|im_end|>."""
    from transformers import PreTrainedTokenizerFast

    backend = _byte_level_bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_input_names=["input_ids", "attention_mask"],
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=max_length,
    )


def _unigram_backend(specials: list[str], unk: str, lowercase: bool, vocab_size: int = 300):
    """A SentencePiece-style Unigram backend: Metaspace pre-tokenizer ("▁" marks a word start)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    backend = Tokenizer(models.Unigram())
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"'), normalizers.NFKD()]
    if lowercase:
        steps.append(normalizers.Lowercase())
    backend.normalizer = normalizers.Sequence(steps)
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    backend.train_from_iterator(
        CORPUS,
        trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token=unk),
    )
    # The trainer finds the same pieces every time, but orders pieces whose scores tie (to ~1e-15)
    # differently from run to run. Round the scores and sort ties by piece: the same ids every run.
    trained = json.loads(backend.to_str())["model"]["vocab"]  # [[piece, log-probability], ...]
    pieces = [(piece, round(score, 6)) for piece, score in trained if piece not in specials]
    pieces.sort(key=lambda item: (-item[1], item[0]))
    vocab = [(piece, 0.0) for piece in specials] + pieces
    backend.model = models.Unigram(vocab, unk_id=specials.index(unk), byte_fallback=False)
    return backend


def _albert_tokenizer(max_length: int = MAX_POSITIONS):
    """ALBERT's Unigram: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4; BERT-style pair template
    with token_type_ids."""
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    backend = _unigram_backend(["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"], "<unk>", lowercase=True)
    cls, sep = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        bos_token="[CLS]",
        eos_token="[SEP]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token=AddedToken("[MASK]", lstrip=True, special=True),
        model_max_length=max_length,
    )


def _t5_tokenizer(max_length: int = MAX_POSITIONS):
    """T5's Unigram: <pad>=0, </s>=1, <unk>=2; every segment ends with </s>; no BOS, CLS or SEP."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = _unigram_backend(["<pad>", "</s>", "<unk>"], "<unk>", lowercase=False)
    eos = backend.token_to_id("</s>")
    backend.post_processor = processors.TemplateProcessing(
        single="$A:0 </s>:0", pair="$A:0 </s>:0 $B:0 </s>:0", special_tokens=[("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_input_names=["input_ids", "attention_mask"],
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=max_length,
    )


def _bart_tokenizer(max_length: int = MAX_POSITIONS):
    """BART's byte-level BPE (RoBERTa's): <s>=0, <pad>=1, </s>=2, <unk>=3, <mask>=4; a sentence is
    ``<s> A </s>``, a pair ``<s> A </s></s> B </s>``; no token_type_ids."""
    return _roberta_tokenizer(max_length)


def _distilbert_tokenizer(max_length: int = MAX_POSITIONS):
    """DistilBERT's WordPiece: BERT's vocabulary and template, but no token_type_ids."""
    from transformers import PreTrainedTokenizerFast

    bert = _wordpiece_tokenizer(max_length)
    return PreTrainedTokenizerFast(
        tokenizer_object=bert.backend_tokenizer,
        model_input_names=["input_ids", "attention_mask"],
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


# --- Builders -----------------------------------------------------------------------------------


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _labelled(labels: tuple[str, ...]) -> dict[str, Any]:
    """Config arguments of a head that scores these labels, in id order."""
    return dict(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )


def _after(model: Any, after: Callable[[Any], None] | None) -> Any:
    if after is not None:
        after(model)
    return model


def bert_builder(
    seed: int, model_class: str, after: Callable[[Any], None] | None = None, **extra: Any
) -> Callable[[Path], Path]:
    """BERT's body (WordPiece, token_type_ids) under ``model_class``; ``extra`` goes to the config,
    ``after`` (if given) changes the model's weights before it is saved (the same for the others)."""

    def build(folder: Path) -> Path:
        import transformers

        _seed(seed)
        tokenizer = _wordpiece_tokenizer()
        model = getattr(transformers, model_class)(_bert_config(len(tokenizer), **extra))
        return _save(_after(model, after), tokenizer, folder)

    return build


def distilbert_builder(
    seed: int, model_class: str, after: Callable[[Any], None] | None = None, **extra: Any
) -> Callable[[Path], Path]:
    """DistilBERT's body (learned positions, no token_type_ids) under ``model_class``."""

    def build(folder: Path) -> Path:
        import transformers
        from transformers import DistilBertConfig

        _seed(seed)
        tokenizer = _distilbert_tokenizer()
        config = DistilBertConfig(
            vocab_size=len(tokenizer),
            dim=HIDDEN,
            n_layers=LAYERS,
            n_heads=HEADS,
            hidden_dim=2 * HIDDEN,
            max_position_embeddings=MAX_POSITIONS,
            pad_token_id=tokenizer.pad_token_id,
            **extra,
        )
        return _save(_after(getattr(transformers, model_class)(config), after), tokenizer, folder)

    return build


def roberta_builder(
    seed: int, model_class: str, after: Callable[[Any], None] | None = None, **extra: Any
) -> Callable[[Path], Path]:
    """RoBERTa's body (byte-level BPE, positions from padding_idx + 1) under ``model_class``."""

    def build(folder: Path) -> Path:
        import transformers
        from transformers import RobertaConfig

        _seed(seed)
        tokenizer = _roberta_tokenizer()
        config = RobertaConfig(
            vocab_size=len(tokenizer),
            hidden_size=HIDDEN,
            num_hidden_layers=LAYERS,
            num_attention_heads=HEADS,
            intermediate_size=2 * HIDDEN,
            # Positions start at padding_idx + 1 = 2, so 64 tokens need 66 position embeddings.
            max_position_embeddings=MAX_POSITIONS + 2,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **extra,
        )
        return _save(_after(getattr(transformers, model_class)(config), after), tokenizer, folder)

    return build


_build_bert = bert_builder(10, "BertModel")


def _build_bert_mlm(folder: Path) -> Path:
    from transformers import BertForMaskedLM

    _seed(11)
    tokenizer = _wordpiece_tokenizer()
    return _save(BertForMaskedLM(_bert_config(len(tokenizer))), tokenizer, folder)


_build_distilbert = distilbert_builder(12, "DistilBertModel")


_build_roberta = roberta_builder(13, "RobertaModel")


def _build_albert(folder: Path) -> Path:
    from transformers import AlbertConfig, AlbertModel

    _seed(14)
    tokenizer = _albert_tokenizer()
    config = AlbertConfig(
        vocab_size=len(tokenizer),
        embedding_size=HIDDEN // 2,  # factorized embeddings: 16 wide, projected to 32
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=2 * HIDDEN,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    return _save(AlbertModel(config), tokenizer, folder)


def _build_gpt2(folder: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    _seed(15)
    tokenizer = _bpe_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=MAX_POSITIONS,
        n_embd=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        n_inner=None,  # 4 * n_embd, as in the real gpt2 config
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(GPT2LMHeadModel(config), tokenizer, folder)


def _build_llama(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    _seed(16)
    tokenizer = _bpe_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=2,  # grouped-query attention: 2 query heads share each K/V head
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(LlamaForCausalLM(config), tokenizer, folder)


def _build_llama_classifier(folder: Path) -> Path:
    """A decoder used as a classifier: LlamaForSequenceClassification reads the logits at each
    sentence's last non-pad token, so its config names a pad token id (the end-of-sequence token,
    which is also what the app pads with: the tokenizer, as GPT-2's, has no pad token)."""
    from transformers import LlamaConfig, LlamaForSequenceClassification

    _seed(35)
    tokenizer = _bpe_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        problem_type="single_label_classification",
        **_labelled(SENTIMENT),
    )
    return _save(LlamaForSequenceClassification(config), tokenizer, folder)


def _build_qwen3(folder: Path) -> Path:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    _seed(17)
    tokenizer = _qwen_tokenizer()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=2,
        head_dim=16,  # 4 heads x 16 = 64 != hidden 32: q/k/v project 32 -> 64, o_proj 64 -> 32
        max_position_embeddings=MAX_POSITIONS,
        max_window_layers=LAYERS,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return _save(Qwen3ForCausalLM(config), tokenizer, folder)


def _build_t5(folder: Path) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration

    _seed(18)
    tokenizer = _t5_tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        d_kv=8,
        d_ff=2 * HIDDEN,
        num_layers=LAYERS,
        num_decoder_layers=LAYERS,
        num_heads=HEADS,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=MAX_POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return _save(T5ForConditionalGeneration(config), tokenizer, folder)


def _build_bart(folder: Path) -> Path:
    from transformers import BartConfig, BartForConditionalGeneration

    _seed(22)
    tokenizer = _bart_tokenizer()
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        encoder_layers=LAYERS,
        decoder_layers=LAYERS,
        encoder_attention_heads=HEADS,
        decoder_attention_heads=HEADS,
        encoder_ffn_dim=2 * HIDDEN,
        decoder_ffn_dim=2 * HIDDEN,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,  # as facebook/bart-base: </s> starts the decoder
    )
    model = BartForConditionalGeneration(config)
    # Plain greedy decoding: no end token forced at the length limit (bart-base forces </s> there).
    model.generation_config.forced_eos_token_id = None
    model.config.forced_eos_token_id = None
    return _save(model, tokenizer, folder)


def _classifier_builder(seed: int, labels: tuple[str, ...], problem_type: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        from transformers import BertForSequenceClassification

        _seed(seed)
        tokenizer = _wordpiece_tokenizer()
        config = _bert_config(len(tokenizer), problem_type=problem_type, **_labelled(labels))
        return _save(BertForSequenceClassification(config), tokenizer, folder)

    return build


_WORDPIECE = dict(
    tokenizer_family="WordPiece",
    has_pad_token=True,
    has_token_type_ids=True,
    has_separator=True,
    has_mask_token=True,
    pair_template="[CLS] A [SEP] B [SEP]",
)

FAMILIES: tuple[Family, ...] = (
    Family("bert", _build_bert, "encoder", "BertModel", "bert", "AutoModel", **_WORDPIECE),
    Family(
        "distilbert",
        _build_distilbert,
        "encoder",
        "DistilBertModel",
        "distilbert",
        "AutoModel",
        **{**_WORDPIECE, "has_token_type_ids": False},
    ),
    Family(
        "roberta",
        _build_roberta,
        "encoder",
        "RobertaModel",
        "roberta",
        "AutoModel",
        tokenizer_family="BPE",
        has_pad_token=True,
        has_token_type_ids=False,
        has_separator=True,
        has_mask_token=True,
        pair_template="<s> A </s> </s> B </s>",
        position_offset=2,
    ),
    Family(
        "albert",
        _build_albert,
        "encoder",
        "AlbertModel",
        "albert",
        "AutoModel",
        tokenizer_family="Unigram",
        has_pad_token=True,
        has_token_type_ids=True,
        has_separator=True,
        has_mask_token=True,
        pair_template="[CLS] A [SEP] B [SEP]",
    ),
    Family(
        "gpt2",
        _build_gpt2,
        "decoder",
        "GPT2LMHeadModel",
        "gpt2",
        "AutoModelForCausalLM",
        tokenizer_family="BPE",
        has_pad_token=False,
        has_token_type_ids=False,
        has_separator=False,
        has_mask_token=False,
        pair_template="A B",
        causal=True,
    ),
    Family(
        "llama",
        _build_llama,
        "decoder",
        "LlamaForCausalLM",
        "llama",
        "AutoModelForCausalLM",
        tokenizer_family="BPE",
        has_pad_token=False,
        has_token_type_ids=False,
        has_separator=False,
        has_mask_token=False,
        pair_template="A B",
        causal=True,
        kv_heads=2,
    ),
    Family(
        "qwen3",
        _build_qwen3,
        "decoder",
        "Qwen3ForCausalLM",
        "qwen3",
        "AutoModelForCausalLM",
        tokenizer_family="BPE",
        has_pad_token=True,
        has_token_type_ids=False,
        has_separator=False,
        has_mask_token=False,
        pair_template="A B",
        causal=True,
        kv_heads=2,
        head_dim=16,
    ),
    Family(
        "t5",
        _build_t5,
        "encoder-decoder",
        "T5ForConditionalGeneration",
        "t5",
        "AutoModelForSeq2SeqLM",
        tokenizer_family="Unigram",
        has_pad_token=True,
        has_token_type_ids=False,
        has_separator=False,
        has_mask_token=False,
        pair_template="A </s> B </s>",
        head_dim=8,
        max_positions=None,  # relative position buckets: no position table
    ),
    Family(
        "bart",
        _build_bart,
        "encoder-decoder",
        "BartForConditionalGeneration",
        "bart",
        "AutoModelForSeq2SeqLM",
        tokenizer_family="BPE",
        has_pad_token=True,
        has_token_type_ids=False,
        has_separator=True,
        has_mask_token=True,
        pair_template="<s> A </s> </s> B </s>",
        position_offset=2,  # BART's learned positions start at offset 2, as RoBERTa's
    ),
    Family(
        "cls-single",
        _classifier_builder(19, SENTIMENT, "single_label_classification"),
        "classifier",
        "BertForSequenceClassification",
        "bert",
        "AutoModelForSequenceClassification",
        num_labels=3,
        problem_type="single_label_classification",
        labels=SENTIMENT,
        pipeline_function="softmax",
        **_WORDPIECE,
    ),
    Family(
        "cls-multi",
        _classifier_builder(20, TOPICS, "multi_label_classification"),
        "classifier",
        "BertForSequenceClassification",
        "bert",
        "AutoModelForSequenceClassification",
        num_labels=3,
        problem_type="multi_label_classification",
        labels=TOPICS,
        pipeline_function="sigmoid",
        **_WORDPIECE,
    ),
    Family(
        "cls-regression",
        _classifier_builder(21, SCORE, "regression"),
        "classifier",
        "BertForSequenceClassification",
        "bert",
        "AutoModelForSequenceClassification",
        num_labels=1,
        problem_type="regression",
        labels=SCORE,
        pipeline_function="none",
        **_WORDPIECE,
    ),
    Family(
        "bert-mlm",
        _build_bert_mlm,
        "encoder",
        "BertForMaskedLM",
        "bert",
        "AutoModelForMaskedLM",
        **_WORDPIECE,
    ),
)

_ROBERTA = dict(
    tokenizer_family="BPE",
    has_pad_token=True,
    has_token_type_ids=False,
    has_separator=True,
    has_mask_token=True,
    pair_template="<s> A </s> </s> B </s>",
    position_offset=2,
)
_DISTILBERT = {**_WORDPIECE, "has_token_type_ids": False}
_NER_FACTS = dict(num_labels=len(NER), labels=NER)
_NLI_FACTS = dict(
    num_labels=3,
    problem_type="single_label_classification",
    labels=NLI,
    pipeline_function="softmax",
    nli=True,
)

# The course's other heads on the three encoder bodies (issue 19), and a decoder as a classifier.
TASK_HEADS: tuple[Family, ...] = (
    Family(
        "bert-ner",
        bert_builder(23, "BertForTokenClassification", **_labelled(NER)),
        "token-classifier",
        "BertForTokenClassification",
        "bert",
        "AutoModelForTokenClassification",
        **_NER_FACTS,
        **_WORDPIECE,
    ),
    Family(
        "distilbert-ner",
        distilbert_builder(24, "DistilBertForTokenClassification", **_labelled(NER)),
        "token-classifier",
        "DistilBertForTokenClassification",
        "distilbert",
        "AutoModelForTokenClassification",
        **_NER_FACTS,
        **_DISTILBERT,
    ),
    Family(
        "roberta-ner",
        roberta_builder(25, "RobertaForTokenClassification", **_labelled(NER)),
        "token-classifier",
        "RobertaForTokenClassification",
        "roberta",
        "AutoModelForTokenClassification",
        **_NER_FACTS,
        **_ROBERTA,
    ),
    Family(
        "bert-qa",
        bert_builder(26, "BertForQuestionAnswering"),
        "question-answering",
        "BertForQuestionAnswering",
        "bert",
        "AutoModelForQuestionAnswering",
        **_WORDPIECE,
    ),
    Family(
        "distilbert-qa",
        distilbert_builder(27, "DistilBertForQuestionAnswering"),
        "question-answering",
        "DistilBertForQuestionAnswering",
        "distilbert",
        "AutoModelForQuestionAnswering",
        **_DISTILBERT,
    ),
    Family(
        "roberta-qa",
        roberta_builder(28, "RobertaForQuestionAnswering"),
        "question-answering",
        "RobertaForQuestionAnswering",
        "roberta",
        "AutoModelForQuestionAnswering",
        **_ROBERTA,
    ),
    Family(
        "bert-mc",
        bert_builder(29, "BertForMultipleChoice"),
        "multiple-choice",
        "BertForMultipleChoice",
        "bert",
        "AutoModelForMultipleChoice",
        **_WORDPIECE,
    ),
    Family(
        "distilbert-mc",
        distilbert_builder(30, "DistilBertForMultipleChoice"),
        "multiple-choice",
        "DistilBertForMultipleChoice",
        "distilbert",
        "AutoModelForMultipleChoice",
        **_DISTILBERT,
    ),
    Family(
        "roberta-mc",
        roberta_builder(31, "RobertaForMultipleChoice"),
        "multiple-choice",
        "RobertaForMultipleChoice",
        "roberta",
        "AutoModelForMultipleChoice",
        **_ROBERTA,
    ),
    Family(
        "bert-nli",
        bert_builder(
            32, "BertForSequenceClassification", problem_type="single_label_classification", **_labelled(NLI)
        ),
        "classifier",
        "BertForSequenceClassification",
        "bert",
        "AutoModelForSequenceClassification",
        **_NLI_FACTS,
        **_WORDPIECE,
    ),
    Family(
        "distilbert-nli",
        distilbert_builder(
            33,
            "DistilBertForSequenceClassification",
            problem_type="single_label_classification",
            **_labelled(NLI),
        ),
        "classifier",
        "DistilBertForSequenceClassification",
        "distilbert",
        "AutoModelForSequenceClassification",
        **_NLI_FACTS,
        **_DISTILBERT,
    ),
    Family(
        "roberta-nli",
        roberta_builder(
            34,
            "RobertaForSequenceClassification",
            problem_type="single_label_classification",
            **_labelled(NLI),
        ),
        "classifier",
        "RobertaForSequenceClassification",
        "roberta",
        "AutoModelForSequenceClassification",
        **_NLI_FACTS,
        **_ROBERTA,
    ),
    Family(
        "llama-cls",
        _build_llama_classifier,
        "classifier",
        "LlamaForSequenceClassification",
        "llama",
        "AutoModelForSequenceClassification",
        tokenizer_family="BPE",
        has_pad_token=False,
        has_token_type_ids=False,
        has_separator=False,
        has_mask_token=False,
        pair_template="A B",
        kv_heads=2,
        num_labels=3,
        problem_type="single_label_classification",
        labels=SENTIMENT,
        pipeline_function="softmax",
        causal=True,
    ),
)

# Every family; FAMILIES (above) is the matrix the per-view tests run over, TASK_HEADS the families
# added for issue 19, which tests/views/test_task_heads_pages.py opens every page on.
ALL_FAMILIES: tuple[Family, ...] = FAMILIES + TASK_HEADS
NAMES: tuple[str, ...] = tuple(family.name for family in FAMILIES)
TASK_HEAD_NAMES: tuple[str, ...] = tuple(family.name for family in TASK_HEADS)
ALL_NAMES: tuple[str, ...] = NAMES + TASK_HEAD_NAMES
BY_NAME: dict[str, Family] = {family.name: family for family in ALL_FAMILIES}


def family(name: str) -> Family:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"No family {name!r}; the families are {', '.join(ALL_NAMES)}") from None


@dataclass(frozen=True)
class FamilyCheckpoint:
    """A family's checkpoint written to disk and loaded through the app's real loader."""

    family: Family
    folder: Path
    ref: str  # "local:<folder>", the reference the checkpoint picker stores
    loaded: Any | None  # explorer.pipeline.loading.LoadedCheckpoint, None when loading raised
    load_error: BaseException | None  # what the app's loader raised, None when it loaded


def build_family(name: str, folder: Path) -> Path:
    """Write family ``name``'s checkpoint into ``folder`` (created if missing); return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return family(name).build(folder)


def build_and_load(name: str, folder: Path) -> FamilyCheckpoint:
    """Build family ``name`` into ``folder`` and load it the way the app does:
    ``load_checkpoint(resolve(local_ref(folder)))``. A failing build raises; a failing load is
    recorded in ``load_error`` (so a test can assert on it) instead of raised."""
    from explorer.pipeline.checkpoints import local_ref, resolve
    from explorer.pipeline.loading import load_checkpoint

    built = build_family(name, folder)
    ref = local_ref(str(built))
    try:
        loaded, error = load_checkpoint(resolve(ref)), None
    except Exception as exc:  # recorded, not raised: see load_error
        loaded, error = None, exc
    return FamilyCheckpoint(family(name), built, ref, loaded, error)
