"""The architecture table: per model family, where its embeddings, position encoding, attention,
norms and feed-forward network live, and which steps the app can recompute from its weights.

One frozen record per family (as TransformerLens keeps one conversion per family). Module names
are paths as ``named_modules()`` spells them: embeddings and the final norm from the base model
(``model.base_model``), everything else from one layer (one element of ``Family.layers``).
explorer.pipeline.run, explorer.explain.layer, explorer.explain.attention and
explorer.explain.model_info read this table; a family missing from it gets :func:`unsupported`'s
message, computed from the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from explorer.errors import ExplorerError
from explorer.pipeline.loading import LoadedCheckpoint

Position = Literal["learned", "sinusoidal", "rotary", "relative", "none"]
Step = Literal["embeddings", "attention", "layer"]  # what the app recomputes step by step
Kind = Literal["encoder", "decoder", "encoder-decoder"]


@dataclass(frozen=True, kw_only=True)
class Embeddings:
    """The input embeddings, on the base model."""

    token: str  # the token table [V, E]
    segment: str | None  # the token type table; the token table itself when types are looked up there (GPT-2)
    position: str | None  # the learned (or fixed sinusoidal) position table; None: nothing added
    norm: str | None  # the norm after the sum; None: the first layer normalises its own input
    projection: str | None = None  # ALBERT: embeddings narrower than the hidden size, projected
    rotary: str | None = None  # rotary models: the module giving each position's cos and sin


@dataclass(frozen=True, kw_only=True)
class Attention:
    """Self-attention, in one layer."""

    module: str  # the module holding the heads' settings (its `scaling`, its sliding window)
    query: str | None  # None when fused
    key: str | None
    value: str | None
    fused: str | None  # one projection making Q, K and V side by side (GPT-2's Conv1D c_attn)
    output: str  # the projection of the concatenated heads back to the hidden size
    heads: str  # the attribute of `module` that holds the number of query heads
    qk_norm: tuple[str, str] | None = None  # per-head norms of Q and K, where a model has them (Qwen3)
    scaling: str = "1/√d"  # the factor on the scores: the module's `scaling` where it has one, else 1/√d


@dataclass(frozen=True, kw_only=True)
class Norms:
    """The layer's norms, in one layer; the final norm on the base model."""

    placement: Literal["pre", "post"]  # before each sub-block, or after its residual sum
    kind: Literal["LayerNorm", "RMSNorm"]
    attention: str  # pre: before attention; post: after the attention's residual sum
    feed_forward: str  # pre: before the feed-forward; post: after its residual sum
    final: str | None  # applied by transformers to the last hidden state (pre-norm decoders)


@dataclass(frozen=True, kw_only=True)
class FeedForward:
    """The position-wise feed-forward network, in one layer."""

    up: str  # widens each vector (a gated network's up projection)
    gate: str | None  # a gated network's gate projection (Llama), else None
    down: str  # back to the hidden size
    activation: str  # the activation module or function
    activation_config: str  # the config field naming it, e.g. "hidden_act"


@dataclass(frozen=True, kw_only=True)
class Family:
    """One model family: where each part lives, and what the app recomputes."""

    name: str  # the layout's short name, e.g. "bert", "rotary"
    label: str  # how the pages name the family, e.g. "GPT-2"
    model_types: tuple[str, ...]  # config.model_type values of the family
    kind: Kind
    layers: str  # the list of layers on the base model (an encoder-decoder's: the encoder's)
    shared_layers: bool = False  # ALBERT: groups of layers share one set of weights
    embeddings: Embeddings
    positions: Position
    attention: Attention
    norms: Norms
    feed_forward: FeedForward
    recomputes: tuple[Step, ...]  # what the app recomputes step by step from the weights


_BERT_ATTENTION = Attention(
    module="attention.self",
    query="attention.self.query",
    key="attention.self.key",
    value="attention.self.value",
    fused=None,
    output="attention.output.dense",
    heads="num_attention_heads",
)
_BERT_NORMS = Norms(
    placement="post",
    kind="LayerNorm",
    attention="attention.output.LayerNorm",
    feed_forward="output.LayerNorm",
    final=None,
)
_BERT_FEED_FORWARD = FeedForward(
    up="intermediate.dense",
    gate=None,
    down="output.dense",
    activation="intermediate.intermediate_act_fn",
    activation_config="hidden_act",
)
_BERT_EMBEDDINGS = Embeddings(
    token="embeddings.word_embeddings",
    segment="embeddings.token_type_embeddings",
    position="embeddings.position_embeddings",
    norm="embeddings.LayerNorm",
)

BERT = Family(
    name="bert",
    label="BERT-style encoders (BERT, MiniLM, RoBERTa, XLM-R, CamemBERT)",
    model_types=("bert", "roberta", "xlm-roberta", "camembert"),
    kind="encoder",
    layers="encoder.layer",
    embeddings=_BERT_EMBEDDINGS,
    positions="learned",
    recomputes=("embeddings", "attention", "layer"),
    attention=_BERT_ATTENTION,
    norms=_BERT_NORMS,
    feed_forward=_BERT_FEED_FORWARD,
)
ELECTRA = Family(
    name="bert",
    label="ELECTRA",
    model_types=("electra",),
    kind="encoder",
    layers="encoder.layer",
    # ELECTRA projects its embeddings (`embeddings_project`) when they are narrower than the hidden
    # size; the step-by-step embeddings do not show that projection yet, so only attention is recomputed.
    embeddings=_BERT_EMBEDDINGS,
    positions="learned",
    recomputes=("attention",),
    attention=_BERT_ATTENTION,
    norms=_BERT_NORMS,
    feed_forward=_BERT_FEED_FORWARD,
)
DISTILBERT = Family(
    name="distilbert",
    label="DistilBERT",
    model_types=("distilbert",),
    kind="encoder",
    layers="transformer.layer",
    embeddings=Embeddings(
        token="embeddings.word_embeddings",
        segment=None,
        position="embeddings.position_embeddings",
        norm="embeddings.LayerNorm",
    ),
    positions="learned",  # sinusoidal when config.sinusoidal_pos_embds (see position_kind)
    attention=Attention(
        module="attention",
        query="attention.q_lin",
        key="attention.k_lin",
        value="attention.v_lin",
        fused=None,
        output="attention.out_lin",
        heads="n_heads",
    ),
    norms=Norms(
        placement="post",
        kind="LayerNorm",
        attention="sa_layer_norm",
        feed_forward="output_layer_norm",
        final=None,
    ),
    feed_forward=FeedForward(
        up="ffn.lin1", gate=None, down="ffn.lin2", activation="ffn.activation", activation_config="activation"
    ),
    recomputes=("embeddings", "attention", "layer"),
)
ALBERT = Family(
    name="albert",
    label="ALBERT",
    model_types=("albert",),
    kind="encoder",
    layers="encoder.albert_layer_groups",  # each group's albert_layers[0] (see layer_module)
    shared_layers=True,
    embeddings=Embeddings(
        token="embeddings.word_embeddings",
        segment="embeddings.token_type_embeddings",
        position="embeddings.position_embeddings",
        norm="embeddings.LayerNorm",
        projection="encoder.embedding_hidden_mapping_in",
    ),
    positions="learned",
    attention=Attention(
        module="attention",
        query="attention.query",
        key="attention.key",
        value="attention.value",
        fused=None,
        output="attention.dense",
        heads="num_attention_heads",
    ),
    norms=Norms(
        placement="post",
        kind="LayerNorm",
        attention="attention.LayerNorm",
        feed_forward="full_layer_layer_norm",
        final=None,
    ),
    feed_forward=FeedForward(
        up="ffn", gate=None, down="ffn_output", activation="activation", activation_config="hidden_act"
    ),
    # The Attention page's step-by-step head does not cover ALBERT; the Layer page recomputes its attention.
    recomputes=("embeddings", "layer"),
)
GPT2 = Family(
    name="gpt2",
    label="GPT-2",
    model_types=("gpt2",),
    kind="decoder",
    layers="h",
    embeddings=Embeddings(token="wte", segment="wte", position="wpe", norm=None),
    positions="learned",
    attention=Attention(
        module="attn",
        query=None,
        key=None,
        value=None,
        fused="attn.c_attn",
        output="attn.c_proj",
        heads="num_heads",
    ),
    norms=Norms(placement="pre", kind="LayerNorm", attention="ln_1", feed_forward="ln_2", final="ln_f"),
    feed_forward=FeedForward(
        up="mlp.c_fc",
        gate=None,
        down="mlp.c_proj",
        activation="mlp.act",
        activation_config="activation_function",
    ),
    recomputes=("embeddings", "attention", "layer"),
)
ROTARY = Family(
    name="rotary",
    label="Llama-style decoders (Llama, SmolLM2, Qwen2, Qwen3, Mistral)",
    model_types=("llama", "qwen2", "qwen3", "mistral"),
    kind="decoder",
    layers="layers",
    embeddings=Embeddings(token="embed_tokens", segment=None, position=None, norm=None, rotary="rotary_emb"),
    positions="rotary",
    attention=Attention(
        module="self_attn",
        query="self_attn.q_proj",
        key="self_attn.k_proj",
        value="self_attn.v_proj",
        fused=None,
        output="self_attn.o_proj",
        heads="config.num_attention_heads",
        qk_norm=("self_attn.q_norm", "self_attn.k_norm"),
    ),
    norms=Norms(
        placement="pre",
        kind="RMSNorm",
        attention="input_layernorm",
        feed_forward="post_attention_layernorm",
        final="norm",
    ),
    feed_forward=FeedForward(
        up="mlp.up_proj",
        gate="mlp.gate_proj",
        down="mlp.down_proj",
        activation="mlp.act_fn",
        activation_config="hidden_act",
    ),
    recomputes=("embeddings", "attention", "layer"),
)
T5 = Family(
    name="t5",
    label="T5",
    model_types=("t5",),
    kind="encoder-decoder",
    layers="encoder.block",
    embeddings=Embeddings(token="encoder.embed_tokens", segment=None, position=None, norm=None),
    positions="relative",
    attention=Attention(
        module="layer.0.SelfAttention",
        query="layer.0.SelfAttention.q",
        key="layer.0.SelfAttention.k",
        value="layer.0.SelfAttention.v",
        fused=None,
        output="layer.0.SelfAttention.o",
        heads="n_heads",
        scaling="1 (T5 does not scale its scores)",
    ),
    norms=Norms(
        placement="pre",
        kind="RMSNorm",
        attention="layer.0.layer_norm",
        feed_forward="layer.1.layer_norm",
        final="encoder.final_layer_norm",
    ),
    feed_forward=FeedForward(
        up="layer.1.DenseReluDense.wi",
        gate=None,
        down="layer.1.DenseReluDense.wo",
        activation="layer.1.DenseReluDense.act",
        activation_config="dense_act_fn",
    ),
    recomputes=(),
)
BART = Family(
    name="bart",
    label="BART",
    model_types=("bart",),
    kind="encoder-decoder",
    layers="encoder.layers",
    embeddings=Embeddings(
        token="encoder.embed_tokens",
        segment=None,
        position="encoder.embed_positions",
        norm="encoder.layernorm_embedding",
    ),
    positions="learned",
    attention=Attention(
        module="self_attn",
        query="self_attn.q_proj",
        key="self_attn.k_proj",
        value="self_attn.v_proj",
        fused=None,
        output="self_attn.out_proj",
        heads="num_heads",
    ),
    norms=Norms(
        placement="post",
        kind="LayerNorm",
        attention="self_attn_layer_norm",
        feed_forward="final_layer_norm",
        final=None,
    ),
    feed_forward=FeedForward(
        up="fc1", gate=None, down="fc2", activation="activation_fn", activation_config="activation_function"
    ),
    recomputes=(),
)

# The table, in the order the pages list families.
FAMILIES: tuple[Family, ...] = (BERT, ELECTRA, DISTILBERT, ALBERT, GPT2, ROTARY, T5, BART)
_BY_TYPE: dict[str, Family] = {kind: family for family in FAMILIES for kind in family.model_types}


def model_type(config: Any) -> str:
    return str(getattr(config, "model_type", "") or "")


# What families call the same size (the first a config sets is the one, see config_field).
LAYER_FIELDS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")
HEAD_FIELDS = ("num_attention_heads", "n_head", "n_heads", "num_heads")
HIDDEN_FIELDS = ("hidden_size", "n_embd", "dim", "d_model")


def config_field(config: Any, *names: str) -> Any:
    """The first of ``names`` the config sets (not None): families name one size differently
    (GPT-2 ``n_embd``, BERT ``hidden_size``, T5 ``d_model``…); None when it sets none of them."""
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


def lookup(config: Any) -> Family | None:
    """The family of a config (by ``model_type``), None when the table does not know it."""
    return _BY_TYPE.get(model_type(config))


def supported(step: Step) -> str:
    """The families that recompute ``step``, as a sentence: "A, B and C"."""
    labels = [family.label for family in FAMILIES if step in family.recomputes]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


# What the pages call each step, and how they say which families it covers.
_STEP_WORDS: dict[Step, tuple[str, str]] = {
    "embeddings": ("The step-by-step embeddings and layer are", "they cover"),
    "layer": ("The step-by-step embeddings and layer are", "they cover"),
    "attention": ("Step-by-step attention is", "it supports"),
}


def unsupported(label: str, config: Any, step: Step) -> str:
    """The one message for a model whose family does not recompute ``step`` (``label``: the
    checkpoint's name on the page)."""
    what, cover = _STEP_WORDS[step]
    kind = model_type(config)
    if getattr(config, "is_encoder_decoder", False):
        return (
            f"{label} is an encoder-decoder ({kind}): an encoder reads the text and a separate decoder "
            "writes the output, attending to the encoder through cross-attention. "
            f"{what} not available for encoder-decoders yet; {cover} {supported(step)}."
        )
    return f"{what} not available for '{kind}' models yet; {cover} {supported(step)}."


def module_at(root: Any, path: str) -> Any:
    """The submodule of ``root`` at a dotted ``path`` ("attention.self.query"; "config.x" reads an
    attribute the same way); None when a part is missing."""
    value = root
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part, None)
        if value is None:
            return None
    return value


def layer_count(model: Any, family: Family) -> int:
    return len(module_at(model.base_model, family.layers))


def layer_module(model: Any, family: Family, index: int) -> Any:
    """Layer ``index`` (0-based) of the family's layer list. ALBERT shares weights: layer ``index``
    runs the first layer of group index ÷ (L ÷ groups)."""
    layers = module_at(model.base_model, family.layers)
    if family.shared_layers:
        config = model.config
        group = int(index / (config.num_hidden_layers / config.num_hidden_groups))
        return layers[group].albert_layers[0]
    return layers[index]


def _has_modules(model: Any, family: Family) -> bool:
    """The table's layer list and embeddings exist on this model (a config claiming a family whose
    modules are not there is not that family)."""
    base = model.base_model
    layers = module_at(base, family.layers)
    return hasattr(layers, "__getitem__") and module_at(base, family.embeddings.token) is not None


def family_for(loaded: LoadedCheckpoint, step: Step) -> Family:
    """The family of a model that recomputes ``step``; ExplorerError (:func:`unsupported`'s
    sentence for the page) otherwise."""
    config = loaded.config
    family = lookup(config)
    if family is None or step not in family.recomputes or not _has_modules(loaded.model, family):
        raise ExplorerError(unsupported(loaded.resolved.label, config, step))
    groups = getattr(config, "inner_group_num", 1)
    if family.shared_layers and groups != 1:
        raise ExplorerError(
            f"This ALBERT runs {groups} layers per group; the step-by-step layer covers ALBERT with one "
            "layer per group (inner_group_num = 1), as published."
        )
    return family


def position_kind(model: Any) -> Position:
    """How a model encodes position: the table's answer for its family (DistilBERT's fixed table
    when its config says sinusoidal_pos_embds); for a family not in the table, read from its
    modules and config."""
    config = model.config
    family = lookup(config)
    if family is not None:
        if family.positions == "learned" and getattr(config, "sinusoidal_pos_embds", False):
            return "sinusoidal"
        return family.positions
    if position_table(model) is not None:
        return "sinusoidal" if getattr(config, "sinusoidal_pos_embds", False) else "learned"
    if getattr(rotary_embedding(model), "inv_freq", None) is not None:
        return "rotary"
    relative = str(getattr(config, "position_embedding_type", "absolute") or "absolute")
    if getattr(config, "relative_attention_num_buckets", None) is not None or relative.startswith("relative"):
        return "relative"
    return "none"


# Where families outside the table keep a learned position table, on the base model.
_OTHER_POSITION_TABLES = ("embeddings.position_embeddings", "wpe", "encoder.embed_positions")


def position_table(model: Any) -> Any:
    """The model's position table module (an Embedding), or None: the table's for a known family,
    else the first of the usual places that holds one."""
    family = lookup(model.config)
    places = (family.embeddings.position,) if family is not None else _OTHER_POSITION_TABLES
    for path in places:
        table = module_at(model.base_model, path) if path else None
        if table is not None and hasattr(table, "weight"):
            return table
    return None


def counts_own_positions(model: Any) -> bool:
    """Whether the model numbers positions from the input ids itself, skipping padding (RoBERTa
    and its kin start at padding_idx + 1 and count only real tokens, so left padding is already
    right for them; position ids from 0 would shift every token)."""
    embeddings = getattr(model.base_model, "embeddings", None)
    return getattr(embeddings, "padding_idx", None) is not None


def rotary_embedding(model: Any) -> Any:
    """The module that gives a rotary model each position's cos and sin (its ``inv_freq`` holds the
    frequencies), or None: the table's for a known family, else ``rotary_emb``."""
    family = lookup(model.config)
    path = family.embeddings.rotary if family is not None else "rotary_emb"
    return module_at(model.base_model, path) if path else None


# Where families outside the table keep their final norm, on the base model.
_OTHER_FINAL_NORMS = ("norm", "ln_f", "final_layer_norm")


def final_norm(model: Any) -> Any:
    """A decoder's final norm (applied to the last hidden state), or None."""
    family = lookup(model.config)
    places = (family.norms.final,) if family is not None else _OTHER_FINAL_NORMS
    for path in places:
        module = module_at(model.base_model, path) if path else None
        if module is not None:
            return module
    return None


def block_names(part: Literal["query", "key", "fused", "up"]) -> tuple[str, ...]:
    """The table's names (within a layer) of one projection across families, e.g. every query
    projection: what model_info looks for in a model's first layer."""
    names = []
    for family in FAMILIES:
        name = family.feed_forward.up if part == "up" else getattr(family.attention, part)
        if name and name not in names:
            names.append(name)
    return tuple(names)
