"""Shared fixtures: tiny checkpoints built from configs and written with save_pretrained, so the
real from_pretrained path runs in unit tests, in well under a second each."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
    "The quick brown fox jumps over the lazy dog.",
    "Transformers turn tokens into vectors, layer by layer.",
    "Attention lets every token look at every other token.",
    "Tokenizers split text into words, subwords or characters.",
] * 20


def _wordpiece_tokenizer(max_length: int = 64):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    cls, sep = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )
    return tokenizer


def _bpe_tokenizer(max_length: int = 64):
    """Byte-level BPE like GPT-2: no pad token, no token_type_ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_input_names=["input_ids", "attention_mask"],
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        model_max_length=max_length,
    )


def _bert_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        **extra,
    )


def _save(model, tokenizer, folder: Path) -> Path:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import BertModel

    torch.manual_seed(0)
    tokenizer = _wordpiece_tokenizer()
    return _save(BertModel(_bert_config(len(tokenizer))), tokenizer, tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(1)
    tokenizer = _wordpiece_tokenizer()
    config = _bert_config(
        len(tokenizer), id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1}
    )
    return _save(BertForSequenceClassification(config), tokenizer, tmp_path_factory.mktemp("tiny-classifier"))


@pytest.fixture(scope="session")
def tiny_mlm_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import BertForMaskedLM

    torch.manual_seed(2)
    tokenizer = _wordpiece_tokenizer()
    return _save(
        BertForMaskedLM(_bert_config(len(tokenizer))), tokenizer, tmp_path_factory.mktemp("tiny-mlm")
    )


@pytest.fixture(scope="session")
def tiny_gpt_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(3)
    tokenizer = _bpe_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(GPT2LMHeadModel(config), tokenizer, tmp_path_factory.mktemp("tiny-gpt"))


def load_local(folder: Path):
    from explorer.pipeline.checkpoints import local_ref, resolve
    from explorer.pipeline.loading import load_checkpoint

    return load_checkpoint(resolve(local_ref(str(folder))))


@pytest.fixture(scope="session")
def tiny_bert(tiny_bert_dir):
    return load_local(tiny_bert_dir)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_classifier_dir):
    return load_local(tiny_classifier_dir)


@pytest.fixture(scope="session")
def tiny_mlm(tiny_mlm_dir):
    return load_local(tiny_mlm_dir)


@pytest.fixture(scope="session")
def tiny_gpt(tiny_gpt_dir):
    return load_local(tiny_gpt_dir)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    """A Llama-style decoder: RMSNorm, rotary positions, grouped-query attention (4 heads, 2 K/V)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(4)
    tokenizer = _bpe_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(LlamaForCausalLM(config), tokenizer, tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_llama(tiny_llama_dir):
    return load_local(tiny_llama_dir)


@pytest.fixture(scope="session")
def tiny_distilbert_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(5)
    tokenizer = _wordpiece_tokenizer()
    config = DistilBertConfig(
        vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64
    )
    return _save(DistilBertModel(config), tokenizer, tmp_path_factory.mktemp("tiny-distilbert"))


@pytest.fixture(scope="session")
def tiny_distilbert(tiny_distilbert_dir):
    return load_local(tiny_distilbert_dir)
