"""The whole flow in one record: text -> tokens -> input IDs -> embeddings -> N x (attention ->
feed-forward) -> head -> logits -> what the task returns, each box with the shape it had in THIS
run and the module that made it (as ``named_modules()`` spells it).

Sizes come from what was computed (the encoding's [B, S], the run's output shapes: D, the number of
layers, the vocabulary or labels) and, where the run does not show them, from the loaded model's own
module tree (the feed-forward width, the head's module) and its config (the number of heads). An
encoder-decoder gets two stacks, the decoder's with cross-attention. Pure: no Streamlit, no model call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from explorer.pipeline import architecture, postprocess, tasks
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun
from explorer.words import count

Kind = Literal["encoder", "decoder", "encoder-decoder"]

HEAD_FIELDS = (*architecture.HEAD_FIELDS, "encoder_attention_heads")
DECODER_HEAD_FIELDS = ("decoder_attention_heads", *HEAD_FIELDS)
# Where a feed-forward network's first (widening) projection lives, by the end of its module name:
# the architecture table's, and GPT-J's.
_UP_TAILS = tuple(
    dict.fromkeys(".".join(name.split(".")[-2:]) for name in (*architecture.block_names("up"), "mlp.fc_in"))
)
_CROSS_NAMES = ("EncDecAttention", "encoder_attn", "crossattention", "cross_attn")


@dataclass(frozen=True)
class Box:
    """One step of the flow."""

    key: str  # what it is: "text", "tokens", "input_ids", "embeddings", "attention", "feed_forward"…
    name: str  # "Attention"
    shape: str  # the tensor it makes in this run, e.g. "[2, 12, 18, 18]" ("" for text)
    detail: str  # one line: "12 heads × 32 dimensions", "384 → 1536 → 384"
    module: str = ""  # where it lives in model.named_modules(), e.g. "encoder.layer.0…5.attention.self"
    page: str = ""  # the page that explains it (its url path: "tokenizer", "layer"…), "" for none
    focus: str = ""  # what that page should open on (a layer step, an attention part)


@dataclass(frozen=True)
class Stack:
    """N identical layers: the boxes of one layer, repeated."""

    name: str  # "Encoder", "Decoder" or "" (an encoder-only or decoder-only model)
    layers: int  # N, counted from the hidden states the run returned
    module: str  # the list of layers, e.g. "encoder.layer"
    boxes: tuple[Box, ...]
    page: str = ""  # the page that walks through one layer


@dataclass(frozen=True)
class Sizes:
    """The sizes of this run, each from the outputs or the model (see the module's docstring)."""

    B: int  # sentences
    S: int  # input positions
    D: int  # hidden size (width of every hidden state)
    N: int  # layers (of the encoder for an encoder-decoder)
    H: int | None  # attention heads per layer (config); None when the config does not say
    F: int | None  # feed-forward width (the first projection's output); None when not found
    T: int | None = None  # decoder positions (encoder-decoders)
    N_dec: int | None = None  # decoder layers (encoder-decoders)


@dataclass(frozen=True)
class Flow:
    kind: Kind
    sizes: Sizes
    before: tuple[Box, ...]  # text … embeddings (an encoder-decoder: its encoder's)
    stacks: tuple[Stack, ...]  # one; two for an encoder-decoder (encoder, decoder)
    decoder_before: tuple[Box, ...]  # an encoder-decoder's decoder inputs and embeddings, else ()
    after: tuple[Box, ...]  # head … what the task returns


def _shape(*dims: int | None) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _output(run: ModelRun, prefix: str) -> tuple[int, tuple[int, ...]] | None:
    """(how many tensors, one tensor's shape) of the output ``prefix``: "hidden_states[0…6]" -> 7."""
    for output in run.outputs:
        if output.name.startswith(prefix + "[0…"):
            return int(output.name[len(prefix) + 3 : -1]) + 1, output.shape
    return None


def _names(model: Any) -> dict[int, str]:
    """Each module's name in model.named_modules(), by identity."""
    return {id(module): name for name, module in model.named_modules()}


def _width(model: Any, prefix: str) -> int | None:
    """The output width of the first feed-forward up projection under ``prefix`` ("" = anywhere)."""
    for name, module in model.named_modules():
        if f".{prefix}" in f".{name}" and any(name == t or name.endswith("." + t) for t in _UP_TAILS):
            for field in ("out_features", "nf"):  # a Linear, or GPT-2's Conv1D
                value = getattr(module, field, None)
                if isinstance(value, int):
                    return value
    return None


def _layer_list(loaded: LoadedCheckpoint, names: dict[int, str], n: int, part: str) -> str:
    """The name of the list of ``n`` layers (``part``: "encoder"/"decoder"/"" for any)."""
    family = architecture.lookup(loaded.config)
    if family is not None:
        path = family.layers.replace("encoder", part) if part else family.layers
        found = architecture.module_at(loaded.model.base_model, path)
        if found is not None and id(found) in names:
            return names[id(found)]
    for name, module in loaded.model.named_modules():
        if type(module).__name__ == "ModuleList" and len(module) == n and part in name:
            return name
    return ""


def _in_layer(loaded: LoadedCheckpoint, layers: str, wanted: tuple[str, ...]) -> str:
    """The name of the first module in layer 0 of ``layers`` whose name ends with one of ``wanted``
    (one name part, or two: "intermediate.dense")."""
    first = f"{layers}.0."
    for name, _ in loaded.model.named_modules():
        if name.startswith(first) and any(name.endswith("." + w) for w in wanted):
            return name
    return ""


def _every_layer(name: str, layers: str, n: int, listed: int) -> str:
    """ "encoder.layer.0.attention.self" -> "encoder.layer.0…5.attention.self": every layer's.
    ``listed``: how many the list holds; fewer than n (ALBERT) means layers share weights."""
    first = f"{layers}.0"
    if name and listed < n:
        return f"{name} (shared by all {n} layers)"
    return f"{layers}.0…{n - 1}{name[len(first) :]}" if name.startswith(first) and n > 1 else name


def _sizes(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun) -> Sizes:
    B, S = encoding.shape  # input_ids: [B, S]
    config = loaded.config
    encoder = _output(run, "encoder_hidden_states") or _output(run, "hidden_states")
    if encoder is None:  # every run keeps the hidden states' shapes; a run without them is a bug
        raise ValueError("the flow needs the hidden states' shapes in run.outputs")
    count, shape = encoder  # embeddings + N layers, each [B, S, D]
    decoder = _output(run, "decoder_hidden_states")  # embeddings + N_dec layers, each [B, T, D]
    return Sizes(
        B=B,
        S=S,
        D=shape[-1],
        N=count - 1,
        H=architecture.config_field(config, *HEAD_FIELDS),
        F=_width(loaded.model, "encoder." if decoder else ""),
        T=decoder[1][1] if decoder else None,
        N_dec=decoder[0] - 1 if decoder else None,
    )


def _heads_detail(config: Any, D: int, H: int | None) -> str:
    """ "12 heads × 32 dimensions" (and the key/value heads when fewer)."""
    if H is None:
        return "heads: not in the config"
    head_dim = architecture.config_field(config, "head_dim", "d_kv") or D // H
    kv = architecture.config_field(config, "num_key_value_heads")
    shared = f", {kv} key/value heads" if kv and kv != H else ""
    return f"{H} heads × {head_dim} dimensions{shared}"


def _position_words(loaded: LoadedCheckpoint) -> str:
    return {
        "learned": " + learned positions",
        "sinusoidal": " + fixed (sinusoidal) positions",
        "rotary": "; positions rotate Q and K (rotary)",
        "relative": "; positions enter attention (relative)",
        "none": "",
    }[architecture.position_kind(loaded.model)]


def _tokens_detail(encoding: Encoding) -> str:
    real = int(encoding.lengths.sum())
    padding = encoding.shape[0] * encoding.shape[1] - real if encoding.padded else 0
    return count(real, "real token") + (f" + {padding} padding" if padding else "")


def _before(
    loaded: LoadedCheckpoint, encoding: Encoding, sizes: Sizes, names: dict[int, str]
) -> tuple[Box, ...]:
    B, S, D = sizes.B, sizes.S, sizes.D
    table = loaded.model.get_input_embeddings()  # [V, D]
    family = architecture.lookup(loaded.config)
    walked = family is not None and "embeddings" in family.recomputes
    inputs = ["attention_mask"] + (["token_type_ids"] if encoding.token_type_ids is not None else [])
    return (
        Box("text", "Text", "", count(B, "sentence"), page="tokenizer"),
        Box(
            "tokens",
            "Tokens",
            f"{B} × {S}",
            _tokens_detail(encoding),
            page="tokenizer",
        ),
        Box(
            "input_ids",
            "Input IDs",
            _shape(B, S),
            "with " + " and ".join(inputs) + (", each " if len(inputs) > 1 else " ") + _shape(B, S),
            page="tokenizer",
        ),
        Box(
            "embeddings",
            "Embeddings",
            _shape(B, S, D),
            f"table {table.num_embeddings:,} × {table.embedding_dim}{_position_words(loaded)}",
            module=names.get(id(table), ""),
            page="layer" if walked else "model",
            focus="embeddings" if walked else "",
        ),
    )


def _stack(loaded: LoadedCheckpoint, sizes: Sizes, names: dict[int, str], part: str) -> Stack:
    """The encoder's (part "encoder"), the decoder's ("decoder") or the only stack ("")."""
    config, D = loaded.config, sizes.D
    decoder = part == "decoder"
    n = (sizes.N_dec or 0) if decoder else sizes.N
    rows, cols = (sizes.T, sizes.T) if decoder else (sizes.S, sizes.S)
    H = architecture.config_field(config, *DECODER_HEAD_FIELDS) if decoder else sizes.H
    F = _width(loaded.model, "decoder.") if decoder else sizes.F
    layers = _layer_list(loaded, names, n, part)
    listed = len(dict(loaded.model.named_modules()).get(layers, range(n)))  # the list ALBERT shares
    family = architecture.lookup(config)
    own = family.attention.module.rsplit(".", 1)[-1] if family is not None else "attention"
    attention = _in_layer(loaded, layers, (own, "attention", "self_attn", "attn", "SelfAttention"))
    causal = decoder or loaded.is_decoder
    parts = {"encoder": "encoder self-attention", "decoder": "decoder self-attention"}
    boxes = [
        Box(
            "attention",
            "Causal self-attention" if causal else "Self-attention",
            _shape(sizes.B, H, rows, cols),
            _heads_detail(config, D, H) + (", each token sees the ones before" if causal else ""),
            module=_every_layer(attention, layers, n, listed),
            page="attention",
            focus=parts.get(part, ""),
        )
    ]
    if decoder:
        cross = _in_layer(loaded, layers, _CROSS_NAMES)
        boxes.append(
            Box(
                "cross_attention",
                "Cross-attention",
                _shape(sizes.B, H, sizes.T, sizes.S),
                f"decoder positions read the encoder's {sizes.S} vectors",
                module=_every_layer(cross, layers, n, listed),
                page="attention",
                focus="cross-attention",
            )
        )
    walked = family is not None and "layer" in family.recomputes
    boxes.append(
        Box(
            "feed_forward",
            "Feed-forward",
            _shape(sizes.B, rows, F),
            f"{D} → {F if F is not None else '?'} → {D}, each position alone",
            module=_every_layer(_in_layer(loaded, layers, _UP_TAILS), layers, n, listed),
            page="layer" if walked else "model",
            focus="feed_forward" if walked else "",
        )
    )
    name = {"encoder": "Encoder", "decoder": "Decoder"}.get(part, "")
    return Stack(name, n, layers, tuple(boxes), page="layer" if walked else "model")


def _decoder_before(
    loaded: LoadedCheckpoint, run: ModelRun, sizes: Sizes, names: dict[int, str]
) -> tuple[Box, ...]:
    """An encoder-decoder's decoder inputs: its start token and what it wrote, then embeddings."""
    if run.decoder_input_ids is None:  # [B, T]
        return ()
    start = loaded.tokenizer.convert_ids_to_tokens(int(run.decoder_input_ids[0, 0]))
    table = loaded.model.get_input_embeddings()  # [V, D], shared with the encoder
    return (
        Box(
            "decoder_input_ids",
            "Decoder input IDs",
            _shape(sizes.B, sizes.T),
            f"start token {start}, then the tokens it wrote",
            page="generation",
        ),
        Box(
            "decoder_embeddings",
            "Decoder embeddings",
            _shape(sizes.B, sizes.T, sizes.D),
            f"the same {table.num_embeddings:,} × {table.embedding_dim} table",
            module=names.get(id(table), ""),
            page="model",
        ),
    )


def _head_module(loaded: LoadedCheckpoint) -> str:
    """The name of the head on top of the body (lm_head, classifier, qa_outputs…), "" for none."""
    model = loaded.model
    body = ("encoder", "decoder", "shared", getattr(model, "base_model_prefix", ""))
    for name, child in model.named_children():
        if child is model.base_model or name in body or not any(True for _ in child.parameters()):
            continue
        return name
    return ""


_HEAD_PAGES = {
    tasks.SEQUENCE_CLASSIFICATION: "classification",
    tasks.CAUSAL_LM: "generation",
    tasks.SEQ2SEQ_LM: "generation",
    tasks.TOKEN_CLASSIFICATION: "ner",
}


def _result(loaded: LoadedCheckpoint, sizes: Sizes, width: int, page: str) -> Box:
    """What postprocessing makes of the logits, for this head."""
    B = sizes.B
    head = loaded.head_class
    if head == tasks.SEQUENCE_CLASSIFICATION:
        function = postprocess.classification_function(loaded.config)
        if function == "none":
            return Box(
                "result", "Score", _shape(B, width), "regression: the raw score, no function", page=page
            )
        what = "softmax over the labels" if function == "softmax" else "sigmoid, each label alone"
        return Box("result", "Probabilities", _shape(B, width), what, page=page)
    if head in (tasks.CAUSAL_LM, tasks.SEQ2SEQ_LM):
        where = "decoder's last position" if head == tasks.SEQ2SEQ_LM else "last token of each sentence"
        return Box(
            "result", "Next-token probabilities", _shape(B, width), f"softmax, after the {where}", page=page
        )
    if head == tasks.MASKED_LM:
        return Box("result", "Token probabilities", f"[masks, {width:,}]", "softmax at each masked position")
    if head == tasks.TOKEN_CLASSIFICATION:
        return Box(
            "result", "A label per token", _shape(B, sizes.S), f"softmax over {width} labels", page=page
        )
    if head == tasks.QUESTION_ANSWERING:
        return Box("result", "Answer span", "start, end", "the best start and end positions")
    return Box("result", "Choice probabilities", "", "softmax over each question's choices")


def _after(loaded: LoadedCheckpoint, run: ModelRun, sizes: Sizes) -> tuple[Box, ...]:
    B, S, D = sizes.B, sizes.S, sizes.D
    logits = next((o for o in run.outputs if o.name in ("logits", "start_logits")), None)
    if logits is None:  # no task head: the token vectors are what the model gives
        return (
            Box("output", "Last hidden state", _shape(B, S, D), "one vector per token", page="model"),
            Box("result", "Sentence embeddings", _shape(B, D), "the token vectors pooled per sentence"),
        )
    page = _HEAD_PAGES.get(loaded.head_class, "")
    head = _head_module(loaded)
    if logits.name == "start_logits":  # question answering: two scores per token, [B, S] each
        return (
            Box("head", "Head", "", f"{D} → 2 (start, end)", module=head),
            Box(
                "logits",
                "Start and end logits",
                f"2 × {_shape(*logits.shape)}",
                "one pair of scores per token",
            ),
            _result(loaded, sizes, 2, page),
        )
    width = logits.shape[-1]
    if loaded.head_class in (tasks.CAUSAL_LM, tasks.SEQ2SEQ_LM, tasks.MASKED_LM):
        scores = f"{width:,} scores: one per vocabulary token"
    elif loaded.head_class == tasks.TOKEN_CLASSIFICATION:
        scores = count(width, "score") + " per token, one per label"
    else:
        scores = count(width, "score") + " per sentence"
    return (
        Box("head", "Head", "", f"{D} → {width:,}", module=head, page=page),
        Box("logits", "Logits", _shape(*logits.shape), scores, page=page),
        _result(loaded, sizes, width, page),
    )


def build(loaded: LoadedCheckpoint, encoding: Encoding, run: ModelRun) -> Flow:
    """The flow of this run through this model."""
    sizes = _sizes(loaded, encoding, run)
    names = _names(loaded.model)
    if loaded.is_encoder_decoder:
        return Flow(
            kind="encoder-decoder",
            sizes=sizes,
            before=_before(loaded, encoding, sizes, names),
            stacks=(_stack(loaded, sizes, names, "encoder"), _stack(loaded, sizes, names, "decoder")),
            decoder_before=_decoder_before(loaded, run, sizes, names),
            after=_after(loaded, run, sizes),
        )
    return Flow(
        kind="decoder" if loaded.is_decoder else "encoder",
        sizes=sizes,
        before=_before(loaded, encoding, sizes, names),
        stacks=(_stack(loaded, sizes, names, ""),),
        decoder_before=(),
        after=_after(loaded, run, sizes),
    )
