"""Downloads parse back into the numbers the pages show."""

import csv
import io
import json

import numpy as np

from explorer.drawing import exports
from explorer.explain import generation as gen
from explorer.explain.attention import attention_parts, attention_view
from explorer.explain.model_info import trajectory
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.postprocess import classify
from explorer.pipeline.run import run_model

BATCH = ["attention lets every token look", "hello"]


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_attention_exports_round_trip_with_masked_cells_empty(tiny_gpt):
    encoding = encode_batch(tiny_gpt.batch_tokenizer, BATCH)
    run = run_model(tiny_gpt, encoding, attentions=True)
    view = attention_view(attention_parts(run, encoding, causal=True)[0], sentence=1, layer=1, head=2)
    rows = read(exports.attention_csv(view))
    parsed = np.array([[float(x) if x else np.nan for x in row[1:]] for row in rows[1:]])
    np.testing.assert_allclose(parsed, view.matrix, rtol=1e-6)  # NaN where masked, on both sides
    labels = [f"{int(p)} · {t}" for p, t in zip(view.query_positions, view.query_tokens, strict=True)]
    assert rows[0][1:] == labels and [row[0] for row in rows[1:]] == labels
    payload = json.loads(exports.attention_json(view))
    weights = np.array([[np.nan if x is None else x for x in row] for row in payload["weights"]])
    np.testing.assert_allclose(weights, view.matrix, atol=1e-6)
    assert payload["tokens"] == list(view.query_tokens)


def test_probabilities_export(tiny_classifier):
    encoding = encode_batch(tiny_classifier.batch_tokenizer, BATCH)
    results = classify(run_model(tiny_classifier, encoding).logits, tiny_classifier.config)
    rows = list(csv.DictReader(io.StringIO(exports.probabilities_csv(results, BATCH))))
    for row, result in zip(rows, results, strict=True):
        assert row["sentence"] == BATCH[result.sentence] and row["predicted"] == result.predicted
        np.testing.assert_allclose([float(row["P(NEGATIVE)"]), float(row["P(POSITIVE)"])], result.scores)
        np.testing.assert_allclose(
            [float(row["logit NEGATIVE"]), float(row["logit POSITIVE"])], result.logits
        )


def test_candidates_export(tiny_gpt):
    ids = gen.prompt_ids(tiny_gpt, "The", chat=False)
    top = gen.candidates(tiny_gpt, gen.next_token_logits(tiny_gpt, ids), gen.Sampling(top_k=3), k=5)
    rows = list(csv.DictReader(io.StringIO(exports.candidates_csv(top))))
    assert [int(r["token_id"]) for r in rows] == list(top.token_ids)
    np.testing.assert_allclose([float(r["probability"]) for r in rows], top.raw)
    np.testing.assert_allclose([float(r["probability_after_sampling_settings"]) for r in rows], top.reshaped)


def test_trajectory_export(tiny_bert):
    encoding = encode_batch(tiny_bert.batch_tokenizer, BATCH)
    path = trajectory(run_model(tiny_bert, encoding, hidden_states=True), encoding, 0)
    rows = read(exports.trajectory_csv(path))
    assert rows[0][1:] == list(path.tokens)
    np.testing.assert_allclose([[float(x) for x in row[1:]] for row in rows[1:]], path.norms, rtol=1e-6)
