"""Reference answers of transformers 4's ``pipeline("question-answering")``, which version 5 removed.

Two steps, in two environments:

1. ``build`` (the app's venv, transformers 5): writes three tiny question-answering checkpoints
   (BERT, DistilBERT, RoBERTa; random weights from fixed seeds, tokenizers trained on the tests'
   corpus, 64 positions) into ``qa_checkpoints/``. They are committed (about 0.15 MB each): a
   rebuild is not the same bit for bit (the WordPiece trainer orders its vocabulary differently
   from run to run), and the references must not depend on two versions initialising weights
   alike. After a rebuild, run step 2 again::

       .venv/bin/python tests/reference/make_qa_reference.py build

2. ``reference`` (a separate venv with transformers 4)::

       python3.11 -m venv /tmp/tf4 && /tmp/tf4/bin/pip install torch==2.13.0 "transformers<5"
       /tmp/tf4/bin/python tests/reference/make_qa_reference.py reference

   runs version 4's pipeline on each checkpoint and each (question, context) pair below with
   ``top_k=1`` and the default ``doc_stride`` / ``max_answer_len`` / ``max_seq_len``, and writes
   the answers (answer, start, end, score) to ``qa_reference.json``.

``tests/unit/test_question_answering.py`` loads the same checkpoints through the app's loader and
compares explorer.pipeline.tasks.question_answering with these answers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKPOINTS = HERE / "qa_checkpoints"
REFERENCE = HERE / "qa_reference.json"
NAMES = ("bert", "distilbert", "roberta")
# Weights drawn wider than the default 0.02 so that start/end logits differ clearly between tokens
# (near-uniform probabilities would make the best span a near-tie).
INITIALIZER_RANGE = 0.5
POSITIONS = 64
SEEDS = {"bert": 126, "distilbert": 127, "roberta": 128}

_LONG = [
    "Transformers turn tokens into vectors, layer by layer.",
    "Attention lets every token look at every other token.",
    "Tokenizers split text into words, subwords or characters.",
    "The quick brown fox jumps over the lazy dog.",
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
]
# (question, the context's sentences): the app's context is the sentences joined with a space.
PAIRS: list[tuple[str, list[str]]] = [
    ("Where do I work?", ["My name is Sylvain and I work at Hugging Face in Brooklyn."]),
    ("What jumps over the lazy dog?", ["The quick brown fox jumps over the lazy dog."]),
    (
        "What do tokenizers split text into?",
        [
            "Tokenizers split text into words, subwords or characters.",
            "Attention lets every token look at every other token.",
        ],
    ),
    ("Which token is the first?", ["The token, the TOKEN and The Token: the same word three times."]),
    ("What is in the box?", ["<b>bold</b> & <script>alert(1)</script> in the box, café 東京 🙂 שלום."]),
    ("What turns tokens into vectors?", _LONG),  # longer than 64 tokens: windows
    ("Who has been waiting?", _LONG * 3),  # many windows
]


def context(sentences: list[str]) -> str:
    return " ".join(sentences)


def build() -> None:
    """Write the checkpoints (transformers 5, the app's venv)."""
    import torch
    from transformers import (
        BertConfig,
        BertForQuestionAnswering,
        DistilBertConfig,
        DistilBertForQuestionAnswering,
        RobertaConfig,
        RobertaForQuestionAnswering,
    )

    sys.path.insert(0, str(HERE.parent.parent))
    from tests.conftest import _wordpiece_tokenizer
    from tests.families import _distilbert_tokenizer, _roberta_tokenizer

    small = dict(initializer_range=INITIALIZER_RANGE)
    for name in NAMES:
        torch.manual_seed(SEEDS[name])
        if name == "bert":
            tokenizer = _wordpiece_tokenizer(POSITIONS)
            config = BertConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=64,
                max_position_embeddings=POSITIONS,
                **small,
            )
            model = BertForQuestionAnswering(config)
        elif name == "distilbert":
            tokenizer = _distilbert_tokenizer(POSITIONS)
            config = DistilBertConfig(
                vocab_size=len(tokenizer),
                dim=32,
                n_layers=2,
                n_heads=4,
                hidden_dim=64,
                max_position_embeddings=POSITIONS,
                pad_token_id=tokenizer.pad_token_id,
                **small,
            )
            model = DistilBertForQuestionAnswering(config)
        else:
            tokenizer = _roberta_tokenizer(POSITIONS)
            config = RobertaConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=64,
                max_position_embeddings=POSITIONS + 2,  # positions start at padding_idx + 1
                type_vocab_size=1,
                pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **small,
            )
            model = RobertaForQuestionAnswering(config)
        folder = CHECKPOINTS / name
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        print("wrote", folder)


def _v4_tokenizer(folder: Path):
    """The checkpoint's tokenizer as version 4 reads it: the saved tokenizer.json and its
    tokenizer_config.json's special tokens, model_input_names and model_max_length."""
    from transformers import PreTrainedTokenizerFast

    settings = json.loads((folder / "tokenizer_config.json").read_text())
    keep = {
        key: value
        for key, value in settings.items()
        if key.endswith("_token") or key in ("model_input_names", "model_max_length", "padding_side")
    }
    keep = {key: (value["content"] if isinstance(value, dict) else value) for key, value in keep.items()}
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **keep)


def reference() -> None:
    """Run version 4's pipeline (the transformers 4 venv) and write qa_reference.json."""
    import transformers
    from transformers import AutoModelForQuestionAnswering, pipeline

    assert transformers.__version__.startswith("4."), "run this step with transformers 4"
    results: dict[str, object] = {
        "transformers": transformers.__version__,
        "call": "pipeline('question-answering')(question=..., context=..., top_k=1)",
        "pairs": [{"question": q, "sentences": s} for q, s in PAIRS],
        "answers": {},
    }
    for name in NAMES:
        folder = CHECKPOINTS / name
        tokenizer = _v4_tokenizer(folder)
        model = AutoModelForQuestionAnswering.from_pretrained(folder).eval()
        qa = pipeline("question-answering", model=model, tokenizer=tokenizer, device="cpu")
        rows = []
        for question, sentences in PAIRS:
            text = context(sentences)
            answer = qa(question=question, context=text, top_k=1)
            windows = len(
                tokenizer(
                    question,
                    text,
                    truncation="only_second",
                    max_length=min(tokenizer.model_max_length, 384),
                    stride=min(min(tokenizer.model_max_length, 384) // 2, 128),
                    return_overflowing_tokens=True,
                )["input_ids"]
            )
            rows.append(
                {
                    "answer": answer["answer"],
                    "start": int(answer["start"]),
                    "end": int(answer["end"]),
                    "score": float(answer["score"]),
                    "windows": windows,
                }
            )
            print(name, repr(question), rows[-1])
        results["answers"][name] = rows
    REFERENCE.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote", REFERENCE)


if __name__ == "__main__":
    {"build": build, "reference": reference}[sys.argv[1] if len(sys.argv) > 1 else "reference"]()
