import json

import pytest
import torch

from explorer.errors import CheckpointError
from explorer.pipeline.checkpoints import local_ref, resolve
from explorer.pipeline.loading import head_class_for, load_checkpoint, load_tokenizer


@pytest.mark.parametrize(
    ("architectures", "head"),
    [
        (["BertModel"], "AutoModel"),
        (None, "AutoModel"),
        (["DistilBertForSequenceClassification"], "AutoModelForSequenceClassification"),
        (["GPT2LMHeadModel"], "AutoModelForCausalLM"),
        (["LlamaForCausalLM"], "AutoModelForCausalLM"),
        (["BertForMaskedLM"], "AutoModelForMaskedLM"),
        (["BertForQuestionAnswering"], "AutoModelForQuestionAnswering"),
        (["DistilBertForTokenClassification"], "AutoModelForTokenClassification"),
        (["RobertaForMultipleChoice"], "AutoModelForMultipleChoice"),
        (["BertForPreTraining"], "AutoModel"),
    ],
)
def test_head_class_follows_config_architectures(architectures, head):
    assert head_class_for(architectures) == head


@pytest.mark.parametrize(
    ("fixture", "head", "model_class"),
    [
        ("tiny_bert", "AutoModel", "BertModel"),
        ("tiny_classifier", "AutoModelForSequenceClassification", "BertForSequenceClassification"),
        ("tiny_mlm", "AutoModelForMaskedLM", "BertForMaskedLM"),
        ("tiny_gpt", "AutoModelForCausalLM", "GPT2LMHeadModel"),
    ],
)
def test_loaded_models_are_ready_for_inspection(request, fixture, head, model_class):
    loaded = request.getfixturevalue(fixture)
    assert loaded.head_class == head
    assert loaded.model_class == model_class
    assert not loaded.model.training
    assert loaded.model.config._attn_implementation == "eager"
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert loaded.max_tokens == 64


def test_tokenizer_without_pad_token_gets_a_private_copy(tiny_gpt):
    assert tiny_gpt.tokenizer.pad_token is None  # the shared tokenizer is untouched
    assert tiny_gpt.batch_tokenizer is not tiny_gpt.tokenizer
    assert tiny_gpt.batch_tokenizer.pad_token == tiny_gpt.tokenizer.eos_token
    assert "no pad token" in tiny_gpt.pad_note and "<|endoftext|>" in tiny_gpt.pad_note


def test_tokenizer_with_pad_token_is_used_as_is(tiny_bert):
    assert tiny_bert.batch_tokenizer is tiny_bert.tokenizer
    assert tiny_bert.pad_note is None


def test_checkpoint_needing_remote_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran.txt"
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "explorer-custom",
                "architectures": ["CustomModel"],
                "auto_map": {"AutoConfig": "custom.CustomConfig", "AutoModel": "custom.CustomModel"},
            }
        )
    )
    (tmp_path / "custom.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(CheckpointError, match="trust_remote_code"):
        load_checkpoint(resolve(local_ref(str(tmp_path))))
    assert not marker.exists()


def test_folder_with_config_but_no_weights_says_so(tmp_path, tiny_bert_dir):
    (tmp_path / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    with pytest.raises(CheckpointError, match="Could not load"):
        load_checkpoint(resolve(local_ref(str(tmp_path))))


@pytest.mark.parametrize("kept", [(), ("tokenizer_config.json", "special_tokens_map.json")])
def test_folder_without_tokenizer_files_is_refused_and_says_what_to_do(tmp_path, tiny_bert_dir, kept):
    """transformers loads such a folder as a tokenizer of its 5 special tokens: every word [UNK]."""
    for name in ("config.json", "model.safetensors", *kept):
        if (tiny_bert_dir / name).exists():
            (tmp_path / name).write_bytes((tiny_bert_dir / name).read_bytes())
    resolved = resolve(local_ref(str(tmp_path)))
    for load in (load_checkpoint, load_tokenizer):
        with pytest.raises(CheckpointError) as refused:
            load(resolved)
        message = str(refused.value)
        assert "no tokenizer files" in message and "tokenizer.json" in message and "vocab.txt" in message
        assert "tokenizer.save_pretrained(folder)" in message
    (tmp_path / "tokenizer.json").write_bytes((tiny_bert_dir / "tokenizer.json").read_bytes())
    assert len(load_tokenizer(resolved)) > 5  # with its tokenizer, the same folder loads
