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


@dataclass(frozen=True, kw_only=True)
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
        path="pages/pipeline.py",
        title="Pipeline",
        icon="🏠",
        blurb="the whole pipeline on one screen",
        url_path="pipeline",
        settings=pipeline.Settings,
    ),
    PageSpec(
        path="pages/lessons.py",
        title="Lessons",
        icon="🎓",
        blurb="a guided tour of the pipeline for a class, step by step",
        url_path="lessons",
    ),
    PageSpec(
        path="pages/tokenizer.py",
        title="Tokenizer lab",
        icon="🔤",
        blurb="tokens and subwords, the course's tokenizer steps, padding, truncation, masks, sentence "
        "pairs, and tokenizer families side by side",
        url_path="tokenizer",
        settings=tokenizer.Settings,
    ),
    PageSpec(
        path="pages/model.py",
        title="Inside the model",
        icon="🧠",
        blurb="the config, hidden states layer by layer, and what each head class returns",
        url_path="model",
        settings=model.Settings,
    ),
    PageSpec(
        path="pages/layer.py",
        title="A layer, step by step",
        icon="🧱",
        blurb="the input embeddings and one whole layer recomputed from the model's own weights, shape by shape",
        url_path="layer",
        settings=layer.Settings,
    ),
    PageSpec(
        path="pages/attention.py",
        title="Attention",
        icon="🔦",
        blurb="heatmaps per layer and head, bertviz views offline, and attention worked step by step",
        url_path="attention",
        settings=attention.Settings,
    ),
    PageSpec(
        path="pages/generation.py",
        title="Generation",
        icon="✍️",
        blurb="next-token probabilities, generation step by step, the causal mask and the logit lens",
        url_path="generation",
        settings=generation.Settings,
    ),
    PageSpec(
        path="pages/classification.py",
        title="Classification",
        icon="🏷️",
        blurb="logits → probabilities → labels, checked against pipeline(), and a classifier fine-tuned here",
        url_path="classification",
        settings=classification.Settings,
    ),
    PageSpec(
        path="pages/ner.py",
        title="Token classification (NER)",
        icon="🪪",
        blurb="a named-entity recognizer fine-tuned here: IOB2 data, labels aligned to sub-tokens, padded "
        "batches, entity-level F1 (seqeval)",
        url_path="ner",
    ),
    PageSpec(
        path="pages/save_load.py",
        title="Save and load",
        icon="💾",
        blurb="save_pretrained, the files it writes, and from_pretrained giving identical outputs",
        url_path="save-load",
        settings=save_load.Settings,
    ),
)


def page_for(path: str) -> PageSpec:
    return next(spec for spec in PAGES if spec.path == path)


def go_deeper() -> tuple[pipeline.Link, ...]:
    """The home page's "Go deeper" links: every other page, in the registry's order."""
    return tuple(pipeline.Link(page.path, f"{page.title}: {page.blurb}", page.icon) for page in PAGES[1:])
