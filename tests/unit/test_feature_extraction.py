"""Feature extraction (explorer.pipeline.tasks.feature_extraction) on tiny checkpoints of every headless
family: pooling as the checkpoint's sentence-transformers files say (checked against
sentence-transformers itself), mean pooling as the app's choice otherwise (checked against the
mean of transformers' own pipeline("feature-extraction") vectors), and the step ③ View."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.pipeline.tasks import TaskInputs
from explorer.pipeline.tasks import feature_extraction as fe
from explorer.views.tasks import feature_extraction as fe_view
from tests.conftest import _bpe_tokenizer, _save, load_local
from tests.families import build_family
from tests.view_contents import note_texts, notes, strings

SENTENCES = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
    "The quick brown fox.",
]
ENCODERS = ("bert", "distilbert", "roberta", "albert")


def _build_gpt2_base(folder: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(30)
    tokenizer = _bpe_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4)
    return _save(GPT2Model(config), tokenizer, folder)


def _build_llama_base(folder: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(31)
    tokenizer = _bpe_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return _save(LlamaModel(config), tokenizer, folder)


DECODERS = {"gpt2-base": _build_gpt2_base, "llama-base": _build_llama_base}
FAMILIES = ENCODERS + tuple(DECODERS)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    built = {}
    for name in FAMILIES:
        folder = tmp_path_factory.mktemp(f"fe-{name}")
        built[name] = DECODERS[name](folder) if name in DECODERS else build_family(name, folder)
    return built


@pytest.fixture(scope="module")
def loaded_families(folders) -> dict:
    return {name: load_local(folder) for name, folder in folders.items()}


def _view(loaded, sentences=SENTENCES, labels="sports, politics, cooking", with_map=False):
    encoding = encode_batch(loaded.batch_tokenizer, sentences, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding)
    view = fe_view.build(loaded, encoding, run, TaskInputs(labels=labels))
    if with_map and view.embedding_map.compute is not None:  # what the page's button does
        view.embedding_map.compute()
        view = fe_view.build(loaded, encoding, run, TaskInputs(labels=labels))
    return view


# --- pooling, by hand ---------------------------------------------------------------------------


def test_pool_by_hand():
    vectors = np.array([[[1.0, 2.0], [3.0, -4.0], [100.0, 100.0]]])  # [1, 3, 2]: the third is padding
    mask = np.array([[1, 1, 0]])

    def pooled(mode: str, normalize: bool = False, weights=mask) -> list[float]:
        pooling = fe.Pooling(mode=mode, normalize=normalize, source="", from_checkpoint=True)
        return fe.pool(vectors, weights, pooling)[0].tolist()

    assert pooled("mean") == [2.0, -1.0]
    assert pooled("max") == [3.0, 2.0]
    assert pooled("cls") == [1.0, 2.0]
    assert pooled("lasttoken") == [3.0, -4.0]
    assert np.allclose(pooled("mean_sqrt_len_tokens"), [4 / np.sqrt(2), -2 / np.sqrt(2)])
    assert np.allclose(pooled("mean", normalize=True), [2 / np.sqrt(5), -1 / np.sqrt(5)])
    assert pooled("cls+mean") == [1.0, 2.0, 2.0, -1.0]
    # Without the mask the padding is averaged in.
    assert np.allclose(pooled("mean", weights=np.ones((1, 3))), [104 / 3, 98 / 3])
    # Left padding: CLS is the first real token, not position 0.
    left = fe.Pooling(mode="cls", normalize=False, source="", from_checkpoint=True)
    assert fe.pool(vectors, np.array([[0, 1, 1]]), left)[0].tolist() == [3.0, -4.0]


# --- pooling from the checkpoint's files ----------------------------------------------------------


def _with_sentence_transformers_files(source: Path, folder: Path, mode: str, normalize: bool) -> Path:
    shutil.copytree(source, folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
        )
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    flags = {
        "pooling_mode_cls_token": mode == "cls",
        "pooling_mode_mean_tokens": mode == "mean",
        "pooling_mode_max_tokens": mode == "max",
        "pooling_mode_mean_sqrt_len_tokens": mode == "mean_sqrt_len_tokens",
        "pooling_mode_lasttoken": mode == "lasttoken",
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **flags}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    return folder


@pytest.mark.parametrize(
    ("mode", "normalize"),
    [
        ("mean", True),
        ("mean", False),
        ("cls", True),
        ("max", False),
        ("mean_sqrt_len_tokens", False),
        ("lasttoken", True),
    ],
)
def test_sentence_embeddings_equal_sentence_transformers(folders, tmp_path, mode, normalize):
    from sentence_transformers import SentenceTransformer

    folder = _with_sentence_transformers_files(folders["bert"], tmp_path / "st", mode, normalize)
    loaded = load_local(folder)
    pooling = fe.pooling_for(loaded)
    assert (pooling.mode, pooling.normalize, pooling.from_checkpoint) == (mode, normalize, True)
    assert pooling.max_tokens == 16
    assert "checkpoint's own files" in pooling.source
    long = "Transformers turn tokens into vectors, layer by layer. " * 4  # longer than max_seq_length
    sentences = [*SENTENCES, long, ""]
    ours = fe.sentence_embeddings(loaded, sentences, batch_size=2)  # [N, D]
    theirs = SentenceTransformer(str(folder), device="cpu").encode(sentences, batch_size=2)
    assert ours.shape == theirs.shape == (len(sentences), 32)
    assert np.abs(ours - theirs).max() <= 1e-5


def test_a_dense_module_is_named_as_not_applied(folders, tmp_path):
    folder = _with_sentence_transformers_files(folders["bert"], tmp_path / "dense", "mean", True)
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(
        2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (folder / "modules.json").write_text(json.dumps(modules))
    pooling = fe.pooling_for(load_local(folder))
    assert pooling.ignored == ("Dense",)
    assert "does not apply" in pooling.source


def test_a_hub_checkpoint_reads_its_files_from_the_hub(folders, tmp_path, monkeypatch):
    """From the Hub, from_pretrained does not fetch modules.json: pooling_for asks for it (wired to
    a local folder here, as this machine has no Hub)."""
    import huggingface_hub

    from explorer.pipeline import loading
    from explorer.pipeline.checkpoints import ResolvedCheckpoint

    folder = _with_sentence_transformers_files(folders["bert"], tmp_path / "hub", "cls", True)
    hub = ResolvedCheckpoint(
        ref="hub:someone/model", label="someone/model (Hub)", source="hub", location="someone/model"
    )
    loaded = dataclasses.replace(load_local(folder), resolved=hub)

    def download(model_id: str, name: str) -> str:
        assert model_id == "someone/model"
        if not (folder / name).is_file():
            raise FileNotFoundError(name)
        return str(folder / name)

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda model_id, name: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(loading, "hub_reachable", lambda: True)
    fe._hub_file.cache_clear()
    pooling = fe.pooling_for(loaded)
    assert (pooling.mode, pooling.normalize, pooling.from_checkpoint, pooling.max_tokens) == (
        "cls",
        True,
        True,
        16,
    )
    monkeypatch.setattr(loading, "hub_reachable", lambda: False)  # offline, not in the cache
    fe._hub_file.cache_clear()
    assert fe.pooling_for(loaded).from_checkpoint is False


@pytest.mark.parametrize("family", FAMILIES)
def test_without_files_mean_pooling_is_the_apps_choice(loaded_families, family):
    loaded = loaded_families[family]
    pooling = fe.pooling_for(loaded)
    assert (pooling.mode, pooling.normalize, pooling.from_checkpoint) == ("mean", False, False)
    assert "app's choice" in pooling.source
    assert ("decoder" in pooling.source) == (family in DECODERS)


@pytest.mark.parametrize("family", FAMILIES)
def test_sentence_embeddings_equal_the_mean_of_pipeline_vectors(folders, loaded_families, family):
    """Independent reference: transformers' own pipeline on the folder, one sentence at a time (no
    padding), mean over its tokens. The app batches them (padding, masks, position ids)."""
    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=str(folders[family]), device="cpu")
    expected = np.stack([np.array(extractor(s)[0]).mean(axis=0) for s in SENTENCES])  # [N, D]
    ours = fe.sentence_embeddings(loaded_families[family], SENTENCES)
    assert np.abs(ours - expected).max() <= 1e-5


# --- the View -------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_view_on_every_headless_family(loaded_families, family):
    loaded = loaded_families[family]
    view = _view(loaded)
    assert view.check.kind == "success" and "the same" in view.check.text
    assert ("It is a decoder" in view.intro.text) == (family in DECODERS)
    assert ("It is an encoder" in view.intro.text) == (family not in DECODERS)
    hidden = loaded.config.hidden_size
    assert view.embeddings_title == f"Sentence embeddings: shape [3, {hidden}]"
    # The mask demo: the padded sentence pooled with the mask is the sentence alone.
    assert view.mask.conclusion.kind == "success"
    rows = {row["way"]: row for row in view.mask.table.rows}
    assert (
        rows["padded; the mask in attention and in pooling (sentence-transformers' way)"][
            "largest |difference|"
        ]
        <= 1e-5
    )
    assert (
        rows["padded; the mask in attention, but pooling counts the padding as real"]["cosine vs alone"]
        < 0.9999
    )
    pad = loaded.batch_tokenizer.pad_token
    assert f"`{pad}`" in view.mask.intro.text and "in this batch it gets" in view.mask.intro.text
    assert f"({loaded.batch_tokenizer.padding_side} padding)" in view.mask.intro.text
    # Nothing about BERT's specials or segments is said of a checkpoint that lacks them.
    text = " ".join(note_texts(view))
    for word in ("[CLS]", "[SEP]", "token_type_ids"):
        assert word not in text


def test_similarity_is_the_cosine_of_the_pipelines_mean_vectors(folders, loaded_families):
    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=str(folders["roberta"]), device="cpu")
    vectors = np.stack([np.array(extractor(s)[0]).mean(axis=0) for s in SENTENCES])  # [N, D]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = unit @ unit.T  # [N, N]
    view = _view(loaded_families["roberta"])
    cells = {(row["sentence"][0], row["other"][0]): row["cosine"] for row in view.similarity_table.rows}
    assert cells == {
        (str(i), str(j)): round(float(expected[i, j]), 4) for i in range(3) for j in range(i + 1, 3)
    }
    assert len(view.similarity.data[0].z) == 3


@pytest.mark.parametrize("family", ["bart", "cls-single"])
def test_a_headed_model_reads_the_layer_below_its_head(tmp_path, family):
    """The registry sends only headless checkpoints here; called directly on a headed one (an
    encoder-decoder, a classifier), nothing says "no task head" or compares with the pipeline."""
    loaded = load_local(build_family(family, tmp_path / family))
    view = _view(loaded)
    assert "has a task head" in view.intro.text and "no task head" not in view.intro.text
    assert view.check.kind == "info" and "Not checked" in view.check.text
    assert ("encoder's" in view.intro.text) == loaded.is_encoder_decoder
    assert view.mask.conclusion.kind == "success"
    expected = (
        loaded.model.get_encoder()(**loaded.tokenizer(SENTENCES[1], return_tensors="pt")).last_hidden_state
        if loaded.is_encoder_decoder
        else loaded.model.base_model(**loaded.tokenizer(SENTENCES[1], return_tensors="pt")).last_hidden_state
    )  # [1, n, D], the sentence alone
    ours = fe.sentence_embeddings(loaded, [SENTENCES[1]])
    assert np.abs(ours[0] - expected[0].detach().numpy().mean(axis=0)).max() <= 1e-5


def test_the_check_says_the_same_only_when_it_is(loaded_families):
    loaded = loaded_families["bert"]
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding)
    moved = dataclasses.replace(run, last_hidden_state=run.last_hidden_state + 1e-3)
    view = fe_view.build(loaded, encoding, moved, TaskInputs())
    assert view.check.kind == "warning"
    assert "the same" not in view.check.text and "1.0e-03" in view.check.text


def test_one_sentence_asks_for_a_second_and_still_shows_the_mask(loaded_families):
    view = _view(loaded_families["bert"], ["Only one sentence here."])
    assert view.similarity is None and "second sentence" in view.similarity_note.text
    assert "beside a longer sentence it would get" in view.mask.intro.text
    n = len(loaded_families["bert"].tokenizer("Only one sentence here.")["input_ids"])
    pads = min(n, fe.DEMO_PADDING)  # as many pad tokens as it has tokens, up to the cap
    assert f"{pads} × `[PAD]`" in view.mask.intro.text and f"to make {n + pads}" in view.mask.intro.text
    assert view.mask.table is not None and view.mask.conclusion.kind == "success"


# --- the embedding way of zero-shot -----------------------------------------------------------------


def test_labels_parsed_with_their_notes():
    assert fe_view.parse_labels("") == ((), ())
    labels, said = fe_view.parse_labels(" sports, , politics,sports ,cooking ")
    assert labels == ("sports", "politics", "cooking")
    assert [n.text for n in said] == ["1 repeated label(s) left out."]
    labels, said = fe_view.parse_labels(", ".join(f"label {i}" for i in range(150)))
    assert len(labels) == fe.MAX_LABELS == 100
    assert "first 100 of 150 labels" in said[0].text


def test_label_part_is_the_embedding_way_never_the_pipelines(loaded_families):
    loaded = loaded_families["distilbert"]
    view = _view(loaded, labels="")
    assert view.labels.table is None and view.labels.heatmap is None
    assert any("Type candidate labels" in n.text for n in view.labels.notes)
    view = _view(loaded, labels="sports, politics")
    assert "the embedding way" in view.labels.intro.text
    assert 'not `pipeline("zero-shot-classification")`' in view.labels.intro.text
    # Cosines by hand: mean-pooled sentences vs mean-pooled labels.
    sentences = fe.sentence_embeddings(loaded, SENTENCES)
    labels = fe.sentence_embeddings(loaded, ["sports", "politics"])
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    expected = unit(sentences) @ unit(labels).T  # [3, 2]
    for row in view.labels.table.rows:
        b, k = int(row["sentence"][0]), ["sports", "politics"].index(row["label"])
        assert row["cosine"] == round(float(expected[b, k]), 4)
    many = _view(loaded, labels=", ".join(f"l{i}" for i in range(120)))
    assert len(many.labels.heatmap.data[0].x) == 100
    assert any("a cap" in n.text for n in many.labels.notes)


# --- bad input ------------------------------------------------------------------------------------


def test_unusual_text_is_shown_escaped(loaded_families, few_bundled):
    hostile = ["<script>alert(1)</script> <b>bold</b>", "🙂🙂 emoji", "漢字のテキスト", "שלום עולם", "x"]
    view = _view(loaded_families["bert"], hostile, labels="<img src=x onerror=alert(1)>, fine", with_map=True)
    for figure in (view.similarity, view.labels.heatmap, view.embedding_map.figure):
        payload = figure.to_json()
        assert "<script>" not in payload and "<img" not in payload and "<b>" not in payload
    assert all(n.kind in ("info", "success", "warning", "caption", "markdown") for n in notes(view))
    assert any("&lt;script&gt;" in s or "<script>" in s for s in strings(view))  # tables keep the text


# --- the embedding map ----------------------------------------------------------------------------


def test_pca_matches_scikit_learn():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    data = rng.normal(size=(50, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    others = rng.normal(size=(4, 6))
    points, placed, kept = fe.pca_2d(data, others)
    reference = PCA(n_components=2).fit(data)
    for axis in range(2):  # PCA's axes are defined up to their sign
        sign = np.sign(points[0, axis] * reference.transform(data)[0, axis])
        assert np.allclose(points[:, axis], sign * reference.transform(data)[:, axis])
        assert np.allclose(placed[:, axis], sign * reference.transform(others)[:, axis])
    assert kept == pytest.approx(reference.explained_variance_ratio_.sum())


@pytest.fixture
def few_bundled(monkeypatch):
    """A smaller bundled set (every 9th sentence of each split: both labels), so the tests stay quick."""
    from explorer.training import finetune

    train, validation = finetune.bundled_dataset()
    few = tuple(finetune.LabelledData(part.texts[::9], part.labels[::9]) for part in (train, validation))
    monkeypatch.setattr(finetune, "bundled_dataset", lambda: few)
    return few


def test_bundled_vectors_are_computed_once_per_checkpoint_files(folders, tmp_path, few_bundled):
    from explorer.training.finetune import bundled_dataset

    folder = shutil.copytree(folders["bert"], tmp_path / "cached")
    loaded = load_local(folder)
    pooling = fe.pooling_for(loaded)
    assert fe.cached_bundled_vectors(loaded, pooling) is None
    first = fe_view.bundled_vectors(loaded, pooling)
    assert fe.cached_bundled_vectors(loaded, pooling) is first
    assert fe_view.bundled_vectors(loaded, pooling) is first
    train, validation = bundled_dataset()
    assert first.vectors.shape == (len(train.texts) + len(validation.texts), 32)
    assert first.seconds > 0 and not first.vectors.flags.writeable
    # The same sentences, independently: the mean of transformers' pipeline vectors.
    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=str(folder), device="cpu")
    expected = np.stack([np.array(extractor(t)[0]).mean(axis=0) for t in train.texts[:5]])
    assert np.abs(first.vectors[:5] - expected).max() <= 1e-5
    # Saved again (new files): not served from memory.
    (folder / "config.json").write_text((folder / "config.json").read_text() + "\n")
    assert fe.cached_bundled_vectors(load_local(folder), pooling) is None
    for _ in range(fe.BUNDLED_CACHE_SIZE + 1):
        fe_view.bundled_vectors(load_local(folder), pooling)
        (folder / "config.json").write_text((folder / "config.json").read_text() + "\n")
    assert len(fe._BUNDLED_CACHE) == fe.BUNDLED_CACHE_SIZE


def test_embedding_map_is_offered_then_places_the_users_sentences(folders, tmp_path, few_bundled):
    loaded = load_local(shutil.copytree(folders["albert"], tmp_path / "map"))
    offered = _view(loaded)
    assert offered.embedding_map.figure is None and offered.embedding_map.nearest is None
    assert (
        offered.embedding_map.offer.startswith("Embed the ")
        and "Not computed yet" in offered.embedding_map.timing.text
    )
    view = _view(loaded, with_map=True)
    assert view.embedding_map.compute is None and view.embedding_map.offer is None
    figure = view.embedding_map.figure
    names = [trace.name for trace in figure.data]
    assert names == ["bundled: NEGATIVE", "bundled: POSITIVE", "your sentences"]
    assert len(figure.data[-1].x) == len(SENTENCES)
    rows = view.embedding_map.nearest.rows
    assert len(rows) == 3 * len(SENTENCES)
    for b in range(len(SENTENCES)):
        cosines = [row["cosine"] for row in rows if row["sentence"].startswith(f"{b} ·")]
        assert cosines == sorted(cosines, reverse=True)
    assert "s to compute, once for this checkpoint" in view.embedding_map.timing.text
