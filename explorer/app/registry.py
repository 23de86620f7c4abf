"""The app's pages: what the router, the home page's links, shared links and lessons need to know
about each. No Streamlit here (explorer.ui builds st.Page objects from it)."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.views import (
    attention,
    classification,
    generation,
    layer,
    model,
    pipeline,
    save_load,
    tokenizer,
)
from explorer.views.links import Param
from explorer.views.settings import link_params


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: the router builds st.Page from it, the home page links to it."""

    path: str  # relative to the entry file
    title: str
    icon: str  # emoji only: a ":material/…:" icon makes the browser fetch an SVG from a font CDN
    blurb: str  # what the page shows, for the home page's links
    url_path: str
    settings: type | None = None  # the view's Settings class: widgets, link parameters, presets

    @property
    def params(self) -> tuple[Param, ...]:
        """The page's settings a shared link carries."""
        return link_params(self.settings) if self.settings else ()


PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "pages/pipeline.py",
        "Pipeline",
        "🏠",
        "the whole pipeline on one screen",
        "pipeline",
        pipeline.Settings,
    ),
    PageSpec(
        "pages/lessons.py",
        "Lessons",
        "🎓",
        "a guided tour of the pipeline for a class, step by step",
        "lessons",
    ),
    PageSpec(
        "pages/tokenizer.py",
        "Tokenizer lab",
        "🔤",
        "tokens and subwords, the course's tokenizer steps, padding, truncation, masks, sentence "
        "pairs, and tokenizer families side by side",
        "tokenizer",
        tokenizer.Settings,
    ),
    PageSpec(
        "pages/model.py",
        "Inside the model",
        "🧠",
        "the config, hidden states layer by layer, and what each head class returns",
        "model",
        model.Settings,
    ),
    PageSpec(
        "pages/layer.py",
        "A layer, step by step",
        "🧱",
        "the input embeddings and one whole layer recomputed from the model's own weights, shape by shape",
        "layer",
        layer.Settings,
    ),
    PageSpec(
        "pages/attention.py",
        "Attention",
        "🔦",
        "heatmaps per layer and head, bertviz views offline, and attention worked step by step",
        "attention",
        attention.Settings,
    ),
    PageSpec(
        "pages/generation.py",
        "Generation",
        "✍️",
        "next-token probabilities, generation step by step, the causal mask and the logit lens",
        "generation",
        generation.Settings,
    ),
    PageSpec(
        "pages/classification.py",
        "Classification",
        "🏷️",
        "logits → probabilities → labels, checked against pipeline(), and a classifier fine-tuned here",
        "classification",
        classification.Settings,
    ),
    PageSpec(
        "pages/ner.py",
        "Token classification (NER)",
        "🪪",
        "a named-entity recognizer fine-tuned here: IOB2 data, labels aligned to sub-tokens, padded "
        "batches, entity-level F1 (seqeval)",
        "ner",
    ),
    PageSpec(
        "pages/save_load.py",
        "Save and load",
        "💾",
        "save_pretrained, the files it writes, and from_pretrained giving identical outputs",
        "save-load",
        save_load.Settings,
    ),
)


def page_for(path: str) -> PageSpec:
    return next(spec for spec in PAGES if spec.path == path)


def go_deeper() -> tuple[pipeline.Link, ...]:
    """The home page's "Go deeper" links: every other page, in the registry's order."""
    return tuple(pipeline.Link(page.path, f"{page.title}: {page.blurb}", page.icon) for page in PAGES[1:])
