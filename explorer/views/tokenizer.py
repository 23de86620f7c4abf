"""Tokenizer lab: tokens, the course's tokenizer steps, padding, truncation, pairs, families.

:func:`build` encodes the batch with the page's Settings and returns a :class:`View` holding every
sentence, table, HTML fragment and number the page shows; sentences about special tokens, segment
IDs and length limits are read from this checkpoint's tokenizer, encoding and config."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from explorer.drawing.render import batch_grid_html, plain_chips_html, token_chips_html, visible
from explorer.errors import ExplorerError, InputError
from explorer.explain import tokenizer_lab as lab
from explorer.pipeline import tasks
from explorer.pipeline.encoding import Encoding, Padding, Sentences, encode_batch
from explorer.pipeline.loading import MAX_TOKENS, LoadedCheckpoint
from explorer.pipeline.token_display import shown_tokens
from explorer.views.common import Download, Note, Table, download, shown_sentence, table
from explorer.views.settings import setting

PADDING = ("longest", "max_length", "do_not_pad")
VOCAB_SIZES = (100, 300, 1000, 3000)


@dataclass(frozen=True, kw_only=True)
class Settings:
    PREFIX: ClassVar[str] = "tok"

    padding: Padding = setting(
        "choice", "padding", "longest", choices=PADDING, help="tokenizer(..., padding=...)"
    )
    truncation: bool = setting("bool", "truncation", True, widget="toggle")
    # None: the model's own limit (known only once the checkpoint is loaded).
    max_length: int | None = setting(
        "int", "max_length", None, widget="number", low=2, high=8192, step=1, per_checkpoint=True
    )
    side: str = setting("choice", "padding side", "right", choices=("right", "left"), widget="radio")
    pairs: str = setting(
        "str",
        "Second sentences: line N pairs with line N of the text box",
        "",
        widget="text_area",
        height=100,
        help="For tasks on two sentences (question + passage, premise + hypothesis). Leave empty for single sentences.",
    )
    step_sentence: int = setting("int", "Sentence", 0, high=10_000, linked=False)
    family_text: str = setting(
        "str", "Text to tokenize", "Tokenization of transformerification", widget="text_input", linked=False
    )
    corpus: str = setting(
        "str",
        "Training text (leave empty for the sample text written for this app)",
        "",
        widget="text_area",
        height=90,
        linked=False,
    )
    vocab: int = setting(
        "choice",
        "Vocabulary size of the trained tokenizers",
        300,
        choices=VOCAB_SIZES,
        widget="select_slider",
        linked=False,
    )


# --- The View ---------------------------------------------------------------------------------

STEP_LABEL_CHARACTERS = 60  # how much of a sentence the step-by-step picker shows
MAX_CORPUS_CHARACTERS = 200_000  # a longer training text is cut
INTRO = (
    "The tokenizer turns text into the numbers a model reads: it splits the text into **tokens**, "
    "maps each to an **input ID**, adds **special tokens**, and pads and truncates a batch into one tensor."
)
CHIPS_LEGEND = (
    "Hover a chip for its position, ID, the characters it covers and its raw piece. Red chips are unknown tokens; "
    "a dotted chip counts the tokens truncation cut."
)
FAMILIES_INTRO = (
    "The same text through different kinds of tokenizer. Word- and character-based vocabularies, and "
    "the small BPE, WordPiece and Unigram tokenizers, are built here from a training text; WordPiece "
    "and byte-level BPE also come from the two bundled checkpoints."
)
TABS = ("Tokens", "Step by step", "The batch tensor", "Tokenizer families")
TRAINABLE: tuple[lab.Trainable, ...] = ("WordPiece", "BPE", "Unigram")  # the families row order
SIZE_TABLE_KINDS: tuple[lab.Trainable, ...] = (
    "BPE",
    "WordPiece",
    "Unigram",
)  # the vocabulary-size table's order


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The longest input this checkpoint gets in the app, and where that number comes from."""

    max_tokens: int  # what applies: the lowest of the limits below (loaded.max_tokens)
    positions: int | None  # config.max_position_embeddings / n_positions (None: not in the config)
    positions_field: str | None  # which config field gave ``positions``
    tokenizer_limit: int | None  # tokenizer.model_max_length, when it is a real limit
    app_cap: int  # explorer.pipeline.loading.MAX_TOKENS: the most the app runs through any model
    applies: str  # "model", "tokenizer" or "app": whose limit max_tokens is
    help: str  # the max_length widget's help

    @property
    def widget(self) -> dict[str, Any]:
        """What the max_length widget needs beyond its Setting: the default and the help."""
        return {"default": self.max_tokens, "help": self.help}


@dataclass(frozen=True, kw_only=True)
class SentenceView:
    """One sentence of the batch on the Tokens tab."""

    header: str  # "**Sentence 0** · 16 tokens"
    text: str  # the sentence as typed (cut when very long)
    pair: str | None  # "pair: <second sentence>"
    chips_html: str  # its tokens and input IDs (explorer.drawing.render)
    truncation: Note | None  # how many tokens truncation cut, if any


@dataclass(frozen=True, kw_only=True)
class StepsView:
    """The course's steps (tokenize -> ids -> special tokens -> decode) for one sentence."""

    steps: lab.Steps  # the numbers: tokens, ids, decoded text…
    tokens_html: str  # step 1 as chips
    ids: str  # step 2: "[101, 7592, …]"
    ids_with_specials: str  # step 3
    added: str  # which special tokens step 3 added (Markdown)
    verdict: Note  # success: decoding gives the text back; warning: why not

    @property
    def blocks(self) -> tuple[tuple[str, str | None], ...]:
        """Steps 2-4 in order: (Markdown, code shown under it or None)."""
        return (
            ("**2. Look up their IDs:** `ids = tokenizer.convert_tokens_to_ids(tokens)`", self.ids),
            ('**3. Add the special tokens:** `tokenizer(text)["input_ids"]`', self.ids_with_specials),
            (self.added, None),
            ("**4. Decode back to text:** `tokenizer.decode(ids)`", self.steps.decoded),
            ("and with `skip_special_tokens=True`:", self.steps.decoded_plain),
        )


@dataclass(frozen=True, kw_only=True)
class BatchView:
    """The batch tensor tab."""

    heading: str  # "**input_ids shape [B, S]** · …" or why the rows cannot be stacked
    input_ids: np.ndarray  # [B, S]
    attention_mask: np.ndarray  # [B, S]
    token_type_ids: np.ndarray | None  # [B, S]; None when the tokenizer returns none
    segments: Note | None  # what tells the two sentences of a pair apart / whether there are segment IDs
    pair: lab.PairLayout | None  # the first pair, encoded untruncated (None without pairs)
    grid_html: str
    cut: Note | None  # truncation in all
    downloads: tuple[Download, ...]  # the encoding as JSON, the grid as CSV


@dataclass(frozen=True)
class FamilyView:
    header: str  # "**WordPiece (trained here)** · vocabulary 300 · 9 tokens"
    chips_html: str
    result: lab.FamilyResult


@dataclass(frozen=True)
class FamiliesView:
    """The Tokenizer families tab."""

    notes: tuple[Note, ...]  # no text yet / the training text could not be used
    results: tuple[FamilyView, ...]
    sizes: Table | None  # how the vocabulary size changes the splits (index: tokenizer, asked size)
    size_notes: tuple[Note, ...]  # why actual and asked sizes differ, per algorithm


@dataclass(frozen=True, kw_only=True)
class View:
    settings: Settings  # as used (max_length resolved to a number)
    limits: Limits
    encoding: Encoding
    notes: tuple[Note, ...]  # about the text, max_length, the pad token
    scheme: str  # the tokenizer's algorithm and subword marker (Markdown)
    specials: Table | None  # role -> token, id, what it is for (None: no special tokens)
    sentences: tuple[SentenceView, ...]  # [B]
    step_labels: tuple[str, ...]  # [B] the step-by-step picker's options
    steps: tuple[StepsView, ...]  # [B]
    batch: BatchView
    families: FamiliesView

    @property
    def step_options(self) -> tuple[int, ...]:
        """The step-by-step picker's options: one per sentence."""
        return tuple(range(len(self.steps)))

    def step_label(self, index: int) -> str:
        return self.step_labels[index]


def limits(loaded: LoadedCheckpoint) -> Limits:
    """This checkpoint's maximum positions (config), its tokenizer's model_max_length and the
    app's cap (explorer.pipeline.loading.MAX_TOKENS), and which one applies."""
    config, tokenizer = loaded.config, loaded.tokenizer
    positions, field = None, None
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            positions, field = value, name
            break
    model_max = getattr(tokenizer, "model_max_length", None)
    tokenizer_limit = model_max if isinstance(model_max, int) and 0 < model_max < 1_000_000 else None
    top = loaded.max_tokens
    if positions == top:
        applies = "model"
    elif tokenizer_limit == top:
        applies = "tokenizer"
    else:
        applies = "app"
    parts = [
        f"its config has {positions:,} positions ({field})"
        if positions
        else "its config sets no number of positions"
    ]
    if tokenizer_limit is not None:
        parts.append(f"its tokenizer's model_max_length is {tokenizer_limit:,}")
    parts.append(f"the app runs at most {MAX_TOKENS:,} tokens through any model")
    help_text = f"This checkpoint gets at most {top:,} tokens here: " + "; ".join(parts) + "."
    return Limits(
        max_tokens=top,
        positions=positions,
        positions_field=field,
        tokenizer_limit=tokenizer_limit,
        app_cap=MAX_TOKENS,
        applies=applies,
        help=help_text,
    )


def _max_length_note(limit: Limits, max_length: int) -> Note | None:
    if max_length <= limit.max_tokens:
        return None
    positions = (
        f"this model has {limit.positions:,} positions ({limit.positions_field})"
        if limit.positions
        else "this model's config sets no number of positions"
    )
    if limit.applies == "model":
        text = (
            f"max_length {max_length} is above this model's limit of {limit.max_tokens} tokens "
            f"({limit.positions_field} = {limit.positions:,}; the app's own cap is {limit.app_cap:,}): "
            "the tokenizer will do it, but the model could not take such a batch."
        )
    elif limit.applies == "tokenizer":
        text = (
            f"max_length {max_length} is above this tokenizer's limit of {limit.max_tokens} tokens, its "
            f"model_max_length: {positions} and the app's cap is {limit.app_cap:,}. The tokenizer "
            "will do it, but the app never runs this model on more tokens than that."
        )
    else:
        text = (
            f"max_length {max_length} is above the app's limit of {limit.app_cap} tokens: {positions}, "
            f"but attention grows as tokens², so the app runs at most {limit.app_cap:,} tokens through "
            "any model. The tokenizer will do it, but the app never runs a model on such a batch."
        )
    return Note("warning", text)


def _pairs(settings: Settings, sentences: Sentences) -> tuple[str, ...] | None:
    if not settings.pairs.strip():
        return None
    lines = tuple(line for line in settings.pairs.split("\n") if line.strip())
    if len(lines) != len(sentences.sentences):
        raise InputError(
            f"Pairs need one second sentence per sentence: the text box has {len(sentences.sentences)} "
            f"sentence(s) and the pair box {len(lines)}."
        )
    return lines


# Sequence classifiers whose head reads the first token's final vector (transformers 5, the
# XForSequenceClassification classes): through the base model's pooler (dense + tanh on
# hidden[:, 0]; BERT-style, whose pre-training trains the pooler on next-sentence prediction) or
# directly (RoBERTa-style heads and DistilBERT take hidden[:, 0] into their own layers).
CLS_THROUGH_POOLER = frozenset({"bert", "albert", "mobilebert", "megatron-bert"})
CLS_DIRECTLY = frozenset({"roberta", "camembert", "xlm-roberta", "electra", "distilbert"})
# sentence-transformers' Pooling config (1_Pooling/config.json): mode -> what the sentence vector is.
POOLING_MODES = {
    "pooling_mode_cls_token": "the first token's vector",
    "pooling_mode_mean_tokens": "the mean of all token vectors",
    "pooling_mode_max_tokens": "the maximum of each dimension over the tokens",
    "pooling_mode_mean_sqrt_len_tokens": "the sum of the token vectors divided by √length",
    "pooling_mode_weightedmean_tokens": "a position-weighted mean of the token vectors",
    "pooling_mode_lasttoken": "the last token's vector",
}


def _checkpoint_file(loaded: LoadedCheckpoint, name: str) -> Path | None:
    """A file of the checkpoint: in its folder, or in the local Hub cache (never downloaded)."""
    resolved = loaded.resolved
    if resolved.source != "hub":
        path = Path(resolved.location) / name
        return path if path.is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(resolved.location, name)
    except Exception:  # no Hub cache, a bad id: nothing to read
        return None
    return Path(cached) if isinstance(cached, str) else None


def sentence_pooling(loaded: LoadedCheckpoint) -> tuple[str, tuple[str, ...]] | None:
    """A sentence-transformers checkpoint's pooling: (its config file, the modes switched on), read
    from modules.json and the Pooling module's config.json; None when the checkpoint has none."""
    modules = _checkpoint_file(loaded, "modules.json")
    folder = "1_Pooling"
    if modules is not None:
        try:
            entries = json.loads(modules.read_text())
            folder = next(e["path"] for e in entries if str(e.get("type", "")).endswith("Pooling"))
        except (OSError, ValueError, KeyError, TypeError, StopIteration):
            return None
    name = f"{folder}/config.json"
    config = _checkpoint_file(loaded, name)
    if config is None:
        return None
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return None
    modes = tuple(mode for mode in POOLING_MODES if data.get(mode) is True)
    return (name, modes) if modes else None


# Multiple-choice heads that read the first token through the pooler (BertForMultipleChoice,
# RobertaForMultipleChoice, AlbertForMultipleChoice…) or directly (DistilBertForMultipleChoice).
MULTIPLE_CHOICE_POOLER = frozenset({"bert", "albert", "roberta", "xlm-roberta", "camembert", "megatron-bert"})
MULTIPLE_CHOICE_DIRECTLY = frozenset({"distilbert"})


def _multiple_choice_purpose(loaded: LoadedCheckpoint, first: bool, model_type: str) -> str:
    """What a multiple-choice head does with the first token: it reads one vector per (prompt,
    choice) pair, the first token's, through the pooler where the model has one."""
    pooler = getattr(loaded.model.base_model, "pooler", None) is not None
    if first and model_type in MULTIPLE_CHOICE_POOLER and pooler:
        via = "through the pooler (a dense layer and tanh: pooler_output)"
    elif first and model_type in MULTIPLE_CHOICE_DIRECTLY:
        via = "directly (last_hidden_state[:, 0])"
    else:
        return (
            f"{loaded.model_class} reads one vector per (prompt, choice) pair for its one logit per choice; "
            "which one depends on the architecture"
        )
    return (
        f"the multiple-choice head reads this token's final vector {via} once per (prompt, choice) pair and "
        "turns it into that choice's one logit, so fine-tuning taught it to summarise the pair"
    )


# What a head does with the classification token, for heads whose answer does not depend on the model.
HEAD_PURPOSES = {
    tasks.TOKEN_CLASSIFICATION: (
        "the token-classification head labels every token's final vector, this one included, and "
        '`pipeline("token-classification")` drops the labels of special tokens such as this one: no '
        "vector here has to summarise the sentence"
    ),
    tasks.QUESTION_ANSWERING: (
        "the question-answering head scores every token's final vector as the answer's start and as its "
        "end; the course's question-answering pipeline never puts this token in an answer, and uses its "
        'two scores as the score of "no answer" (`handle_impossible_answer=True`)'
    ),
    tasks.MASKED_LM: (
        "the masked-LM head predicts a token at every position and does not read this one "
        "specially; whether its vector summarises the sentence depends on pre-training"
    ),
}
ENCODER_DECODER_PURPOSE = (
    "this is an encoder-decoder: the encoder reads every token (this one included) and the "
    "decoder attends to all of the encoder's vectors, so no single token has to summarise the "
    "sentence"
)
DECODER_PURPOSE = (
    "this is a decoder: each token sees only the tokens before it, so the first token's vector "
    "has seen nothing else and cannot summarise the sentence"
)


def first_token_purpose(loaded: LoadedCheckpoint) -> str | None:
    """What this checkpoint's classification token is for, read from its tokenizer, model and
    files (None: the tokenizer has no cls_token). Its vector summarises the sentence only where
    training made it so: a head that reads it, or a pooling that uses it."""
    tokenizer = loaded.tokenizer
    if not tokenizer.cls_token:
        return None
    cls_id = tokenizer.convert_tokens_to_ids(str(tokenizer.cls_token))
    ids = list(tokenizer("a")["input_ids"])
    first = bool(ids) and ids[0] == cls_id
    if cls_id not in ids:
        where = "this tokenizer defines it but does not add it to a sentence"
    elif first:
        where = "starts every sequence"
    else:
        where = f"this tokenizer puts it at position {ids.index(cls_id)} of a one-word sentence, not first"
    return f"classification token: {where}; {_purpose(loaded, first)}"


def _purpose(loaded: LoadedCheckpoint, first: bool) -> str:
    """What reads the classification token's final vector (``first``: it starts every sequence)."""
    model_type = getattr(loaded.config, "model_type", "")
    if loaded.is_encoder_decoder:
        return ENCODER_DECODER_PURPOSE
    if loaded.is_decoder:
        return DECODER_PURPOSE
    if loaded.head_class == tasks.SEQUENCE_CLASSIFICATION:
        return _classifier_purpose(loaded, first, model_type)
    if loaded.head_class == tasks.MULTIPLE_CHOICE:
        return _multiple_choice_purpose(loaded, first, model_type)
    if loaded.head_class in HEAD_PURPOSES:
        return HEAD_PURPOSES[loaded.head_class]
    if (pooling := sentence_pooling(loaded)) is not None:
        name, modes = pooling
        ways = " and ".join(POOLING_MODES[mode] for mode in modes)
        return (
            f"this checkpoint is used as a sentence-transformers model whose sentence vector is {ways} "
            f"({name}: {', '.join(modes)})"
            + (
                ", so this token's vector alone is not what summarises the sentence"
                if "pooling_mode_cls_token" not in modes
                else ""
            )
        )
    pooler = getattr(loaded.model.base_model, "pooler", None) is not None
    return (
        "no task head reads it here; whether its final vector summarises the sentence depends on how the checkpoint was trained"
        + (
            " (the model also returns pooler_output, this token's vector through a dense layer and tanh, "
            "which means something only if that pooler was trained)"
            if pooler and first
            else ""
        )
    )


def _classifier_purpose(loaded: LoadedCheckpoint, first: bool, model_type: str) -> str:
    if first and model_type in CLS_THROUGH_POOLER:
        return (
            "the classification head reads this token's final vector through the pooler (a dense layer "
            "and tanh: pooler_output), so fine-tuning this classifier taught it to summarise the sentence for "
            "this task"
        )
    if first and model_type in CLS_DIRECTLY:
        return (
            "the classification head reads this token's final vector (last_hidden_state[:, 0]), so "
            "fine-tuning this classifier taught it to summarise the sentence for this task"
        )
    return (
        f"{loaded.model_class} reads one vector per sentence for its logits; which one depends on "
        "the architecture"
    )


def _specials(loaded: LoadedCheckpoint) -> Table | None:
    found = lab.special_tokens(loaded.tokenizer)
    if not found:
        return None
    purpose = first_token_purpose(loaded)
    rows = [
        {
            "role": s.role,
            "token": s.token,
            "id": s.token_id,
            "what it is for": purpose if s.role == "cls_token" and purpose else s.meaning,
        }
        for s in found
    ]
    return table(rows, index="role")


def _sentence(encoding: Encoding, b: int, unk_id: int | None, max_length: int) -> SentenceView:
    shown = shown_sentence(encoding.sentences[b])
    cut = encoding.truncated[b]
    return SentenceView(
        header=f"**Sentence {b}** · {int(encoding.lengths[b])} tokens",
        text=shown,
        pair=f"pair: {encoding.pairs[b]}" if encoding.pairs else None,
        chips_html=token_chips_html(encoding, b, unk_id=unk_id),
        truncation=Note(
            "warning", f"Truncation cut {cut:,} token(s) from sentence {b} (max_length {max_length})."
        )
        if cut
        else None,
    )


def _steps(tokenizer: Any, sentence: str) -> StepsView:
    steps = lab.tokenizer_steps(tokenizer, sentence)
    added = (
        "Added: " + ", ".join(code_span(t) for t in steps.added)
        if steps.added
        else "This tokenizer adds no special tokens to a single sentence."
    )
    verdict = (
        Note("success", "Decoding gives back exactly the text you typed.")
        if steps.exact
        else Note(
            "warning",
            "Decoding does not give back exactly the text you typed:\n\n"
            + "\n".join(f"- {reason}" for reason in steps.why_not_exact),
        )
    )
    return StepsView(
        steps=steps,
        tokens_html=plain_chips_html(
            steps.tokens, unknown=(tokenizer.unk_token or "",), shown=shown_tokens(tokenizer, steps.tokens)
        ),
        ids=str(list(steps.ids)),
        ids_with_specials=str(list(steps.ids_with_specials)),
        added=added,
        verdict=verdict,
    )


def _shown_note(encoding: Encoding) -> str:
    """How the page shows this tokenizer's pieces, when that differs from how it writes them,
    with the first such piece of this text as the example."""
    pairs = zip(
        (t for row in encoding.shown for t in row), (t for row in encoding.tokens for t in row), strict=True
    )
    example = next(((shown, raw) for shown, raw in pairs if shown != raw), None)
    if example is None:
        return ""
    return (
        " On this page's chips and charts a space shows as `␣`, a newline as `↵`, a tab as `⇥` and a byte "
        "that is only part of a character as `<0xNN>`; hover a token for its raw piece as the tokenizer "
        f"writes it ({code_span(example[0])} is {code_span(example[1])})."
    )


def code_span(token: str) -> str:
    """A token as Markdown code: shown literally (a code span needs no HTML escaping, and
    `&lt;s&gt;` would show as those characters), invisible characters made visible."""
    text = html.unescape(visible(token))  # ⟨U+200B⟩ for invisible characters, nothing escaped
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _code(tokens: tuple[str, ...]) -> str:
    return " ".join(code_span(token) for token in tokens)


def _segments_note(encoding: Encoding, pair: lab.PairLayout | None) -> Note | None:
    """What tells the two sentences of a pair apart, for THIS tokenizer (read from its encoding)."""
    if pair is None:
        if encoding.token_type_ids is None:
            return Note("info", "This tokenizer returns no token_type_ids: the model gets no segment IDs.")
        return None
    layout = (
        "A pair is laid out as "
        + " ".join(part if part in ("A", "B") else code_span(part) for part in pair.parts)
        + " (A: the first sentence, B: the second)."
    )
    between = (
        f"the special token(s) {_code(pair.between)} that the tokenizer puts between them"
        if pair.between
        else None
    )
    if encoding.token_type_ids is None:
        text = "This tokenizer returns no token_type_ids: " + (
            f"the two sentences of a pair are told apart only by {between}."
            if between
            else "it just joins the two texts, with no special token between them, so nothing in the "
            "input marks where the second sentence starts."
        )
        return Note("info", text + " " + layout)
    first, second = pair.types_of(0), pair.types_of(1)
    if first == (0,) and second == (1,):
        text = "`token_type_ids` are **0** for the first sentence's tokens and **1** for the second's" + (
            f"; the tokenizer also puts {_code(pair.between)} between them." if pair.between else "."
        )
        return Note("markdown", text + " " + layout)
    values = ", ".join(str(v) for v in sorted(set(first) | set(second)))
    text = (
        f"This tokenizer returns `token_type_ids`, but here they are {values} for both sentences, so "
        "they do not tell the two sentences apart: "
        + (f"only {between} do." if between else "nothing does; the texts are just joined.")
    )
    return Note("info", text + " " + layout)


def _batch(encoding: Encoding, settings: Settings, tokenizer: Any) -> BatchView:
    B, S = encoding.shape  # input_ids is [B, S]
    lengths = [int(n) for n in encoding.lengths]  # [B] real tokens per sentence
    if encoding.padded:
        heading = (
            f"**input_ids shape [{B}, {S}]** · padding=`{settings.padding}`, side=`{settings.side}`, "
            f"pad token `{encoding.pad_token}` (id {encoding.pad_token_id})"
        )
    elif len(set(lengths)) > 1:
        heading = (
            f"**No padding:** the {B} rows keep their own lengths ({', '.join(map(str, lengths))} "
            'tokens), so they cannot be stacked into one tensor; `return_tensors="pt"` would fail.'
        )
    else:
        heading = (
            f"**No padding:** every row has {lengths[0]} tokens, so they stack into one tensor "
            f"[{B}, {S}] even without padding; a sentence of another length could not join them."
        )
    pair = lab.pair_layout(tokenizer, encoding.sentences[0], encoding.pairs[0]) if encoding.pairs else None
    cut = sum(encoding.truncated)
    return BatchView(
        heading=heading,
        input_ids=encoding.input_ids,
        attention_mask=encoding.attention_mask,
        token_type_ids=encoding.token_type_ids,
        segments=_segments_note(encoding, pair),
        pair=pair,
        grid_html=batch_grid_html(encoding),
        cut=Note("warning", f"Truncation cut {cut:,} token(s) in all.") if cut else None,
        downloads=(
            download(
                "JSON",
                "the encoding",
                partial(lab.encoding_json, encoding),
                stem="encoding",
                key="tok.download_json",
            ),
            download(
                "CSV",
                "the batch grid",
                partial(lab.batch_csv, encoding),
                stem="batch",
                key="tok.download_csv",
            ),
        ),
    )


def _family_view(result: lab.FamilyResult) -> FamilyView:
    header = f"**{result.family}** · vocabulary {result.vocab_size:,} · {len(result.tokens)} tokens" + (
        f" · {result.unknown} unknown" if result.unknown else ""
    )
    return FamilyView(header, plain_chips_html(result.tokens, shown=result.display), result)


def _size_notes(rows: list[dict[str, Any]]) -> tuple[Note, ...]:
    """Why a trained vocabulary is smaller or larger than asked, in the words of each algorithm."""
    notes = []
    for kind in SIZE_TABLE_KINDS:
        mine = [r for r in rows if r["tokenizer"] == kind]
        short = [r for r in mine if r["actual vocabulary"] < r["asked vocabulary"]]
        over = [r for r in mine if r["actual vocabulary"] > r["asked vocabulary"]]
        if short and kind in ("BPE", "WordPiece"):
            notes.append(
                f"{kind} builds its vocabulary by merging pairs of tokens into longer ones, again and "
                f"again: this training text runs out of pairs to merge at {short[0]['actual vocabulary']:,} "
                f"tokens, below the asked {short[0]['asked vocabulary']:,}."
            )
        elif short:
            notes.append(
                f"Unigram does not merge: it starts from many candidate pieces (substrings of "
                f"the training text) and prunes them down to the asked size; this text yields only "
                f"{short[0]['actual vocabulary']:,} pieces worth keeping, below the asked "
                f"{short[0]['asked vocabulary']:,}."
            )
        if over:
            start = "all 256 byte values" if kind == "BPE" else "every character of the training text"
            notes.append(
                f"{kind} starts from {start}, so its vocabulary cannot be smaller than that: asked for "
                f"{over[0]['asked vocabulary']:,}, it has {over[0]['actual vocabulary']:,}."
            )
    if not notes:
        notes.append("Every trained tokenizer has exactly the vocabulary size it was asked for.")
    return tuple(Note("caption", text) for text in notes)


def build_families(
    settings: Settings,
    trained: Callable[[str, str, int], Any],
    minilm: Callable[[], Any],
    smollm2: Callable[[], Any],
) -> FamiliesView:
    """The same text through word-, character-, WordPiece-, BPE- and Unigram tokenizers."""
    text = settings.family_text
    if not text.strip():
        return FamiliesView((Note("info", "Type a text to compare the tokenizers."),), (), None, ())
    own = settings.corpus.strip()[:MAX_CORPUS_CHARACTERS]
    corpus = own or lab.sample_corpus()
    source = "trained on your training text" if own else "trained on the sample text"
    try:
        results = [lab.word_family(text, corpus), lab.character_family(text, corpus)]
        for kind in TRAINABLE:
            results.append(lab.trained_family(kind, trained(kind, corpus, settings.vocab), text, source))
        results.append(
            lab.pretrained_family("WordPiece (bundled MiniLM)", "all-MiniLM-L6-v2", minilm(), text)
        )
        results.append(
            lab.pretrained_family(
                "byte-level BPE (bundled SmolLM2)", "SmolLM2-135M-Instruct", smollm2(), text
            )
        )
        rows = []
        for kind in SIZE_TABLE_KINDS:
            for size in VOCAB_SIZES:
                tokenizer = trained(kind, corpus, size)
                tokens = tokenizer.encode(text).tokens
                rows.append(
                    {
                        "tokenizer": kind,
                        "asked vocabulary": size,
                        "actual vocabulary": tokenizer.get_vocab_size(),
                        "tokens": len(tokens),
                        "split": " ".join(shown_tokens(tokenizer, tokens)),
                        "raw pieces": " ".join(tokens),
                    }
                )
    except ExplorerError as problem:
        return FamiliesView((Note("error", str(problem)),), (), None, ())
    except Exception as problem:  # a training text the trainers cannot use
        return FamiliesView((Note("error", f"Could not train on that text: {problem}"),), (), None, ())
    sizes = Table(tuple(rows), ["tokenizer", "asked vocabulary"])  # a two-level index
    return FamiliesView((), tuple(_family_view(r) for r in results), sizes, _size_notes(rows))


def build(
    loaded: LoadedCheckpoint,
    sentences: Sentences,
    settings: Settings,
    trained: Callable[[str, str, int], Any],
    minilm: Callable[[], Any],
    smollm2: Callable[[], Any],
) -> View:
    """Everything the Tokenizer lab shows. ``trained(kind, corpus, size)`` gives a trained
    tokenizer (cached by the caller); ``minilm()`` and ``smollm2()`` give the two bundled
    tokenizers, called only when the families tab has a text. Raises InputError when the pair
    box does not have one line per sentence."""
    limit = limits(loaded)
    max_length = settings.max_length or loaded.max_tokens
    settings = dataclasses.replace(settings, max_length=max_length)
    encoding = encode_batch(
        loaded.batch_tokenizer,
        sentences.sentences,
        _pairs(settings, sentences),
        padding=settings.padding,
        truncation=settings.truncation,
        max_length=max_length,
        padding_side=settings.side,
    )
    notes = [Note("info", text) for text in sentences.notes()]
    notes += [n for n in (_max_length_note(limit, max_length),) if n]
    if loaded.pad_note:
        notes.append(Note("caption", loaded.pad_note))
    scheme = lab.subword_scheme(loaded.tokenizer)
    tokenizer = loaded.tokenizer
    B = len(encoding.sentences)
    return View(
        settings=settings,
        limits=limit,
        encoding=encoding,
        notes=tuple(notes),
        scheme=f"**{loaded.resolved.label}** uses **{scheme.algorithm}**. {scheme.explanation}"
        + _shown_note(encoding),
        specials=_specials(loaded),
        sentences=tuple(_sentence(encoding, b, tokenizer.unk_token_id, max_length) for b in range(B)),
        step_labels=tuple(f"{b}: {s[:STEP_LABEL_CHARACTERS]}" for b, s in enumerate(encoding.sentences)),
        steps=tuple(_steps(tokenizer, s) for s in encoding.sentences),
        batch=_batch(encoding, settings, loaded.batch_tokenizer),
        families=build_families(settings, trained, minilm, smollm2),
    )
