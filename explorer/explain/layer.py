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
import sys
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from explorer.errors import ExplorerError
from explorer.explain.attention import _projections, attention_mask_2d
from explorer.pipeline.encoding import Encoding
from explorer.pipeline.loading import LoadedCheckpoint
from explorer.pipeline.run import ModelRun, counts_own_positions, model_inputs, position_ids
from explorer.words import count

SAME_HIDDEN_STATE = (
    1e-4  # bound on |recomputed - model| for a hidden state (float32 sums drift more) called "the same"
)

Architecture = Literal["bert", "distilbert", "albert", "gpt2", "rotary"]
BERT_TYPES = ("bert", "roberta", "xlm-roberta", "camembert")
ROTARY_TYPES = ("llama", "qwen2", "qwen3", "mistral")
SUPPORTED = (
    "BERT-style encoders (BERT, MiniLM, RoBERTa, XLM-R, CamemBERT), DistilBERT, ALBERT, GPT-2 and "
    "Llama-style decoders (Llama, SmolLM2, Qwen2, Qwen3, Mistral)"
)


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
    """Which layer layout the model has; ExplorerError (a sentence for the page) if none we know."""
    config, base = loaded.config, loaded.model.base_model
    kind = getattr(config, "model_type", "")
    if getattr(config, "is_encoder_decoder", False):
        raise ExplorerError(
            f"{loaded.resolved.label} is an encoder-decoder ({kind}): an encoder reads the text and a "
            "separate decoder writes the output, attending to the encoder through cross-attention. The "
            "step-by-step embeddings and layer are not available for encoder-decoders yet; they cover "
            f"{SUPPORTED}."
        )
    encoder = getattr(base, "encoder", None)
    if kind in BERT_TYPES and hasattr(getattr(encoder, "layer", None), "__getitem__"):
        return "bert"
    if kind == "distilbert" and hasattr(base, "transformer"):
        return "distilbert"
    if kind == "albert" and hasattr(encoder, "albert_layer_groups"):
        if getattr(config, "inner_group_num", 1) != 1:
            raise ExplorerError(
                f"This ALBERT runs {config.inner_group_num} layers per group; the step-by-step layer "
                "covers ALBERT with one layer per group (inner_group_num = 1), as published."
            )
        return "albert"
    if kind == "gpt2" and hasattr(base, "h"):
        return "gpt2"
    if kind in ROTARY_TYPES and all(hasattr(base, name) for name in ("layers", "rotary_emb", "embed_tokens")):
        return "rotary"
    raise ExplorerError(
        f"The step-by-step embeddings and layer are not available for '{kind}' models yet; they cover "
        f"{SUPPORTED}."
    )


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


def _listed(values: np.ndarray, most: int = 12) -> str:
    shown = ", ".join(str(int(v)) for v in values[:most])
    return shown + (", …" if len(values) > most else "")


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


# --- The input embeddings ------------------------------------------------------------------------


def embedding_steps(loaded: LoadedCheckpoint, run: ModelRun, encoding: Encoding, *, sentence: int) -> Walk:
    """Token (+ segment) (+ position) embeddings (+ norm, + ALBERT's projection) for one sentence,
    compared with ``hidden_states[0]`` at every position (padding included)."""
    import torch

    if run.hidden_states is None:
        raise ValueError("embedding_steps needs a run with hidden states")
    arch = architecture(loaded)
    model = loaded.model
    base = model.base_model
    ids = _ids(encoding.input_ids, sentence)  # [1, S]
    S = ids.shape[1]
    passed = _run_position_ids(loaded, encoding)
    steps: list[Step] = []
    facts: list[str] = []
    token_axes = ("position", "embedding dimension")
    with torch.inference_mode():
        if arch in ("bert", "distilbert", "albert"):
            embeddings = base.embeddings
            table = embeddings.word_embeddings.weight  # [V, E]
            total = embeddings.word_embeddings(ids)[0]  # [S, E]
            E = total.shape[-1]
            steps.append(
                Step(
                    key="token",
                    title="Token embeddings",
                    operation=f"Each input ID picks its row of `word_embeddings`, a learned table of "
                    f"{table.shape[0]:,} rows (one per vocabulary entry) × {table.shape[1]} dimensions.",
                    tensor=_np(total),
                    axes=token_axes,
                )
            )
            types_table = getattr(embeddings, "token_type_embeddings", None)
            if types_table is not None:
                accepted = inspect.signature(model.forward).parameters
                given = encoding.token_type_ids is not None and "token_type_ids" in accepted
                types = _ids(encoding.token_type_ids, sentence) if given else torch.zeros_like(ids)
                segment = types_table(types)[0]  # [S, E]
                total = total + segment
                rows = types_table.weight.shape[0]
                if rows == 1:
                    how = "this model has a single segment row, so every token gets the same vector"
                elif given:
                    used = sorted({int(t) for t in types[0]})
                    how = (
                        "the tokenizer's token_type_ids say which segment each token is in "
                        f"(0 = first sentence, 1 = second of a pair; here: {', '.join(map(str, used))})"
                    )
                else:
                    how = "the tokenizer gives no token_type_ids, so every token is segment 0"
                steps.append(
                    Step(
                        key="segment",
                        title="Segment (token type) embeddings",
                        operation=f"`token_type_embeddings` ({rows} × {types_table.weight.shape[1]}) adds one vector per "
                        f"segment: {how}.",
                        tensor=_np(segment),
                        axes=token_axes,
                    )
                )
            else:
                facts.append("This model has no segment (token type) embeddings: only tokens and positions.")
            if passed is not None:
                positions = passed[sentence : sentence + 1]
                numbering = (
                    "with left padding, positions count from each sentence's first real token (padding "
                    "positions read row 0), as the app runs the model"
                )
            elif counts_own_positions(model):
                pad = int(embeddings.padding_idx)
                real = ids.ne(pad).long()  # [1, S]
                positions = torch.cumsum(real, dim=1) * real + pad  # create_position_ids_from_input_ids
                numbering = (
                    f"this model numbers positions from padding_idx + 1 = {pad + 1} and gives padding tokens "
                    f"row {pad} (padding_idx), so the first real token reads row {pad + 1}, not row 0"
                )
            else:
                positions = torch.arange(S)[None, :]
                numbering = "position i reads row i"
            table = embeddings.position_embeddings.weight  # [P, E]
            position = embeddings.position_embeddings(positions)[0]  # [S, E]
            total = total + position
            steps.append(
                Step(
                    key="position",
                    title="Position embeddings",
                    operation=f"`position_embeddings` ({table.shape[0]} positions × {table.shape[1]}) adds one learned "
                    f"vector per position: {numbering}. Rows used: {_listed(positions[0].numpy())}.",
                    tensor=_np(position),
                    axes=token_axes,
                )
            )
            parts = " + ".join(["token"] + (["segment"] if types_table is not None else []) + ["position"])
            steps.append(
                Step(
                    key="sum",
                    title="Sum",
                    operation=f"{parts}, added element by element.",
                    tensor=_np(total),
                    axes=token_axes,
                )
            )
            output = embeddings.LayerNorm(total)  # [S, E]
            steps.append(
                Step(
                    key="norm",
                    title="LayerNorm",
                    operation=f"`LayerNorm`: each vector minus its mean, divided by its standard deviation, then times a "
                    f"learned scale and plus a learned shift ({E} of each).",
                    tensor=_np(output),
                    axes=token_axes,
                )
            )
            if arch == "albert":
                mapping = base.encoder.embedding_hidden_mapping_in
                output = mapping(output)  # [S, D]
                steps.append(
                    Step(
                        key="projection",
                        title="Projection to the hidden size",
                        operation=f"`encoder.embedding_hidden_mapping_in` maps each {E}-wide embedding to the hidden size "
                        f"{output.shape[-1]} (a linear layer). ALBERT keeps its embeddings small and projects "
                        "them: transformers counts this projection as part of the encoder, but "
                        "hidden_states[0] is taken after it, so the comparison is made here.",
                        tensor=_np(output),
                        axes=("position", "hidden dimension"),
                    )
                )
        elif arch == "gpt2":
            token = base.wte(ids)[0]  # [S, D]
            steps.append(
                Step(
                    key="token",
                    title="Token embeddings",
                    operation=f"Each input ID picks its row of `wte`, a learned table of {base.wte.weight.shape[0]:,} "
                    f"rows × {base.wte.weight.shape[1]} dimensions.",
                    tensor=_np(token),
                    axes=token_axes,
                )
            )
            if passed is not None:
                positions = passed[sentence : sentence + 1]
                numbering = (
                    "with left padding, positions count from each sentence's first real token (padding "
                    "positions read row 0), as generate() does"
                )
            else:
                positions, numbering = torch.arange(S)[None, :], "position i reads row i"
            position = base.wpe(positions)[0]  # [S, D]
            steps.append(
                Step(
                    key="position",
                    title="Position embeddings",
                    operation=f"`wpe` ({base.wpe.weight.shape[0]} positions × {base.wpe.weight.shape[1]}) adds one "
                    f"learned vector per position: {numbering}. Rows used: {_listed(positions[0].numpy())}.",
                    tensor=_np(position),
                    axes=token_axes,
                )
            )
            output = token + position
            parts = "token + position"
            accepted = inspect.signature(model.forward).parameters
            if encoding.token_type_ids is not None and "token_type_ids" in accepted:
                types = base.wte(_ids(encoding.token_type_ids, sentence))[0]
                output = output + types
                parts += " + token types (GPT-2 looks them up in `wte`, the token table)"
            steps.append(
                Step(
                    key="sum",
                    title="Sum",
                    operation=f"{parts}, added element by element.",
                    tensor=_np(output),
                    axes=token_axes,
                )
            )
            facts.append(
                "GPT-2 adds no norm here: each block normalises its own input first (`ln_1`, pre-norm)."
            )
        else:  # rotary decoders
            output = base.embed_tokens(ids)[0]  # [S, D]
            table = base.embed_tokens.weight
            steps.append(
                Step(
                    key="token",
                    title="Token embeddings",
                    operation=f"Each input ID picks its row of `embed_tokens`, a learned table of {table.shape[0]:,} rows "
                    f"× {table.shape[1]} dimensions. That is all: hidden_states[0] is these vectors.",
                    tensor=_np(output),
                    axes=token_axes,
                )
            )
            facts.append(
                "No position embedding is added: this model uses **rotary** positions, applied to the "
                "queries and keys inside every attention layer (see the layer below), and no norm either: "
                "each layer normalises its own input (RMSNorm, pre-norm)."
            )
    reference = np.asarray(run.hidden_states[0, sentence], dtype=np.float32)  # [S, D]
    result = _np(output)
    compared = np.ones(S, dtype=bool)
    return Walk(
        architecture=arch,
        sentence=sentence,
        tokens=encoding.tokens[sentence],
        steps=tuple(steps),
        output=result,
        reference=reference,
        reference_name="hidden_states[0]",
        compared=compared,
        max_abs_difference=float(np.abs(result - reference).max()) if result.size else 0.0,
        facts=tuple(facts),
    )


# --- One whole layer ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Layout:
    """One layer's modules, by role, with the names the model gives them."""

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


def _layout(loaded: LoadedCheckpoint, arch: Architecture, index: int, last: bool) -> _Layout:
    """The modules of layer ``index`` (0-based, as the model's module list counts)."""
    config, base = loaded.config, loaded.model.base_model
    if arch == "bert":
        block = base.encoder.layer[index]
        return _Layout(
            pre_norm=False,
            attention=block.attention.self,
            attention_norm=("attention.output.LayerNorm", block.attention.output.LayerNorm),
            output_projection=("attention.output.dense", block.attention.output.dense),
            ffn_norm=("output.LayerNorm", block.output.LayerNorm),
            ffn_in=("intermediate.dense", block.intermediate.dense),
            gate=None,
            up=None,
            activation=block.intermediate.intermediate_act_fn,
            activation_name=str(getattr(config, "hidden_act", "activation")),
            ffn_out=("output.dense", block.output.dense),
            norm_kind="LayerNorm",
            final_norm=None,
        )
    if arch == "distilbert":
        block = base.transformer.layer[index]
        return _Layout(
            pre_norm=False,
            attention=block.attention,
            attention_norm=("sa_layer_norm", block.sa_layer_norm),
            output_projection=("attention.out_lin", block.attention.out_lin),
            ffn_norm=("output_layer_norm", block.output_layer_norm),
            ffn_in=("ffn.lin1", block.ffn.lin1),
            gate=None,
            up=None,
            activation=block.ffn.activation,
            activation_name=str(getattr(config, "activation", "activation")),
            ffn_out=("ffn.lin2", block.ffn.lin2),
            norm_kind="LayerNorm",
            final_norm=None,
        )
    if arch == "albert":
        block = _albert_layer(loaded, index)
        return _Layout(
            pre_norm=False,
            attention=block.attention,
            attention_norm=("attention.LayerNorm", block.attention.LayerNorm),
            output_projection=("attention.dense", block.attention.dense),
            ffn_norm=("full_layer_layer_norm", block.full_layer_layer_norm),
            ffn_in=("ffn", block.ffn),
            gate=None,
            up=None,
            activation=block.activation,
            activation_name=str(getattr(config, "hidden_act", "activation")),
            ffn_out=("ffn_output", block.ffn_output),
            norm_kind="LayerNorm",
            final_norm=None,
        )
    if arch == "gpt2":
        block = base.h[index]
        return _Layout(
            pre_norm=True,
            attention=block.attn,
            attention_norm=("ln_1", block.ln_1),
            output_projection=("attn.c_proj", block.attn.c_proj),
            ffn_norm=("ln_2", block.ln_2),
            ffn_in=("mlp.c_fc", block.mlp.c_fc),
            gate=None,
            up=None,
            activation=block.mlp.act,
            activation_name=str(getattr(config, "activation_function", "activation")),
            ffn_out=("mlp.c_proj", block.mlp.c_proj),
            norm_kind="LayerNorm",
            final_norm=("ln_f", base.ln_f) if last else None,
        )
    block = base.layers[index]
    return _Layout(
        pre_norm=True,
        attention=block.self_attn,
        attention_norm=("input_layernorm", block.input_layernorm),
        output_projection=("self_attn.o_proj", block.self_attn.o_proj),
        ffn_norm=("post_attention_layernorm", block.post_attention_layernorm),
        ffn_in=None,
        gate=("mlp.gate_proj", block.mlp.gate_proj),
        up=("mlp.up_proj", block.mlp.up_proj),
        activation=block.mlp.act_fn,
        activation_name=str(getattr(config, "hidden_act", "activation")),
        ffn_out=("mlp.down_proj", block.mlp.down_proj),
        norm_kind="RMSNorm",
        final_norm=("norm", base.norm) if last else None,
    )


def _albert_layer(loaded: LoadedCheckpoint, index: int) -> Any:
    """ALBERT shares weights: layer ``index`` runs the first layer of group index ÷ (L ÷ groups)."""
    config = loaded.config
    group = int(index / (config.num_hidden_layers / config.num_hidden_groups))
    return loaded.model.base_model.encoder.albert_layer_groups[group].albert_layers[0]


def _albert_projections(attention: Any, hidden: Any) -> tuple[Any, Any, Any]:
    """ALBERT's queries, keys and values, [B, H, S, d] each (explorer.explain.attention does not cover ALBERT)."""
    B, S, _ = hidden.shape
    H = attention.num_attention_heads

    def heads_of(t: Any) -> Any:  # [B, S, H * d] -> [B, H, S, d]
        return t.view(B, S, H, -1).transpose(1, 2)

    return tuple(heads_of(p(hidden)) for p in (attention.query, attention.key, attention.value))


def _attend(attention: Any, q: Any, k: Any, v: Any, allowed: np.ndarray, scale: float) -> tuple[Any, Any]:
    """The modeling module's own eager attention function on Q, K, V ([1, H, S, d], [1, KV, S, d])
    with an additive mask built from ``allowed`` [S, S]: [H, S, S] weights and [H, S, d] outputs."""
    import torch

    function = getattr(sys.modules[type(attention).__module__], "eager_attention_forward", None)
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
    arch = architecture(loaded)
    index = layer - 1
    parts = _layout(loaded, arch, index, last=layer == L)
    before = "the embeddings" if layer == 1 else f"the output of layer {layer - 1}"
    hidden = torch.from_numpy(np.array(run.hidden_states[index, sentence : sentence + 1]))  # [1, S, D]
    S, D = hidden.shape[1], hidden.shape[2]
    row = ("position", "hidden dimension")
    norm = parts.norm_kind
    steps = [
        Step(
            key="input",
            title="Input",
            operation=f"hidden_states[{index}], {before}: one {D}-dimensional vector per position.",
            tensor=_np(hidden[0]),
            axes=row,
        )
    ]
    facts: list[str] = []
    passed = _run_position_ids(loaded, encoding)
    positions = (passed if passed is not None else position_ids(encoding))[sentence : sentence + 1]
    with torch.inference_mode():
        if arch == "albert":
            q, k, v = _albert_projections(parts.attention, hidden)
            x, rotary, qk_norm, scaling = hidden, False, False, float(parts.attention.scaling)
        else:
            projected = _projections(loaded, hidden, index, positions)
            q, k, v, x = projected.q, projected.k, projected.v, projected.x
            rotary, qk_norm, scaling = projected.rotary, projected.qk_norm, projected.scaling
        H, KV, d = q.shape[1], k.shape[1], q.shape[-1]
        scale = scaling if scaling is not None else 1.0 / float(np.sqrt(d))
        if parts.pre_norm:
            name, _ = parts.attention_norm
            steps.append(
                Step(
                    key="attention_norm",
                    title=f"{norm} before attention",
                    operation=f"`{name}` normalises each vector before attention (**pre-norm**)"
                    + (
                        ": divided by its root mean square, times a learned scale."
                        if norm == "RMSNorm"
                        else ": minus its mean, divided by its standard deviation, times a learned scale "
                        "plus a learned shift."
                    ),
                    tensor=_np(x[0]),
                    axes=row,
                )
            )

        def flat(t: Any) -> Any:  # [1, n, S, d] -> [S, n * d]
            return t[0].transpose(0, 1).reshape(S, -1)

        source = "the normalised vectors" if parts.pre_norm else "the input"
        fused = (
            " (GPT-2 makes all three with one `attn.c_attn` projection, then splits it)"
            if arch == "gpt2"
            else ""
        )
        per_head = []
        if qk_norm:
            per_head.append("each head's slice is normalised (RMSNorm: `q_norm` here, `k_norm` for the keys)")
        if rotary:
            per_head.append("then rotated according to its position (rotary embeddings)")
        after = f"; {', '.join(per_head)}" if per_head else ""
        steps.append(
            Step(
                key="queries",
                title="Queries",
                operation=f"A learned projection of {source} gives the queries Q{fused}: {H} heads of {d} dimensions "
                f"each{after}.",
                tensor=_np(flat(q)),
                axes=("position", "heads × head size"),
                split=(H, d),
            )
        )
        if KV != H:
            kv_heads = f"{count(KV, 'key/value head')} of {d} dimensions, each shared by {H // KV} query heads (grouped-query attention)"
        else:
            kv_heads = f"{H} heads of {d} dimensions"
        treated = (
            "; normalised and rotated like the queries"
            if qk_norm and rotary
            else ("; rotated by position like the queries" if rotary else "")
        )
        steps.append(
            Step(
                key="keys",
                title="Keys",
                operation=f"Another projection gives the keys K: {kv_heads}{treated}.",
                tensor=_np(flat(k)),
                axes=("position", "heads × head size"),
                split=(KV, d),
            )
        )
        steps.append(
            Step(
                key="values",
                title="Values",
                operation=f"A third projection gives the values V: {kv_heads}"
                + ("; values are not rotated." if rotary else "."),
                tensor=_np(flat(v)),
                axes=("position", "heads × head size"),
                split=(KV, d),
            )
        )
        allowed = attention_mask_2d(encoding, sentence, causal=loaded.is_decoder)  # [S, S]
        window = getattr(parts.attention, "sliding_window", None)
        if isinstance(window, int) and window > 0:
            offsets = np.arange(S)[:, None] - np.arange(S)[None, :]  # query - key
            allowed &= offsets < window
        weights, heads = _attend(parts.attention, q, k, v, allowed, scale)  # [H, S, S], [H, S, d]
        masked = "padding keys" + (" and of every later token (the causal mask)" if loaded.is_decoder else "")
        scale_text = f"1/√{d} = {scale:.4f}" if abs(scale * np.sqrt(d) - 1) < 1e-6 else f"{scale:.4f}"
        steps.append(
            Step(
                key="weights",
                title="Attention weights",
                operation=f"Each head scores every query against every key, Q·Kᵀ × {scale_text}, sets the scores of {masked} "
                "to −∞ and takes the softmax of each row (the Attention page works this out for one head).",
                tensor=_np(weights),
                axes=("head", "query position", "key position"),
            )
        )
        steps.append(
            Step(
                key="heads",
                title="Each head's output",
                operation=f"Each head mixes the values with its weights: weights · V, {d} dimensions per head.",
                tensor=_np(heads),
                axes=("head", "position", "head dimension"),
            )
        )
        concatenated = heads.transpose(0, 1).reshape(S, H * d)  # [S, H × d]
        steps.append(
            Step(
                key="concatenated",
                title="Heads concatenated",
                operation=f"The {H} heads' outputs side by side, one vector of {H} × {d} = {H * d} per position"
                + (f" (not the hidden size {D}: the head size is set on its own)." if H * d != D else "."),
                tensor=_np(concatenated),
                axes=("position", "heads × head size"),
                split=(H, d),
            )
        )
        name, projection = parts.output_projection
        attended = projection(concatenated)  # [S, D]
        steps.append(
            Step(
                key="attention_output",
                title="Output projection",
                operation=f"`{name}` maps the concatenated heads ({H * d}) back to the hidden size ({D}).",
                tensor=_np(attended),
                axes=row,
            )
        )
        residual = hidden[0] + attended  # [S, D]
        steps.append(
            Step(
                key="residual_1",
                title="Residual connection",
                operation="The layer's input is added back: input + attention output (the **residual connection**).",
                tensor=_np(residual),
                axes=row,
            )
        )
        if parts.pre_norm:
            name, module = parts.ffn_norm
            ffn_input = module(residual)
            steps.append(
                Step(
                    key="ffn_norm",
                    title=f"{norm} before the feed-forward",
                    operation=f"`{name}` normalises each vector again before the feed-forward network (pre-norm).",
                    tensor=_np(ffn_input),
                    axes=row,
                )
            )
        else:
            name, module = parts.attention_norm
            ffn_input = module(residual)
            steps.append(
                Step(
                    key="attention_norm",
                    title="LayerNorm",
                    operation=f"`{name}` normalises the sum (**post-norm**: the norm comes after the residual sum).",
                    tensor=_np(ffn_input),
                    axes=row,
                )
            )
        activation = _activation_name(parts.activation_name)
        if parts.gate is not None and parts.up is not None:
            (gate_name, gate_proj), (up_name, up_proj) = parts.gate, parts.up
            gate, up = gate_proj(ffn_input), up_proj(ffn_input)  # [S, I] each
            width = gate.shape[-1]
            steps.append(
                Step(
                    key="gate",
                    title="Gate projection",
                    operation=f"`{gate_name}` widens each vector to {width}.",
                    tensor=_np(gate),
                    axes=("position", "feed-forward dimension"),
                )
            )
            steps.append(
                Step(
                    key="up",
                    title="Up projection",
                    operation=f"`{up_name}`, a second projection to {width}.",
                    tensor=_np(up),
                    axes=("position", "feed-forward dimension"),
                )
            )
            widened = parts.activation(gate) * up
            steps.append(
                Step(
                    key="activation",
                    title="Gated activation",
                    operation=f"{activation}(gate) × up, element by element: the gate decides how much of each "
                    "up-projected value passes (a gated feed-forward).",
                    tensor=_np(widened),
                    axes=("position", "feed-forward dimension"),
                )
            )
        else:
            in_name, in_proj = parts.ffn_in
            up = in_proj(ffn_input)  # [S, I]
            width = up.shape[-1]
            steps.append(
                Step(
                    key="ffn_in",
                    title="Feed-forward: widen",
                    operation=f"`{in_name}` widens each vector from {D} to {width} dimensions (each position on its own).",
                    tensor=_np(up),
                    axes=("position", "feed-forward dimension"),
                )
            )
            widened = parts.activation(up)
            steps.append(
                Step(
                    key="activation",
                    title="Activation",
                    operation=f"{activation}, element by element: the non-linearity.",
                    tensor=_np(widened),
                    axes=("position", "feed-forward dimension"),
                )
            )
        out_name, out_proj = parts.ffn_out
        ffn = out_proj(widened)  # [S, D]
        steps.append(
            Step(
                key="ffn_out",
                title="Feed-forward: back to the hidden size",
                operation=f"`{out_name}` maps the {width} dimensions back to {D}.",
                tensor=_np(ffn),
                axes=row,
            )
        )
        output = ffn_input + ffn if not parts.pre_norm else residual + ffn  # [S, D]
        added = (
            "the normalised attention result"
            if not parts.pre_norm
            else "the residual stream (input + attention)"
        )
        steps.append(
            Step(
                key="residual_2",
                title="Residual connection",
                operation=f"Added back to {added}."
                + (" This is the layer's output." if parts.pre_norm and parts.final_norm is None else ""),
                tensor=_np(output),
                axes=row,
            )
        )
        if not parts.pre_norm:
            name, module = parts.ffn_norm
            output = module(output)
            steps.append(
                Step(
                    key="ffn_norm",
                    title="LayerNorm: the layer's output",
                    operation=f"`{name}` normalises the sum (post-norm again). This is the layer's output.",
                    tensor=_np(output),
                    axes=row,
                )
            )
        if parts.final_norm is not None:
            name, module = parts.final_norm
            output = module(output)
            steps.append(
                Step(
                    key="final_norm",
                    title=f"Final {norm}",
                    operation=f"`{name}`, the model's final norm. transformers applies it to the last entry of "
                    f"hidden_states, so layer {layer}'s output is compared after it.",
                    tensor=_np(output),
                    axes=row,
                )
            )
    layout = (
        "pre-norm: each sub-block normalises its input, and the residual stream itself is never normalised"
        if parts.pre_norm
        else "post-norm: each sub-block's output is added to its input, then normalised"
    )
    facts.append(f"This model is **{layout}**.")
    if arch == "albert":
        facts.append(
            "ALBERT shares one set of layer weights across all its layers: every layer runs the same "
            "modules on a different input."
        )
    reference = np.asarray(run.hidden_states[layer, sentence], dtype=np.float32)  # [S, D]
    result = _np(output)
    compared = encoding.attention_mask[sentence].astype(bool)  # [S]
    difference = np.abs(result - reference)[compared]
    return Walk(
        architecture=arch,
        sentence=sentence,
        tokens=encoding.tokens[sentence],
        steps=tuple(steps),
        output=result,
        reference=reference,
        reference_name=f"hidden_states[{layer}]",
        compared=compared,
        max_abs_difference=float(difference.max()) if difference.size else 0.0,
        facts=tuple(facts),
    )
