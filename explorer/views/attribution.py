"""Why this prediction? Token attributions as a typed view, for the Classification page (a label),
the Generation page (the next token) and fill-mask (the word at the blank).

- :class:`AttributionSettings`: the section's settings; a page's Settings inherits them, so its
  shared link carries the method, the target, the baseline and the occlusion (``?why=true&method=…``);
- :func:`target_options`: what can be explained (labels, or the most likely tokens) with their
  probabilities;
- :func:`build` -> :class:`View`: pure, from :class:`explorer.explain.attribution.Attributions`: token chips
  per method (:func:`chips_html`, colour-blind-safe diverging colours), a bar chart, the
  completeness check, the notes, a table and the CSV / JSON exports;
- :func:`not_available`: the note for a checkpoint the section does not apply to;
- :func:`why_explanation`: one sentence for a lesson step, computed from the numbers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from explorer.drawing.render import readable, visible
from explorer.explain import attribution as at
from explorer.pipeline import postprocess, tasks
from explorer.pipeline import run as runner
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.token_display import shown_tokens
from explorer.views.common import Download, Note, Table, csv_and_json, table
from explorer.views.settings import setting

ATTENTION = "attention (last layer)"
ROLLOUT = "attention rollout"
SHOWN = (*at.METHODS, ATTENTION, ROLLOUT)  # every row of chips, in this order
TOP_TOKENS = 8  # next-token / masked-word candidates offered as targets

# Colour-blind-safe diverging palette (ColorBrewer PuOr ends): purple = towards the target,
# orange = against it; white = nothing.
# Bars: Okabe–Ito colours (told apart with every common colour-vision deficiency).
METHOD_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9")
POSITIVE_RGB = (94, 60, 153)  # #5e3c99
NEGATIVE_RGB = (230, 97, 1)  # #e66101


@dataclass(frozen=True, kw_only=True)
class AttributionSettings:
    """The section's settings; a page's frozen Settings inherits them (its PREFIX keys them)."""

    attr_show: bool = setting(
        "bool", "Why this prediction? Attribute it to the input tokens", False, widget="toggle", url="why"
    )
    attr_method: str = setting(
        "choice", "Show first", at.METHODS[0], choices=SHOWN, widget="radio", url="method"
    )
    attr_target: str = setting("str", "Explain", "", widget="selectbox", url="target")
    attr_baseline: str = setting(
        "choice",
        "Integrated Gradients baseline: word tokens replaced by the",
        at.BASELINES[0],
        choices=at.BASELINES,
        widget="radio",
        url="baseline",
    )
    attr_occlusion: str = setting(
        "choice",
        "Occlusion: each word replaced by the",
        at.OCCLUSIONS[0],
        choices=at.OCCLUSIONS,
        widget="radio",
        url="occlude",
    )
    attr_sentence: int = setting(
        "int", "Sentence to explain", 0, high=7, widget="selectbox", url="why_sentence"
    )


@dataclass(frozen=True)
class Option:
    """One target the section can explain."""

    value: str  # the label, or the token as the tokenizer writes it (what the link carries)
    # Shown in the picker: the label, or the token as it reads (e.g. "' Paris'"). It never carries a
    # number: a picker keeps showing the label its value had when picked, so a probability in it
    # would go stale when the text changes (the numbers are in :func:`scores_note`, rebuilt each run).
    label: str
    score: str  # e.g. "92.2%", or "score 0.123" for a regression head


def target_options(
    loaded: LoadedCheckpoint, encoding: Encoding, kind: str, position: int | None = None
) -> tuple[Option, ...]:
    """Labels (best first) of a classifier, or the TOP_TOKENS most likely tokens at ``position``
    of the one-sentence ``encoding``, with their probabilities."""
    if kind == "label":
        logits = runner.target_logits(loaded, encoding, [0])
        result = postprocess.classify(logits, loaded.config)[0]
        order = np.argsort(-result.scores)
        unit = "" if result.function == "none" else "%"
        return tuple(
            Option(
                result.labels[i],
                result.labels[i],
                f"{result.scores[i]:.1%}" if unit else f"score {result.scores[i]:.3f}",
            )
            for i in order
        )
    if position is None:
        raise ValueError(f"the {kind} targets need a position")
    logits = runner.target_logits(loaded, encoding, [position])  # [1, vocab]
    probabilities = postprocess.apply("softmax", logits)[0]  # [vocab]
    order = np.argsort(-probabilities)[:TOP_TOKENS]
    tokens = loaded.tokenizer.convert_ids_to_tokens([int(i) for i in order])
    shown = shown_tokens(loaded.tokenizer, tokens)
    return tuple(
        Option(token, label, f"{probabilities[i]:.1%}")
        for token, label, i in zip(tokens, shown, order, strict=True)
    )


def scores_note(options: Sequence[Option]) -> Note:
    """The options' probabilities for the text as it is now, e.g. "NEGATIVE 4.5% · POSITIVE 95.5%"."""
    return Note(
        "caption",
        "For this text: " + " · ".join(f"{visible(o.label, quote=False)} {o.score}" for o in options) + ".",
    )


def not_available(loaded: LoadedCheckpoint, kind: str) -> Note | None:
    """Why the section does not apply to this checkpoint (None when it does)."""
    if loaded.is_encoder_decoder:
        return Note(
            "info",
            f"Attributions are not available for encoder-decoders ({loaded.model_class}) here: the "
            "answer depends on the encoder's input and on the decoder's own tokens, and this section "
            "attributes one input sequence.",
        )
    if kind == "label":
        return _no_label(loaded)
    return None


# Heads that score something other than one label per sentence: why this section cannot explain them.
_OTHER_HEADS = {
    tasks.TOKEN_CLASSIFICATION: (
        "its token-classification head gives a label to every token, not one label to the sentence, and "
        "this section explains one label of a whole sentence"
    ),
    tasks.QUESTION_ANSWERING: (
        "its question-answering head scores each token as the start and the end of an answer to a "
        "question (start_logits and end_logits), not a label of the sentence"
    ),
    tasks.MULTIPLE_CHOICE: (
        "its multiple-choice head gives one score per (prompt, choice) pair, compared across the choices, "
        "not a label of one sentence"
    ),
}


def _no_label(loaded: LoadedCheckpoint) -> Note | None:
    """Why a checkpoint has no sentence label this section can explain (None when it has one)."""
    name = loaded.resolved.label
    if loaded.head_class in _OTHER_HEADS:
        return Note(
            "info",
            f"{name} (`{loaded.model_class}`): no sentence label to explain: {_OTHER_HEADS[loaded.head_class]}.",
        )
    if loaded.head_class != tasks.SEQUENCE_CLASSIFICATION:
        return Note("info", f"{name} has no classification head: no label to explain.")
    if tasks.is_nli(loaded.config):
        labels = ", ".join(str(v) for v in (getattr(loaded.config, "id2label", None) or {}).values())
        return Note(
            "info",
            f"{name} is a natural-language-inference head ({labels}): it was trained on sentence pairs "
            "(a premise and a hypothesis), so its label for one sentence alone is not a prediction worth "
            "explaining. Zero-shot classification (the Pipeline page) is how it labels single sentences.",
        )
    return None


# --- Chips -------------------------------------------------------------------------------------------


def _colour(value: float) -> tuple[str, str]:
    """(background, text colour) for a value in [-1, 1]."""
    value = float(np.clip(value, -1.0, 1.0))
    rgb = POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
    strength = abs(value)
    mixed = tuple(round(255 + (c - 255) * strength) for c in rgb)
    text = "#ffffff" if strength > 0.55 else "#10243e"
    return f"rgb({mixed[0]},{mixed[1]},{mixed[2]})", text


CHIP_STYLE = """<style>
.at-chips{display:flex;flex-wrap:wrap;gap:4px;margin:2px 0 8px 0}
.at-chip{display:inline-block;border-radius:5px;padding:2px 6px;border:1px solid #9aa5b1;
  font-size:.95rem;unicode-bidi:isolate;white-space:pre}
.at-chip.at-none{border-style:dashed;color:#6b7785;background:#f4f6f8}
.at-legend{font-size:.78rem;color:#3b4a5a;margin-bottom:4px}
</style>"""


def chips_html(
    tokens: Sequence[str],
    values: Sequence[float] | np.ndarray,
    scale: float | None = None,
    none: Sequence[bool] | np.ndarray = (),
    name: str = "",
    raw: Sequence[str] | None = None,
) -> str:
    """Pure array -> HTML: one chip per token coloured by ``values`` / ``scale`` (default: the
    largest |value|): purple towards the target, orange against, white for 0. Chips flagged in
    ``none`` (padding) are dashed and grey. Tokens are escaped; the value (and ``raw``, the
    tokenizer's piece behind a shown token, where it differs) is in each chip's title."""
    numbers = np.asarray(values, dtype=np.float64)  # [S]
    dashed = [bool(x) for x in none] or [False] * len(numbers)  # [S]
    top = float(np.max(np.abs(numbers))) if scale is None and numbers.size else (scale or 0.0)
    chips = []
    for i, (token, value) in enumerate(zip(tokens, numbers, strict=True)):
        piece = raw[i] if raw is not None and raw[i] != token else None
        title = html.escape(
            f"position {i} · {token} · {value:+.4f}" + (f" · raw piece {piece}" if piece else ""), quote=True
        )
        if dashed[i]:
            chips.append(f'<span class="at-chip at-none" title="{title}">{visible(token)}</span>')
            continue
        background, colour = _colour(value / top if top > 0 else 0.0)
        chips.append(
            f'<span class="at-chip" style="background:{background};color:{colour}" title="{title}">'
            f"{visible(token)}</span>"
        )
    label = f' aria-label="{html.escape(name, quote=True)}"' if name else ""
    return CHIP_STYLE + f'<div class="at-chips" data-testid="attribution-chips"{label}>{"".join(chips)}</div>'


# --- The view ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChipRow:
    method: str
    html: str
    caption: str  # the method's unit and largest value


@dataclass(frozen=True, kw_only=True)
class View:
    explained: Note  # what is explained: the target, its probability and logit, the sentence
    rows: tuple[ChipRow, ...]  # the chosen method first, then the others
    legend: Note
    figure: Any  # plotly Figure: every method, normalised, per token
    summary: Note  # the tokens that pushed most, for and against, by the chosen method
    completeness: Note  # success when converged, else a warning saying so
    baseline: Note
    gradient: Note
    occlusion: Note
    attention: Note  # the honest note, with the computed agreement
    caps: Note
    timings: Note
    table: Table  # one row per token
    csv: Download
    json: Download
    values: dict[str, np.ndarray]  # method -> [S], for tests and lessons


def values_of(a: at.Attributions) -> dict[str, np.ndarray]:
    return {
        at.METHODS[0]: a.integrated_gradients,
        at.METHODS[1]: a.gradient_x_input,
        at.METHODS[2]: a.occlusion,
        ATTENTION: a.attention,
        ROLLOUT: a.rollout,
    }


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 0, ties sharing their average rank."""
    ranks = np.empty(len(x))  # [N]
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (nan when fewer than 3 values or one side is constant)."""
    if len(x) < 3:
        return float("nan")
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _target_text(a: at.Attributions) -> str:
    t = a.target
    if t.kind == "label":
        return f"the label **{t.name}**"
    return f"the {t.kind} **{visible(t.shown, quote=False)}**"


def _shown_token(token: str) -> str:
    """A token for a markdown code span: shown as it is (a code span shows ``&lt;`` literally, so
    no HTML escaping), invisible characters made visible, backticks that would end the span swapped."""
    return readable(token).replace("`", "ˋ")


def _unit(a: at.Attributions) -> str:
    return "score" if a.target.function == "none" else "probability"


def _word_positions(a: at.Attributions) -> list[int]:
    """The positions of real, non-special tokens (the words)."""
    return [i for i in range(len(a.tokens)) if a.real[i] and not a.special[i]]


def _rows(a: at.Attributions, values: dict[str, np.ndarray], first: str) -> tuple[ChipRow, ...]:
    """One row of chips per method, ``first`` first."""
    captions = {
        at.METHODS[0]: "logit units; adds up to f(input) − f(baseline)",
        at.METHODS[1]: "logit units; one backward pass",
        at.METHODS[2]: f"change in the {_unit(a)} when the word is occluded",
        ATTENTION: f"attention weight from position {a.attention_position}, heads averaged",
        ROLLOUT: f"rolled-out attention from position {a.attention_position}",
    }
    order = [first] + [m for m in SHOWN if m != first]
    return tuple(
        ChipRow(
            method=m,
            html=chips_html(a.shown, values[m], none=~a.real, name=m, raw=a.tokens),
            caption=f"{captions[m]} · largest |value| {float(np.max(np.abs(values[m]))):.3g}",
        )
        for m in order
    )


def _explained(a: at.Attributions, checkpoint: str) -> Note:
    t, unit = a.target, _unit(a)
    where = "in" if t.kind == "label" else "after" if t.kind == "next token" else "at the blank of"
    return Note(
        "markdown",
        f"Explaining {_target_text(a)} {where} “{visible(a.sentence[:200], quote=False)}”: "
        f"{unit} **{a.score:.1%}**"
        * (unit == "probability")
        + (f"score **{a.score:.4f}**" if unit == "score" else "")
        + f", logit **{a.logit:.3f}**"
        + (f" — {checkpoint}." if checkpoint else "."),
    )


def _summary(a: at.Attributions, chosen: np.ndarray, method: str) -> Note:
    """The three tokens that pushed most towards the target and against it, by ``method``."""
    ranked = sorted(_word_positions(a), key=lambda i: -chosen[i])
    shown = a.shown
    towards = [f"`{_shown_token(shown[i])}` ({chosen[i]:+.3g})" for i in ranked[:3] if chosen[i] > 0]
    against = [f"`{_shown_token(shown[i])}` ({chosen[i]:+.3g})" for i in ranked[::-1][:3] if chosen[i] < 0]
    return Note(
        "markdown",
        f"**{method}**: most towards {visible(a.target.shown, quote=False)}: "
        + (", ".join(towards) or "none")
        + "; most against: "
        + (", ".join(against) or "none")
        + ".",
    )


def _completeness(a: at.Attributions) -> Note:
    """Success when Integrated Gradients add up to f(input) − f(baseline), else a warning saying why not."""
    c = a.completeness
    tried = ", ".join(f"{steps} steps: {error:.2%}" for steps, error in c.history)
    check = (
        f"Completeness: the Integrated Gradients add up to **{c.total:.4f}**; f(input) − f(baseline) = "
        f"{a.logit:.4f} − ({a.baseline_logit:.4f}) = **{c.difference:.4f}**; relative error "
        f"**{c.relative_error:.2%}** with {c.steps} steps (tried {tried})."
    )
    if c.converged:
        return Note("success", check)
    if c.stopped == "time":
        why = f"within {at.MAX_SECONDS:.0f} s on this server (the rounds so far took {c.seconds:.0f} s)"
    else:
        why = f"within {c.step_cap} steps (the cap for {int(a.real.sum())} tokens)"
    return Note(
        "warning",
        check + f" It could not get under {at.TOLERANCE:.0%} {why}: read these attributions with care.",
    )


def _baseline(a: at.Attributions) -> Note:
    kept = "special tokens and padding are kept" if a.special.any() else "nothing else is kept"
    if a.target.kind == "masked word":
        kept += ", and so is the blank (it is the question)"
    if a.baseline_keeps_first:
        kept += (
            ", and so is the first token: a decoder puts much of its attention on its first position (an "
            "attention sink), and a baseline without it is so far off that the integral does not converge"
        )
    return Note(
        "caption",
        f"Integrated Gradients baseline: every word token replaced by `{_shown_token(a.show(a.baseline_token))}` "
        f"(the {a.baseline}); {kept}, so they get 0 by construction. The gradient of the target's logit is "
        "integrated along the straight line from the baseline's embeddings to the input's "
        "(captum `LayerIntegratedGradients`, Gauss–Legendre steps).",
    )


GRADIENT_NOTE = (
    "Gradient × input: the gradient of the target's logit with respect to each token's embedding, "
    "times the embedding, summed over its dimensions: a first-order estimate, with no completeness."
)


def _occlusion(a: at.Attributions) -> Note:
    t, unit = a.target, _unit(a)
    occluded_by = (
        f"replaced by `{_shown_token(a.show(a.occlusion_token))}` (the {a.occlusion_mode})"
        if a.occlusion_token is not None
        else "removed"
    )
    skipped = " The blank itself is not occluded." if t.kind == "masked word" else ""
    return Note(
        "caption",
        f"Occlusion: each word {occluded_by}, the model run again, and the {unit} of {visible(t.shown, quote=False)} compared: "
        f"{unit} with the word − {unit} without it. All tokens of a word share its value.{skipped}",
    )


def _attention(a: at.Attributions) -> Note:
    """The honest note on attention, with its rank correlation to |Integrated Gradients| on the words."""
    real = _word_positions(a)
    ig_abs = np.abs(a.integrated_gradients[real]) if real else np.zeros(0)
    rho_last = _spearman(a.attention[real], ig_abs) if real else float("nan")
    rho_roll = _spearman(a.rollout[real], ig_abs) if real else float("nan")

    def rho(x: float) -> str:
        return "not defined" if np.isnan(x) else f"{x:+.2f}"

    return Note(
        "info",
        "Attention is not an explanation of the output: a weight says how much one position's vector "
        "was mixed into another in one layer, not how much the prediction depends on a token. The "
        "mixed vectors (values), later layers, residual connections, MLPs and the head all stand "
        "between the weights and the answer, and studies (Jain & Wallace 2019; Wiegreffe & Pinter 2019) "
        "found attention and gradient attributions often rank tokens differently. Rollout follows the "
        "weights through every layer, but still ignores values and MLPs. Here, on the word tokens, the "
        f"rank correlation with |Integrated Gradients| is {rho(rho_last)} for the last layer's attention "
        f"and {rho(rho_roll)} for rollout (1 = the same order).",
    )


def _caps(a: at.Attributions) -> Note:
    return Note(
        "caption",
        f"Bounded for a shared server: one attribution at a time per server process, sentences of at most "
        f"{at.MAX_TOKENS} tokens, Integrated Gradients doubled from {at.FIRST_STEPS} steps up to "
        f"{at.MAX_STEPS} (at most {at.STEP_BUDGET:,} steps × tokens; {a.completeness.step_cap} for this "
        f"sentence) and not doubled again past {at.MAX_SECONDS:.0f} s.",
    )


def _table(a: at.Attributions, values: dict[str, np.ndarray]) -> Table:
    """One row per real token: position, token, word, every method's value."""
    rows = [
        {
            "position": i,
            "token": a.tokens[i],
            "word": a.word_texts[a.words[i]] if a.words[i] >= 0 else "",
            **{m: round(float(values[m][i]), 5) for m in SHOWN},
        }
        for i in range(len(a.tokens))
        if a.real[i]
    ]
    return table(rows, index="position")


def _downloads(a: at.Attributions, checkpoint: str) -> tuple[Download, Download]:
    return csv_and_json(
        "the attributions",
        stem="attributions",
        key="attr",
        csv_data=lambda: csv_text(a),
        json_data=lambda: json_text(a, checkpoint),
    )


def build(a: at.Attributions, settings: AttributionSettings, checkpoint: str = "") -> View:
    """Pure: the section for ``a`` (from explorer.explain.attribution.compute), ``settings.attr_method`` first."""
    values = values_of(a)
    csv_download, json_download = _downloads(a, checkpoint)
    return View(
        explained=_explained(a, checkpoint),
        rows=_rows(a, values, settings.attr_method),
        legend=Note(
            "caption",
            f"Purple: pushes towards {visible(a.target.shown, quote=False)}; orange: pushes away; white: nothing. Each row is "
            "scaled to its own largest |value| (hover a token for its number). Dashed grey: padding.",
        ),
        figure=figure(a, values),
        summary=_summary(a, values[settings.attr_method], settings.attr_method),
        completeness=_completeness(a),
        baseline=_baseline(a),
        gradient=Note("caption", GRADIENT_NOTE),
        occlusion=_occlusion(a),
        attention=_attention(a),
        caps=_caps(a),
        timings=Note(
            "caption", "Computed in " + ", ".join(f"{name} {s:.2f} s" for name, s in a.seconds.items()) + "."
        ),
        table=_table(a, values),
        csv=csv_download,
        json=json_download,
        values=values,
    )


def figure(a: at.Attributions, values: dict[str, np.ndarray]) -> Any:
    """Grouped bars: each method's value per token, scaled to its own largest |value|."""
    real = [i for i in range(len(a.tokens)) if a.real[i]]
    labels = [f"{i}: {visible(a.shown[i], quote=False)}" for i in real]
    fig = go.Figure()
    for m, colour in zip(SHOWN, METHOD_COLOURS, strict=True):
        v = values[m][real]
        top = float(np.max(np.abs(v))) if v.size else 0.0
        fig.add_bar(
            name=m,
            x=labels,
            y=(v / top if top > 0 else v).tolist(),
            customdata=v.tolist(),
            marker_color=colour,
            hovertemplate="%{x}<br>" + m + ": %{customdata:.4f}<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        title=f"Each token's contribution to {visible(a.target.shown, quote=False)}, per method (scaled to each method's largest |value|)",
        xaxis_title="token",
        yaxis_title="scaled contribution",
        height=420,
        margin={"l": 50, "r": 20, "t": 60, "b": 80},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def csv_text(a: at.Attributions) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["position", "token", "id", "word", *SHOWN])
    values = values_of(a)
    for i, token in enumerate(a.tokens):
        if a.real[i]:
            word = a.word_texts[a.words[i]] if a.words[i] >= 0 else ""
            writer.writerow([i, token, a.ids[i], word, *(f"{float(values[m][i]):.6g}" for m in SHOWN)])
    return out.getvalue()


def json_text(a: at.Attributions, checkpoint: str = "") -> str:
    c = a.completeness
    data = {
        "checkpoint": checkpoint,
        "sentence": a.sentence,
        "target": {
            "kind": a.target.kind,
            "name": a.target.name,
            "index": a.target.index,
            "position": a.target.position,
        },
        "logit": a.logit,
        "score": a.score,
        "tokens": list(a.tokens),
        "ids": list(a.ids),
        "padding": [bool(not r) for r in a.real],
        "integrated_gradients": {
            "values": a.integrated_gradients.tolist(),
            "baseline": a.baseline,
            "baseline_token": a.baseline_token,
            "baseline_logit": a.baseline_logit,
            "steps": c.steps,
            "sum": c.total,
            "difference": c.difference,
            "relative_error": c.relative_error,
            "converged": c.converged,
            "history": [list(h) for h in c.history],
        },
        "gradient_x_input": a.gradient_x_input.tolist(),
        "occlusion": {
            "values": a.occlusion.tolist(),
            "mode": a.occlusion_mode,
            "token": a.occlusion_token,
            "words": list(a.word_texts),
            "scores_without_word": [None if np.isnan(s) else s for s in a.occluded_scores],
        },
        "attention_last_layer": a.attention.tolist(),
        "attention_rollout": a.rollout.tolist(),
        "attention_position": a.attention_position,
        "seconds": a.seconds,
    }
    return json.dumps(data, indent=1, ensure_ascii=False)


# --- For lessons -------------------------------------------------------------------------------------


def why_explanation(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    sentence: int = 0,
    label: str | None = None,
    *,
    lead: Callable[[str, float], str] | None = None,
    section_open: bool = False,
) -> str:
    """One paragraph for a lesson step ("why did it say NEGATIVE for …?"), computed from the loaded
    classifier on sentence ``sentence`` of ``encoding``: its label (``label``, else its prediction)
    and probability (``lead(label, probability)`` says them), and the words occlusion and
    Gradient × input find most responsible (fast methods; the page's section, open or not as
    ``section_open`` says, shows Integrated Gradients too)."""
    one = at.row(encoding, sentence)
    target = at.classifier_target(loaded, one, label)
    index, groups = at.words(one, loaded.batch_tokenizer)
    occluded, scores, token = at.occlusion(loaded, one, target, groups, at.usable(loaded, at.OCCLUSIONS[0]))
    gxi = at.gradient_x_input(loaded, one, target)
    texts = [
        visible(loaded.batch_tokenizer.decode([int(one.input_ids[0, p]) for p in g]).strip(), quote=False)
        for g in groups
    ]
    score = float(at.probability(target, runner.target_logits(loaded, one, [0]))[0])
    changes = [(occluded[g[0]], texts[w]) for w, g in enumerate(groups)]
    changes.sort(key=lambda x: -x[0])
    by_word = {texts[w]: float(sum(gxi[p] for p in g)) for w, g in enumerate(groups)}
    best = changes[0] if changes else None
    worst = changes[-1] if changes else None
    with_token = f"`{_shown_token(one.show([token])[0])}`" if token is not None else "nothing"
    parts = [lead(target.name, score) if lead else f"The classifier says **{target.name}** ({score:.1%})."]
    if best is not None:
        if best[0] > 0:
            first = (
                f"Replacing one word at a time by {with_token}, **{best[1]}** matters most for "
                f"{target.name}: without it the probability drops by {best[0]:.1%}"
            )
        else:
            first = f"Replacing one word at a time by {with_token}, no word's absence lowers {target.name}"
        parts.append(
            first
            + (f"; without **{worst[1]}** it rises by {-worst[0]:.1%}." if worst and worst[0] < 0 else ".")
        )
        top_grad = max(by_word, key=lambda w: abs(by_word[w]))
        where = (
            "*Why this prediction?* below shows" if section_open else "Turn on *Why this prediction?* to see"
        )
        parts.append(
            f"Gradient × input points at **{top_grad}** ({by_word[top_grad]:+.3f} logit units). {where} "
            "Integrated Gradients and attention beside them: where they disagree, no single method is "
            "the whole story."
        )
    return " ".join(parts)


def lesson_settings(settings_cls: type, label: str = "NEGATIVE") -> Any:
    """The page's Settings with the section open on ``label`` ("": the predicted label),
    Integrated Gradients first."""
    return settings_cls(attr_show=True, attr_method=at.METHODS[0], attr_target=label)


LESSON_SENTENCE = "The film was not bad at all."
