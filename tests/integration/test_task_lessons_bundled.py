"""The lesson steps on the course's other tasks, on the bundled MiniLM and the NER model built by
`make models`: each explanation's numbers equal an independent computation (sentence-transformers,
transformers' own pipeline)."""

import numpy as np
import pytest

from explorer.app import lessons
from explorer.app.lessons import LESSON, Facts
from explorer.pipeline import checkpoints
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.loading import load_checkpoint
from explorer.pipeline.run import run_model
from explorer.training import ner
from explorer.views import pipeline as pipeline_view

pytestmark = pytest.mark.bundled


def _facts(ref: str, text: str, settings=None) -> Facts:
    loaded = load_checkpoint(checkpoints.resolve(ref))
    encoding = encode_batch(loaded.batch_tokenizer, text.split("\n"), max_length=loaded.max_tokens)
    return Facts(loaded=loaded, encoding=encoding, run=run_model(loaded, encoding), settings=settings)


def _step(title: str):
    return next(step for step in LESSON if step.title == title)


def _st_vectors(texts):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(checkpoints.minilm_folder()), device="cpu")
    return model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)  # [N, D]


def test_feature_extraction_step_gives_the_course_sentences_cosine():
    step = _step("Feature extraction: a vector per sentence")
    text = lessons.explain_feature_extraction(_facts(step.ref, step.text))
    a, b = _st_vectors(step.text.split("\n"))
    assert f"**{float(a @ b):.3f}**" in text
    assert "0.172" in text  # the course's two sentences, mean pooling with the mask (FACTS.md)
    assert "[2, " in text and ", 384]" in text


def test_zero_shot_step_ranks_labels_as_sentence_transformers_does():
    step = _step("Zero-shot classification")
    assert step.ref == checkpoints.MINILM and step.page == "pages/pipeline.py"
    text = lessons.explain_embedding_zero_shot(_facts(step.ref, step.text, step.settings))
    labels = [label.strip() for label in step.settings.labels.split(",")]
    vectors = _st_vectors([step.text, *labels])
    cosines = vectors[1:] @ vectors[0]  # [K]
    best = labels[int(np.argmax(cosines))]
    assert f"**{best}** comes first" in text
    for label, cosine in zip(labels, cosines, strict=True):
        assert f"{label} {cosine:.3f}" in text
    assert "not the pipeline's way" in text


def test_ner_step_names_the_entities_transformers_pipeline_finds():
    if not (ner.ner_folder() / "config.json").is_file():
        pytest.fail("saved:minilm-ner is not built: run `make models` (python -m explorer.training.ner)")
    from transformers import pipeline

    step = _step("Named entities (token classification)")
    facts = _facts(step.ref, step.text, pipeline_view.Settings(aggregation="first"))
    text = lessons.explain_ner(facts)
    theirs = pipeline(
        "token-classification", model=str(ner.ner_folder()), aggregation_strategy="first", device="cpu"
    )(step.text)
    assert theirs, "the NER model finds no entity in the course's sentence"
    for entity in theirs:
        assert f"**{entity['word']}** ({entity['entity_group']}, {entity['score']:.0%})" in text
    assert "the same" in text.lower()


def test_a_task_step_on_another_checkpoint_says_what_it_needs(tiny_classifier):
    encoding = encode_batch(tiny_classifier.batch_tokenizer, ["a sentence"])
    facts = Facts(loaded=tiny_classifier, encoding=encoding, run=run_model(tiny_classifier, encoding))
    assert "needs a checkpoint with that head" in lessons.explain_ner(facts)
    assert "needs a checkpoint with that head" in lessons.explain_feature_extraction(facts)
