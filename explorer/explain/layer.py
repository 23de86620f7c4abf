"""The input embeddings and one whole transformer layer, recomputed step by step from the model's
own weights, for one sentence of a run.

Layers are numbered as the course does: ``hidden_states[0]`` is the embeddings and layer l (1…L)
turns ``hidden_states[l - 1]`` into ``hidden_states[l]``. Nothing here runs the whole model: each
step calls one of its submodules (an embedding table, a projection, a norm, a feed-forward layer,
the modeling module's own attention function) on the tensor of the step before, starting from the
run's hidden states, and the result is compared with the model's own hidden state.

Shapes: S positions, D hidden size, E embedding size (ALBERT's may differ from D), H query heads,
KV key/value heads, d size per head, I feed-forward (intermediate) size."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from explorer.errors import ExplorerError
from explorer.explain.attention import _modeling_module, _project, attention_mask_2d
from explorer.pipeline.architecture import Family, counts_own_positions, family_for, layer_module, module_at
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun, model_inputs, position_ids

SAME_HIDDEN_STATE = (
    1e-4  # bound on |recomputed - model| for a hidden state (float32 sums drift more) called "the same"
)

# The layer layouts the walks cover: explorer.pipeline.architecture's family names.
Architecture = Literal["bert", "distilbert", "albert", "gpt2", "rotary"]
TOKEN_AXES = ("position", "embedding dimension")
ROW = ("position", "hidden dimension")
HEAD_AXES = ("position", "heads × head size")
WIDE = ("position", "feed-forward dimension")


@dataclass(frozen=True, kw_only=True)
class Step:
    """One operation and the tensor it made, for one sentence (no batch axis)."""

    key: str  # what the step is, e.g. "queries", "attention_output", "ffn_norm"
    title: str  # e.g. "Queries"
    operation: str  # Markdown: what the model does here, naming its module
    tensor: np.ndarray  # float32: [S, X] for most steps, [H, S, S] weights, [H, S, d] head outputs
    axes: tuple[str, ...]  # what each axis is, e.g. ("position", "heads × head size")
    split: tuple[int, int] | None = None  # the last axis is n heads × d dimensions

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.tensor.shape)

    @property
    def shape_text(self) -> str:
        """The shape read from the tensor, e.g. "[12, 4 × 16 = 64]" for Qwen3's queries."""
        dims = [str(n) for n in self.shape]
        if self.split is not None:
            n, d = self.split
            dims[-1] = f"{n} × {d} = {n * d}"
        return "[" + ", ".join(dims) + "]"


@dataclass(frozen=True, kw_only=True)
class Walk:
    """A sequence of steps ending in a tensor the model also returned, and how close they are."""

    architecture: Architecture
    sentence: int
    tokens: tuple[str, ...]  # [S]
    shown: tuple[str, ...]  # [S] the tokens as the screen shows them (token_display)
    steps: tuple[Step, ...]
    output: np.ndarray  # [S, D] the last step's tensor
    reference: np.ndarray  # [S, D] the model's own hidden state for this sentence
    reference_name: str  # e.g. "hidden_states[3]"
    compared: np.ndarray  # [S] bool: the positions compared
    max_abs_difference: float
    facts: tuple[str, ...]  # Markdown sentences about this architecture's path

    @property
    def same(self) -> bool:
        return self.max_abs_difference < SAME_HIDDEN_STATE


def architecture(loaded: LoadedCheckpoint) -> Architecture:
    """Which layer layout the model has: its family's name in explorer.pipeline.architecture's
    table; ExplorerError (the table's sentence for the page) when the walks do not cover it."""
    return cast(Architecture, family_for(loaded, "layer").name)


def _run_position_ids(loaded: LoadedCheckpoint, encoding: Encoding) -> Any:
    """[B, S] the position ids run_model passed to the model, or None when it passed none (the
    model then numbers positions itself). The same rule as explorer.pipeline.run.run_model."""
    _, inputs = model_inputs(loaded.model, encoding)
    return inputs.get("position_ids")


def _ids(array: np.ndarray, sentence: int) -> Any:
    import torch

    return torch.from_numpy(np.array(array[sentence : sentence + 1]))  # [1, S]


def _np(tensor: Any) -> np.ndarray:
    return tensor.detach().float().numpy().copy()


def _compare(
    family: Family,
    hidden_states: np.ndarray,
    encoding: Encoding,
    sentence: int,
    steps: list[Step],
    facts: list[str],
    *,
    layer: int,
    compared: np.ndarray,
) -> Walk:
    """The walk of ``steps``: its last tensor against hidden_states[layer] ([L + 1, B, S, D], the
    run's) at the ``compared`` positions [S] (bool)."""
    reference = np.asarray(hidden_states[layer, sentence], dtype=np.float32)  # [S, D]
    result = steps[-1].tensor  # [S, D]
    difference = np.abs(result - reference)[compared]
    return Walk(
        architecture=cast(Architecture, family.name),
        sentence=sentence,
        tokens=encoding.tokens[sentence],
        shown=encoding.shown[sentence],
        steps=tuple(steps),
        output=result,
        reference=reference,
        reference_name=f"hidden_states[{layer}]",
        compared=compared,
        max_abs_difference=float(difference.max()) if difference.size else 0.0,
        facts=tuple(facts),
    )


# --- The input embeddings ------------------------------------------------------------------------


def embedding_steps(loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, *, sentence: int) -> Walk:
    """Token (+ segment) (+ position) embeddings (+ norm, + ALBERT's projection) for one sentence,
    as the family's table entry places them, compared with ``hidden_states[0]`` at every position
    (padding included)."""
    import torch

    if run.hidden_states is None:
        raise ValueError("embedding_steps needs a run with hidden states")
    family = family_for(loaded, "embeddings")
    with torch.inference_mode():
        steps = _embedding_sum(loaded, family, encoding, sentence)
        steps += _embedding_after_sum(loaded, family, steps[-1])
    compared = np.ones(encoding.shape[1], dtype=bool)  # [S]
    facts = _embedding_facts(family, has_segment=any(step.key == "segment" for step in steps))
    return _compare(family, run.hidden_states, encoding, sentence, steps, facts, layer=0, compared=compared)


def _embedding_sum(loaded: LoadedCheckpoint, family: Family, encoding: Encoding, sentence: int) -> list[Step]:
    """Token, segment and position embeddings and their sum: the steps that have a module here."""
    base, table = loaded.model.base_model, family.embeddings
    ids = _ids(encoding.input_ids, sentence)  # [1, S]
    tokens = module_at(base, table.token)
    total = tokens(ids)[0]  # [S, E]
    alone = table.segment is None and table.position is None and table.norm is None
    text = _token_text(_short(table.token), tuple(tokens.weight.shape), alone=alone)
    steps = [Step(key="token", title="Token embeddings", operation=text, tensor=_np(total), axes=TOKEN_AXES)]
    added = ["token"]
    segments = module_at(base, table.segment) if table.segment and table.segment != table.token else None
    if segments is not None:
        vectors, step = _segment_step(loaded, encoding, sentence, table.segment or "", segments)
        total, added = total + vectors, [*added, "segment"]
        steps.append(step)
    if table.position is not None:
        vectors, step = _position_step(loaded, family, encoding, sentence, module_at(base, table.position))
        total, added = total + vectors, [*added, "position"]
        steps.append(step)
    if len(steps) == 1:
        return steps
    parts = " + ".join(added)
    given = _token_types(loaded, encoding, sentence)
    if table.segment == table.token and given is not None:  # GPT-2 looks token types up in wte
        total = total + tokens(given)[0]  # [S, E]
        parts += f" + token types ({family.label} looks them up in `{_short(table.token)}`, the token table)"
    steps.append(
        Step(
            key="sum",
            title="Sum",
            operation=f"{parts}, added element by element.",
            tensor=_np(total),
            axes=TOKEN_AXES,
        )
    )
    return steps


def _embedding_after_sum(loaded: LoadedCheckpoint, family: Family, last: Step) -> list[Step]:
    """The norm after the sum and ALBERT's projection to the hidden size, where the family has them."""
    import torch

    base, table = loaded.model.base_model, family.embeddings
    total = torch.from_numpy(last.tensor)  # [S, E]
    steps = []
    if table.norm is not None:
        total = module_at(base, table.norm)(total)  # [S, E]
        text = _embedding_norm_text(_short(table.norm), total.shape[-1])
        steps.append(Step(key="norm", title="LayerNorm", operation=text, tensor=_np(total), axes=TOKEN_AXES))
    if table.projection is not None:
        width = total.shape[-1]
        total = module_at(base, table.projection)(total)  # [S, D]
        text = _projection_text(family.label, table.projection, width, total.shape[-1])
        steps.append(
            Step(
                key="projection",
                title="Projection to the hidden size",
                operation=text,
                tensor=_np(total),
                axes=ROW,
            )
        )
    return steps


def _token_types(loaded: LoadedCheckpoint, encoding: Encoding, sentence: int) -> Any:
    """[1, S] the sentence's token type ids as run_model passes them, or None when it passes none."""
    accepted = inspect.signature(loaded.model.forward).parameters
    if encoding.token_type_ids is None or "token_type_ids" not in accepted:
        return None
    return _ids(encoding.token_type_ids, sentence)


def _segment_step(
    loaded: LoadedCheckpoint, encoding: Encoding, sentence: int, name: str, table: Any
) -> tuple[Any, Step]:
    """([S, E] the segment vectors, their step): segment 0 for every token when none are given."""
    import torch

    given = _token_types(loaded, encoding, sentence)
    types = given if given is not None else torch.zeros_like(_ids(encoding.input_ids, sentence))  # [1, S]
    vectors = table(types)[0]  # [S, E]
    used = sorted({int(t) for t in types[0]}) if given is not None else None
    text = _segment_text(_short(name), tuple(table.weight.shape), used)
    step = Step(
        key="segment",
        title="Segment (token type) embeddings",
        operation=text,
        tensor=_np(vectors),
        axes=TOKEN_AXES,
    )
    return vectors, step


def _position_rows(
    loaded: LoadedCheckpoint, family: Family, encoding: Encoding, sentence: int
) -> tuple[Any, str]:
    """([1, S] the row of the position table each token reads, how they are numbered): the
    position ids run_model passed, else the model's own numbering."""
    import torch

    passed = _run_position_ids(loaded, encoding)
    if passed is not None:
        return passed[sentence : sentence + 1], _left_padded_numbering(family.kind == "decoder")
    model = loaded.model
    if counts_own_positions(model):
        pad = int(model.base_model.embeddings.padding_idx)
        real = _ids(encoding.input_ids, sentence).ne(pad).long()  # [1, S]
        return torch.cumsum(real, dim=1) * real + pad, _padding_idx_numbering(
            pad
        )  # as create_position_ids_from_input_ids
    return torch.arange(encoding.shape[1])[None, :], "position i reads row i"


def _position_step(
    loaded: LoadedCheckpoint, family: Family, encoding: Encoding, sentence: int, table: Any
) -> tuple[Any, Step]:
    """([S, E] the position vectors, their step)."""
    positions, numbering = _position_rows(loaded, family, encoding, sentence)  # [1, S]
    vectors = table(positions)[0]  # [S, E]
    text = _position_text(
        _short(family.embeddings.position or ""), tuple(table.weight.shape), numbering, positions[0].numpy()
    )
    return vectors, Step(
        key="position", title="Position embeddings", operation=text, tensor=_np(vectors), axes=TOKEN_AXES
    )


# --- One whole layer ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Layout:
    """One layer's modules, by role, with the names the model gives them (from the table)."""

    pre_norm: bool
    attention: Any  # the module that holds the attention's settings (passed to its attention function)
    attention_norm: tuple[str, Any]  # pre-norm: before attention; post-norm: after the residual sum
    output_projection: tuple[str, Any]
    ffn_norm: tuple[str, Any]  # pre-norm: before the feed-forward; post-norm: after its residual sum
    ffn_in: tuple[str, Any] | None  # plain feed-forward: widen
    gate: tuple[str, Any] | None  # gated feed-forward (Llama): gate and up projections
    up: tuple[str, Any] | None
    activation: Any  # callable
    activation_name: str
    ffn_out: tuple[str, Any]
    norm_kind: str  # "LayerNorm" or "RMSNorm"
    final_norm: tuple[str, Any] | None  # applied by transformers to the last hidden state


def _layout(loaded: LoadedCheckpoint, family: Family, index: int, last: bool) -> _Layout:
    """The modules of layer ``index`` (0-based, as the model's module list counts), where the
    family's table entry says they are."""
    block = layer_module(loaded.model, family, index)
    norms, ffn = family.norms, family.feed_forward

    def named(path: str) -> tuple[str, Any]:
        return path, module_at(block, path)

    final = norms.final if last else None
    return _Layout(
        pre_norm=norms.placement == "pre",
        attention=module_at(block, family.attention.module),
        attention_norm=named(norms.attention),
        output_projection=named(family.attention.output),
        ffn_norm=named(norms.feed_forward),
        ffn_in=None if ffn.gate else named(ffn.up),
        gate=named(ffn.gate) if ffn.gate else None,
        up=named(ffn.up) if ffn.gate else None,
        activation=module_at(block, ffn.activation),
        activation_name=str(getattr(loaded.config, ffn.activation_config, "activation")),
        ffn_out=named(ffn.down),
        norm_kind=norms.kind,
        final_norm=(final, module_at(loaded.model.base_model, final)) if final else None,
    )


def _attend(attention: Any, q: Any, k: Any, v: Any, allowed: np.ndarray, scale: float) -> tuple[Any, Any]:
    """The modeling module's own eager attention function on Q, K, V ([1, H, S, d], [1, KV, S, d])
    with an additive mask built from ``allowed`` [S, S]: [H, S, S] weights and [H, S, d] outputs."""
    import torch

    function = getattr(_modeling_module(attention), "eager_attention_forward", None)
    if function is None:
        raise ExplorerError(
            "This model's code has no eager attention function to recompute its attention with."
        )
    blocked = torch.from_numpy(~allowed)  # [S, S]
    # −∞ for keys a query may not see; transformers uses the smallest float, so that a row with no
    # visible key at all (a padding query under left padding) stays finite.
    mask = torch.zeros(blocked.shape).masked_fill(blocked, torch.finfo(torch.float32).min)[None, None]
    output, weights = function(attention, q, k, v, mask, scaling=scale, dropout=0.0)
    return weights[0], output[0].transpose(0, 1)  # [H, S, S], [H, S, d] (output came as [1, S, H, d])


def layer_steps(
    loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, *, layer: int, sentence: int
) -> Walk:
    """Layer ``layer`` (1…L) for one sentence, from ``hidden_states[layer - 1]`` and the layer's
    weights, compared with ``hidden_states[layer]`` over the sentence's real tokens."""
    import torch

    if run.hidden_states is None:
        raise ValueError("layer_steps needs a run with hidden states")
    L = run.hidden_states.shape[0] - 1
    if not 1 <= layer <= L:
        raise ValueError(f"layer {layer} is not one of 1…{L}")
    family = family_for(loaded, "layer")
    parts = _layout(loaded, family, layer - 1, last=layer == L)
    hidden = torch.from_numpy(np.array(run.hidden_states[layer - 1, sentence : sentence + 1]))  # [1, S, D]
    text = _input_text(layer, hidden.shape[2])
    steps = [Step(key="input", title="Input", operation=text, tensor=_np(hidden[0]), axes=ROW)]
    with torch.inference_mode():
        steps += _attention_sublayer(loaded, family, parts, encoding, sentence, hidden, layer - 1)
        steps += _feed_forward_sublayer(parts, torch.from_numpy(steps[-1].tensor), layer)
    compared = encoding.attention_mask[sentence].astype(bool)  # [S]
    return _compare(
        family,
        run.hidden_states,
        encoding,
        sentence,
        steps,
        _layer_facts(family),
        layer=layer,
        compared=compared,
    )


def _attention_sublayer(
    loaded: LoadedCheckpoint,
    family: Family,
    parts: _Layout,
    encoding: Encoding,
    sentence: int,
    hidden: Any,
    index: int,
) -> list[Step]:
    """From the layer's input [1, S, D] to input + attention output (the first residual sum)."""
    passed = _run_position_ids(loaded, encoding)
    positions = (passed if passed is not None else position_ids(encoding))[sentence : sentence + 1]  # [1, S]
    projected = _project(family, loaded, hidden, index, positions)
    q, k, v = projected.q, projected.k, projected.v  # [1, H, S, d], [1, KV, S, d], [1, KV, S, d]
    d = q.shape[-1]
    steps = []
    if parts.pre_norm:
        name, _ = parts.attention_norm
        text = _pre_norm_text(name, parts.norm_kind)
        title = f"{parts.norm_kind} before attention"
        steps.append(
            Step(key="attention_norm", title=title, operation=text, tensor=_np(projected.x[0]), axes=ROW)
        )
    steps += _projection_steps(family, parts.pre_norm, projected)
    allowed = attention_mask_2d(encoding, sentence, causal=loaded.is_decoder)  # [S, S]
    window = getattr(parts.attention, "sliding_window", None)
    if isinstance(window, int) and window > 0:
        S = allowed.shape[0]
        offsets = np.arange(S)[:, None] - np.arange(S)[None, :]  # [S, S] query - key
        allowed &= offsets < window
    scale = projected.scaling if projected.scaling is not None else 1.0 / float(np.sqrt(d))
    weights, heads = _attend(parts.attention, q, k, v, allowed, scale)  # [H, S, S], [H, S, d]
    steps += _mixing_steps(parts, weights, heads, scale, causal=loaded.is_decoder)
    attended = _torch(steps[-1].tensor)  # [S, D]
    residual = hidden[0] + attended  # [S, D]
    text = "The layer's input is added back: input + attention output (the **residual connection**)."
    steps.append(
        Step(key="residual_1", title="Residual connection", operation=text, tensor=_np(residual), axes=ROW)
    )
    return steps


def _torch(array: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(array)


def _projection_steps(family: Family, pre_norm: bool, projected: Any) -> list[Step]:
    """Queries, keys and values of every head, each [S, heads × d]."""
    q, k, v = projected.q, projected.k, projected.v  # [1, H, S, d], [1, KV, S, d], [1, KV, S, d]
    H, KV, d = q.shape[1], k.shape[1], q.shape[-1]

    def flat(t: Any) -> np.ndarray:  # [1, n, S, d] -> [S, n * d]
        return _np(t[0].transpose(0, 1).reshape(t.shape[2], -1))

    texts = _projection_texts(family, pre_norm, projected.rotary, projected.qk_norm, H, KV, d)
    return [
        Step(
            key="queries", title="Queries", operation=texts[0], tensor=flat(q), axes=HEAD_AXES, split=(H, d)
        ),
        Step(key="keys", title="Keys", operation=texts[1], tensor=flat(k), axes=HEAD_AXES, split=(KV, d)),
        Step(key="values", title="Values", operation=texts[2], tensor=flat(v), axes=HEAD_AXES, split=(KV, d)),
    ]


def _mixing_steps(parts: _Layout, weights: Any, heads: Any, scale: float, *, causal: bool) -> list[Step]:
    """The weights [H, S, S], each head's output [H, S, d], the heads side by side [S, H × d] and
    the output projection [S, D]."""
    H, S, d = heads.shape
    concatenated = heads.transpose(0, 1).reshape(S, H * d)  # [S, H × d]
    name, projection = parts.output_projection
    attended = projection(concatenated)  # [S, D]
    D = attended.shape[-1]
    return [
        Step(
            key="weights",
            title="Attention weights",
            operation=_weights_text(d, scale, causal),
            tensor=_np(weights),
            axes=("head", "query position", "key position"),
        ),
        Step(
            key="heads",
            title="Each head's output",
            operation=f"Each head mixes the values with its weights: weights · V, {d} dimensions per head.",
            tensor=_np(heads),
            axes=("head", "position", "head dimension"),
        ),
        Step(
            key="concatenated",
            title="Heads concatenated",
            operation=_concatenated_text(H, d, D),
            tensor=_np(concatenated),
            axes=HEAD_AXES,
            split=(H, d),
        ),
        Step(
            key="attention_output",
            title="Output projection",
            operation=f"`{name}` maps the concatenated heads ({H * d}) back to the hidden size ({D}).",
            tensor=_np(attended),
            axes=ROW,
        ),
    ]


def _feed_forward_sublayer(parts: _Layout, residual: Any, layer: int) -> list[Step]:
    """From the first residual sum [S, D] to the layer's output: the norm, the feed-forward
    network, the second residual sum (and the norms after it)."""
    if parts.pre_norm:
        name, module = parts.ffn_norm
        ffn_input = module(residual)  # [S, D]
        key, title, text = "ffn_norm", f"{parts.norm_kind} before the feed-forward", _pre_ffn_norm_text(name)
    else:
        name, module = parts.attention_norm
        ffn_input = module(residual)  # [S, D]
        key, title, text = "attention_norm", "LayerNorm", _post_norm_text(name)
    steps = [Step(key=key, title=title, operation=text, tensor=_np(ffn_input), axes=ROW)]
    steps += _feed_forward_steps(parts, ffn_input)
    ffn = _torch(steps[-1].tensor)  # [S, D]
    output = residual + ffn if parts.pre_norm else ffn_input + ffn  # [S, D]
    text = _second_residual_text(parts.pre_norm, last=parts.final_norm is None)
    steps.append(
        Step(key="residual_2", title="Residual connection", operation=text, tensor=_np(output), axes=ROW)
    )
    if not parts.pre_norm:
        name, module = parts.ffn_norm
        output = module(output)  # [S, D]
        text = f"`{name}` normalises the sum (post-norm again). This is the layer's output."
        steps.append(
            Step(
                key="ffn_norm",
                title="LayerNorm: the layer's output",
                operation=text,
                tensor=_np(output),
                axes=ROW,
            )
        )
    if parts.final_norm is not None:
        name, module = parts.final_norm
        output = module(output)  # [S, D]
        title, text = f"Final {parts.norm_kind}", _final_norm_text(name, layer)
        steps.append(Step(key="final_norm", title=title, operation=text, tensor=_np(output), axes=ROW))
    return steps


def _feed_forward_steps(parts: _Layout, ffn_input: Any) -> list[Step]:
    """The feed-forward network on [S, D]: widen (gated or not), the activation, back to D."""
    steps = _gated_steps(parts, ffn_input) if parts.gate is not None else _widen_steps(parts, ffn_input)
    widened = _torch(steps[-1].tensor)  # [S, I]
    out_name, out_proj = parts.ffn_out
    ffn = out_proj(widened)  # [S, D]
    text = f"`{out_name}` maps the {widened.shape[-1]} dimensions back to {ffn.shape[-1]}."
    title = "Feed-forward: back to the hidden size"
    steps.append(Step(key="ffn_out", title=title, operation=text, tensor=_np(ffn), axes=ROW))
    return steps


def _gated_steps(parts: _Layout, ffn_input: Any) -> list[Step]:
    """A gated network (Llama): activation(gate(x)) × up(x), [S, I]."""
    if parts.gate is None or parts.up is None:
        raise ValueError("a gated feed-forward network needs its gate and up projections")
    (gate_name, gate_proj), (up_name, up_proj) = parts.gate, parts.up
    gate, up = gate_proj(ffn_input), up_proj(ffn_input)  # [S, I] each
    widened = parts.activation(gate) * up  # [S, I]
    width, activation = gate.shape[-1], _activation_name(parts.activation_name)
    return [
        Step(
            key="gate",
            title="Gate projection",
            operation=f"`{gate_name}` widens each vector to {width}.",
            tensor=_np(gate),
            axes=WIDE,
        ),
        Step(
            key="up",
            title="Up projection",
            operation=f"`{up_name}`, a second projection to {width}.",
            tensor=_np(up),
            axes=WIDE,
        ),
        Step(
            key="activation",
            title="Gated activation",
            operation=_gated_text(activation),
            tensor=_np(widened),
            axes=WIDE,
        ),
    ]


def _widen_steps(parts: _Layout, ffn_input: Any) -> list[Step]:
    """A plain network: activation(in(x)), [S, I]."""
    if parts.ffn_in is None:
        raise ValueError("a plain feed-forward network needs its widening projection")
    in_name, in_proj = parts.ffn_in
    up = in_proj(ffn_input)  # [S, I]
    widened = parts.activation(up)  # [S, I]
    text = _widen_text(in_name, ffn_input.shape[-1], up.shape[-1])
    activation = f"{_activation_name(parts.activation_name)}, element by element: the non-linearity."
    return [
        Step(key="ffn_in", title="Feed-forward: widen", operation=text, tensor=_np(up), axes=WIDE),
        Step(key="activation", title="Activation", operation=activation, tensor=_np(widened), axes=WIDE),
    ]


# --- What the page says about each step (the tensors above give the numbers) -------------------


ACTIVATIONS = {
    "gelu": "GELU",
    "gelu_new": "GELU (its tanh approximation, `gelu_new`)",
    "gelu_pytorch_tanh": "GELU (its tanh approximation)",
    "relu": "ReLU",
    "silu": "SiLU",
    "swish": "SiLU (swish)",
}


def _activation_name(name: str) -> str:
    return ACTIVATIONS.get(name, f"`{name}`")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _short(path: str) -> str:
    """The module's own name: the last part of its path ("embeddings.word_embeddings" -> "word_embeddings")."""
    return path.rsplit(".", 1)[-1]


def _listed(values: np.ndarray, most: int = 12) -> str:
    shown = ", ".join(str(int(v)) for v in values[:most])
    return shown + (", …" if len(values) > most else "")


def _token_text(name: str, shape: tuple[int, ...], *, alone: bool) -> str:
    rows, width = shape
    text = (
        f"Each input ID picks its row of `{name}`, a learned table of {rows:,} rows (one per vocabulary "
        f"entry) × {width} dimensions."
    )
    return text + (" That is all: hidden_states[0] is these vectors." if alone else "")


def _segment_text(name: str, shape: tuple[int, ...], used: list[int] | None) -> str:
    rows, width = shape
    if rows == 1:
        how = "this model has a single segment row, so every token gets the same vector"
    elif used is not None:
        how = (
            "the tokenizer's token_type_ids say which segment each token is in "
            f"(0 = first sentence, 1 = second of a pair; here: {', '.join(map(str, used))})"
        )
    else:
        how = "the tokenizer gives no token_type_ids, so every token is segment 0"
    return f"`{name}` ({rows} × {width}) adds one vector per segment: {how}."


def _left_padded_numbering(decoder: bool) -> str:
    how = "as generate() does" if decoder else "as the app runs the model"
    return (
        "with left padding, positions count from each sentence's first real token (padding positions "
        f"read row 0), {how}"
    )


def _padding_idx_numbering(pad: int) -> str:
    return (
        f"this model numbers positions from padding_idx + 1 = {pad + 1} and gives padding tokens "
        f"row {pad} (padding_idx), so the first real token reads row {pad + 1}, not row 0"
    )


def _position_text(name: str, shape: tuple[int, ...], numbering: str, rows: np.ndarray) -> str:
    positions, width = shape
    return (
        f"`{name}` ({positions} positions × {width}) adds one learned vector per position: {numbering}. "
        f"Rows used: {_listed(rows)}."
    )


def _embedding_norm_text(name: str, width: int) -> str:
    return (
        f"`{name}`: each vector minus its mean, divided by its standard deviation, then times a learned "
        f"scale and plus a learned shift ({width} of each)."
    )


def _projection_text(label: str, name: str, width: int, hidden: int) -> str:
    return (
        f"`{name}` maps each {width}-wide embedding to the hidden size {hidden} (a linear layer). "
        f"{label} keeps its embeddings small and projects them: transformers counts this projection as "
        "part of the encoder, but hidden_states[0] is taken after it, so the comparison is made here."
    )


def _embedding_facts(family: Family, *, has_segment: bool) -> list[str]:
    table, norms = family.embeddings, family.norms
    if family.positions == "rotary":
        return [
            "No position embedding is added: this model uses **rotary** positions, applied to the "
            "queries and keys inside every attention layer (see the layer below), and no norm either: "
            f"each layer normalises its own input ({norms.kind}, pre-norm)."
        ]
    if table.norm is None:
        return [
            f"{family.label} adds no norm here: each block normalises its own input first "
            f"(`{norms.attention}`, pre-norm)."
        ]
    if not has_segment and table.segment != table.token:
        return ["This model has no segment (token type) embeddings: only tokens and positions."]
    return []


def _input_text(layer: int, width: int) -> str:
    before = "the embeddings" if layer == 1 else f"the output of layer {layer - 1}"
    return f"hidden_states[{layer - 1}], {before}: one {width}-dimensional vector per position."


def _pre_norm_text(name: str, kind: str) -> str:
    how = (
        ": divided by its root mean square, times a learned scale."
        if kind == "RMSNorm"
        else ": minus its mean, divided by its standard deviation, times a learned scale plus a learned shift."
    )
    return f"`{name}` normalises each vector before attention (**pre-norm**){how}"


def _projection_texts(
    family: Family, pre_norm: bool, rotary: bool, qk_norm: bool, H: int, KV: int, d: int
) -> tuple[str, str, str]:
    """What the queries, keys and values steps say."""
    source = "the normalised vectors" if pre_norm else "the input"
    fused = family.attention.fused
    how = f" ({family.label} makes all three with one `{fused}` projection, then splits it)" if fused else ""
    per_head = []
    if qk_norm and family.attention.qk_norm:
        q_norm, k_norm = (_short(name) for name in family.attention.qk_norm)
        per_head.append(
            f"each head's slice is normalised ({family.norms.kind}: `{q_norm}` here, `{k_norm}` for the keys)"
        )
    if rotary:
        per_head.append("then rotated according to its position (rotary embeddings)")
    after = f"; {', '.join(per_head)}" if per_head else ""
    queries = (
        f"A learned projection of {source} gives the queries Q{how}: {H} heads of {d} dimensions each{after}."
    )
    if KV != H:
        shared = f"each shared by {H // KV} query heads (grouped-query attention)"
        kv_heads = f"{_count(KV, 'key/value head')} of {d} dimensions, {shared}"
    else:
        kv_heads = f"{H} heads of {d} dimensions"
    treated = "; normalised and rotated like the queries" if qk_norm and rotary else ""
    treated = treated or ("; rotated by position like the queries" if rotary else "")
    keys = f"Another projection gives the keys K: {kv_heads}{treated}."
    values = f"A third projection gives the values V: {kv_heads}" + (
        "; values are not rotated." if rotary else "."
    )
    return queries, keys, values


def _weights_text(d: int, scale: float, causal: bool) -> str:
    masked = "padding keys" + (" and of every later token (the causal mask)" if causal else "")
    scale_text = f"1/√{d} = {scale:.4f}" if abs(scale * np.sqrt(d) - 1) < 1e-6 else f"{scale:.4f}"
    return (
        f"Each head scores every query against every key, Q·Kᵀ × {scale_text}, sets the scores of {masked} "
        "to −∞ and takes the softmax of each row (the Attention page works this out for one head)."
    )


def _concatenated_text(H: int, d: int, D: int) -> str:
    return f"The {H} heads' outputs side by side, one vector of {H} × {d} = {H * d} per position" + (
        f" (not the hidden size {D}: the head size is set on its own)." if H * d != D else "."
    )


def _pre_ffn_norm_text(name: str) -> str:
    return f"`{name}` normalises each vector again before the feed-forward network (pre-norm)."


def _post_norm_text(name: str) -> str:
    return f"`{name}` normalises the sum (**post-norm**: the norm comes after the residual sum)."


def _widen_text(name: str, D: int, width: int) -> str:
    return f"`{name}` widens each vector from {D} to {width} dimensions (each position on its own)."


def _gated_text(activation: str) -> str:
    return (
        f"{activation}(gate) × up, element by element: the gate decides how much of each up-projected "
        "value passes (a gated feed-forward)."
    )


def _second_residual_text(pre_norm: bool, *, last: bool) -> str:
    added = "the residual stream (input + attention)" if pre_norm else "the normalised attention result"
    return f"Added back to {added}." + (" This is the layer's output." if pre_norm and last else "")


def _final_norm_text(name: str, layer: int) -> str:
    return (
        f"`{name}`, the model's final norm. transformers applies it to the last entry of hidden_states, "
        f"so layer {layer}'s output is compared after it."
    )


def _layer_facts(family: Family) -> list[str]:
    layout = (
        "pre-norm: each sub-block normalises its input, and the residual stream itself is never normalised"
        if family.norms.placement == "pre"
        else "post-norm: each sub-block's output is added to its input, then normalised"
    )
    facts = [f"This model is **{layout}**."]
    if family.shared_layers:
        facts.append(
            f"{family.label} shares one set of layer weights across all its layers: every layer runs the "
            "same modules on a different input."
        )
    return facts
