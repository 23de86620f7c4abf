"""Step 2 of the pipeline, and THE place a model is called (like Pipeline._forward).

Every forward pass of the app goes through this module, so eager attention, position ids under
left padding, inference mode and which outputs are kept are decided once:

- :func:`run_model`: one batch -> :class:`ModelRun` (shapes of every output; on request the
  hidden states and attention weights as read-only NumPy arrays; the logits postprocessing needs);
- :func:`next_token_logits` and :func:`decode_stream`: a decoder's next-token logits, one step at
  a time with a key/value cache (generation);
- :func:`lens_logits`: each layer's hidden state through the final norm and LM head (logit lens);
- :func:`main_output`: the full main output tensor, for the save/load comparison;
- :func:`forward`: the last hidden state and the head's logits, with the attention mask
  overridden or another model built from the same config (mask effect, random weights);
- :func:`classifier_logits`: a model being fine-tuned, on a list of sentences (evaluation);
- :func:`pipeline_scores`: transformers' own ``pipeline()`` on the same shared model, for checks.

Turning logits into probabilities is ``explorer.pipeline.postprocess``'s job, never this module's.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.errors import InputError
from explorer.pipeline import tasks
from explorer.pipeline.architecture import counts_own_positions, final_norm
from explorer.pipeline.encoding import Encoding, last_real, readonly
from explorer.pipeline.loading import LoadedCheckpoint

# Attention weights one run may keep: layers x sentences x heads x tokens², as float32 (400 MB).
MAX_ATTENTION_VALUES = 100_000_000


@dataclass(frozen=True)
class OutputInfo:
    """One tensor the model returned: its name in the output object and its shape."""

    name: str  # e.g. "last_hidden_state", "logits", "attentions[0]"
    shape: tuple[int, ...]
    meaning: str  # the axes, e.g. "[batch, sequence, hidden]"


@dataclass(frozen=True, kw_only=True)
class ModelRun:
    """What one forward pass returned. B = batch, S = sequence, L = layers, H = heads, D = hidden.

    Arrays are float32 and read-only; the optional ones are None unless requested."""

    head_class: str  # the Auto class, e.g. tasks.BASE
    model_class: str  # the concrete class, e.g. "BertModel"
    outputs: tuple[OutputInfo, ...]  # every tensor the model returned, with its shape
    hidden_states: np.ndarray | None  # [L + 1, B, S, D]: embeddings, then each layer's output
    attentions: np.ndarray | None  # [L, B, H, S, S]: query rows, key columns; rows sum to 1
    # Head scores that postprocessing reads:
    #   sequence classification: [B, labels]
    #   causal / masked LM: [N, vocab] at the positions listed in `logit_positions`
    logits: np.ndarray | None
    logit_positions: np.ndarray | None  # [N, 2] (sentence, position) rows, for token-level heads
    # Encoder-decoders only (T5, BART…); None for every other model. Above, hidden_states and
    # attentions are the ENCODER's ([L_enc + 1, B, S, D], [L_enc, B, H, S, S]); `logits` are the
    # decoder's next-token logits [B, vocab] after each sentence's last decoder position, with
    # `logit_positions` [B, 2] (sentence, position) rows into the DECODER sequence (T below).
    decoder_input_ids: np.ndarray | None = (
        None  # [B, T] int64: start token, then the greedy output but the last
    )
    decoder_attention_mask: np.ndarray | None = None  # [B, T] int64: 1 = real, 0 = padding (right)
    decoder_tokens: tuple[tuple[str, ...], ...] | None = None  # [B][T] token strings, padding included
    generated_ids: tuple[tuple[int, ...], ...] | None = None  # [B] the greedy output, start token excluded
    decoder_hidden_states: np.ndarray | None = None  # [L_dec + 1, B, T, D] on request
    decoder_attentions: np.ndarray | None = None  # [L_dec, B, H, T, T] causal, on request
    cross_attentions: np.ndarray | None = None  # [L_dec, B, H, T, S]: decoder queries, encoder keys
    # Every model but encoder-decoders: the last layer's token vectors (a decoder's after its final
    # norm), what feature extraction pools. [B, S, D]
    last_hidden_state: np.ndarray | None = None
    # Token classification (NER): one logit per label per token. [B, S, labels]
    token_logits: np.ndarray | None = None
    # Question answering: a logit per token for "the answer starts here" / "ends here". [B, S] each
    start_logits: np.ndarray | None = None
    end_logits: np.ndarray | None = None


# Longest greedy output run_model generates for an encoder-decoder (new tokens after the start token).
SEQ2SEQ_NEW_TOKENS = 20


def _describe(name: str, shape: tuple[int, ...], head_class: str) -> str:
    if name in ("last_hidden_state", "encoder_last_hidden_state") or name.startswith(
        ("hidden_states", "encoder_hidden_states")
    ):
        return "[batch, sequence, hidden]"
    if name.startswith("decoder_hidden_states"):
        return "[batch, decoder sequence, hidden]"
    if name.startswith(("attentions", "encoder_attentions")):
        return "[batch, heads, query, key]"
    if name.startswith("decoder_attentions"):
        return "[batch, heads, decoder query, decoder key]"
    if name.startswith("cross_attentions"):
        return "[batch, heads, decoder query, encoder key]"
    if name == "pooler_output":
        return "[batch, hidden]"
    if name in ("start_logits", "end_logits"):
        return "[batch, sequence]"
    if name == "logits":
        if head_class == tasks.SEQUENCE_CLASSIFICATION:
            return "[batch, labels]"
        if head_class == tasks.TOKEN_CLASSIFICATION:
            return "[batch, sequence, labels]"
        if head_class == tasks.MULTIPLE_CHOICE:
            return "[batch, choices]"
        if head_class == tasks.SEQ2SEQ_LM:
            return "[batch, decoder sequence, vocab]"
        return "[batch, sequence, vocab]"
    if name.startswith("past_key_values"):
        return "cache of keys and values per layer"
    return "[" + ", ".join(str(n) for n in shape) + "]"


def _output_infos(output: Any, head_class: str) -> tuple[OutputInfo, ...]:
    infos = []
    for name, value in output.items():
        if hasattr(value, "shape"):
            infos.append(
                OutputInfo(name, tuple(value.shape), _describe(name, tuple(value.shape), head_class))
            )
        elif isinstance(value, tuple) and value and hasattr(value[0], "shape"):
            shape = tuple(value[0].shape)
            infos.append(
                OutputInfo(
                    f"{name}[0…{len(value) - 1}]",
                    shape,
                    f"{len(value)} × {_describe(name, shape, head_class)}",
                )
            )
    return tuple(infos)


def _token_positions(loaded: LoadedCheckpoint, encoding: Encoding) -> np.ndarray:
    """[N, 2] (sentence, position) rows whose logits postprocessing needs."""
    if loaded.head_class == tasks.CAUSAL_LM:
        # The next token follows each sentence's last real token (padding may be on either side).
        rows = np.arange(encoding.shape[0])  # [B]
        return np.stack([rows, encoding.last_real], axis=1).astype(np.int64).reshape(-1, 2)  # [B, 2]
    mask_id = loaded.tokenizer.mask_token_id
    if mask_id is None:
        return np.zeros((0, 2), dtype=np.int64)
    return np.argwhere(encoding.input_ids == mask_id).astype(np.int64).reshape(-1, 2)


def position_ids(encoding: Encoding):
    """[B, S] torch position of each token. With left padding, positions count from each
    sentence's first real token, as generate() does (otherwise padding would shift a decoder's
    positions); without it they are 0, 1, 2, … as the model assumes by default."""
    import torch

    mask = torch.from_numpy(np.array(encoding.attention_mask))  # [B, S]
    if encoding.left_padded:
        return (mask.cumsum(-1) - 1).clamp(min=0)
    return torch.arange(encoding.shape[1])[None, :].expand_as(mask)


def model_inputs(model: Any, encoding: Encoding) -> tuple[Any, dict[str, Any]]:
    """(the forward's parameters, the batch as the tensors it takes): input ids, the attention
    mask, token type ids where accepted, and position ids under left padding (see position_ids),
    except for models that number positions themselves."""
    accepted = inspect.signature(model.forward).parameters
    inputs = encoding.model_inputs(tuple(accepted))
    if "position_ids" in accepted and encoding.left_padded and not counts_own_positions(model):
        inputs["position_ids"] = position_ids(encoding)  # [B, S]
    return accepted, inputs


def decoder_start_token(model: Any) -> int | None:
    """The token an encoder-decoder's decoder starts from (T5: the pad token; BART: </s>): the
    generation config's ``decoder_start_token_id``, else the model config's; None if neither names one."""
    for config in (getattr(model, "generation_config", None), model.config):
        start = getattr(config, "decoder_start_token_id", None)
        if start is not None:
            return int(start)
    return None


def _decoder_start(loaded: LoadedCheckpoint) -> int:
    start = decoder_start_token(loaded.model)
    if start is not None:
        return start
    raise InputError(f"{loaded.resolved.label} names no decoder_start_token_id: its decoder cannot start.")


def _decoder_pad(loaded: LoadedCheckpoint) -> int:
    pad = getattr(loaded.config, "pad_token_id", None)
    if pad is None:
        pad = loaded.batch_tokenizer.pad_token_id
    return int(pad if pad is not None else 0)


def seq2seq_greedy(
    loaded: LoadedCheckpoint, encoding: Encoding, max_new_tokens: int = SEQ2SEQ_NEW_TOKENS
) -> tuple[tuple[int, ...], ...]:
    """[B] an encoder-decoder's greedy output per sentence (``model.generate(do_sample=False,
    num_beams=1)``), the start token excluded, cut after the first end-of-sequence token."""
    import torch

    model = loaded.model
    _, inputs = model_inputs(model, encoding)
    inputs.pop("token_type_ids", None)
    with torch.inference_mode():
        output = model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens)
    eos = getattr(model.generation_config, "eos_token_id", None)
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    results = []
    for row in output[:, 1:].tolist():  # generate() starts every row with decoder_start_token_id
        kept = []
        for token in row:
            kept.append(int(token))
            if token in eos_ids:
                break
        results.append(tuple(kept))
    return tuple(results)


def decoder_batch(
    loaded: LoadedCheckpoint, generated: Sequence[Sequence[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(decoder_input_ids [B, T], decoder_attention_mask [B, T]) int64: per sentence the start
    token then its generated tokens but the last (so the last position predicts the last token),
    padded on the right with the pad token id."""
    start, pad = _decoder_start(loaded), _decoder_pad(loaded)
    rows = [[start, *list(tokens)[:-1]] if tokens else [start] for tokens in generated]
    width = max(len(row) for row in rows)
    ids = np.full((len(rows), width), pad, dtype=np.int64)  # [B, T]
    mask = np.zeros((len(rows), width), dtype=np.int64)  # [B, T]
    for b, row in enumerate(rows):
        ids[b, : len(row)] = row
        mask[b, : len(row)] = 1
    return ids, mask


def _run_seq2seq(
    loaded: LoadedCheckpoint, encoding: Encoding, *, hidden_states: bool, attentions: bool
) -> ModelRun:
    """run_model for an encoder-decoder: greedy output, then one forward of encoder and decoder."""
    import torch

    model = loaded.model
    generated = seq2seq_greedy(loaded, encoding)
    decoder_ids, decoder_mask = decoder_batch(loaded, generated)
    _, inputs = model_inputs(model, encoding)
    inputs.pop("token_type_ids", None)
    with torch.inference_mode():
        output = model(
            **inputs,
            decoder_input_ids=torch.from_numpy(decoder_ids.copy()),
            decoder_attention_mask=torch.from_numpy(decoder_mask.copy()),
            output_hidden_states=True,
            output_attentions=attentions,
            use_cache=False,
            return_dict=True,
        )
    infos = _output_infos(output, loaded.head_class)

    last = last_real(decoder_mask)  # [B] each sentence's last real decoder position
    positions = np.stack([np.arange(len(last)), last], axis=1).astype(np.int64)  # [B, 2]
    picked = output.logits[torch.arange(len(last)), torch.from_numpy(last)]  # [B, vocab]
    tokenizer = loaded.tokenizer
    return ModelRun(
        head_class=loaded.head_class,
        model_class=loaded.model_class,
        outputs=infos,
        hidden_states=_stacked(output.encoder_hidden_states)
        if hidden_states
        else None,  # [L_enc + 1, B, S, D]
        attentions=_taken(output, "encoder_attentions") if attentions else None,  # [L_enc, B, H, S, S]
        logits=readonly(picked.float().numpy().copy()),
        logit_positions=readonly(positions),
        decoder_input_ids=readonly(decoder_ids),
        decoder_attention_mask=readonly(decoder_mask),
        decoder_tokens=tuple(
            tuple(tokenizer.convert_ids_to_tokens([int(i) for i in row])) for row in decoder_ids
        ),
        generated_ids=generated,
        decoder_hidden_states=_stacked(output.decoder_hidden_states)
        if hidden_states
        else None,  # [L_dec + 1, B, T, D]
        decoder_attentions=_taken(output, "decoder_attentions")
        if attentions
        else None,  # [L_dec, B, H, T, T]
        cross_attentions=_taken(output, "cross_attentions") if attentions else None,  # [L_dec, B, H, T, S]
    )


def check_attention_size(loaded: LoadedCheckpoint, encoding: Encoding) -> None:
    """Refuse, with a message, a batch whose attention weights would not fit the memory budget."""
    config = loaded.config
    layers = int(getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None) or 1)
    heads = int(getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None) or 1)
    B, S = encoding.shape
    values = layers * B * heads * S * S
    if values > MAX_ATTENTION_VALUES:
        most = int(MAX_ATTENTION_VALUES / (layers * heads * S * S))
        raise InputError(
            f"The attention views of {B} sentences of {S} tokens would need {values * 4 / 1e9:.1f} GB of "
            f"attention weights ({layers} layers × {heads} heads × {S}² per sentence). Use at most "
            f"{max(1, most)} sentence(s) of this length, or shorter sentences."
        )


def run_model(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    *,
    hidden_states: bool = False,
    attentions: bool = False,
) -> ModelRun:
    """One forward pass of the batch; keep hidden states / attentions only when asked."""
    import torch

    if attentions:
        check_attention_size(loaded, encoding)
    if loaded.is_encoder_decoder:
        return _run_seq2seq(loaded, encoding, hidden_states=hidden_states, attentions=attentions)
    model = loaded.model
    accepted, inputs = model_inputs(model, encoding)
    if loaded.head_class == tasks.MULTIPLE_CHOICE:
        # A multiple-choice head reads [batch, choices, sequence]: each sentence as its one choice
        # (the task itself, with real choices, is explorer.pipeline.tasks.multiple_choice).
        inputs = {name: value[:, None] for name, value in inputs.items()}  # each [B, 1, S]
    with torch.inference_mode():
        output = model(
            **inputs,
            output_hidden_states=True,
            output_attentions=attentions,
            return_dict=True,
            **({"use_cache": False} if "use_cache" in accepted else {}),
        )
    logits, positions = _head_logits(loaded, encoding, output)
    token_classifier = loaded.head_class == tasks.TOKEN_CLASSIFICATION
    infos = _output_infos(output, loaded.head_class)  # before the attention weights are taken
    return ModelRun(
        head_class=loaded.head_class,
        model_class=loaded.model_class,
        outputs=infos,
        hidden_states=_stacked(output.hidden_states) if hidden_states else None,  # [L + 1, B, S, D]
        attentions=_taken(output, "attentions") if attentions else None,  # [L, B, H, S, S]
        logits=logits,
        logit_positions=positions,
        last_hidden_state=readonly(output.hidden_states[-1].float().numpy().copy()),  # [B, S, D]
        token_logits=_kept(output, "logits") if token_classifier else None,  # [B, S, labels]
        start_logits=_kept(output, "start_logits"),  # [B, S] question answering only
        end_logits=_kept(output, "end_logits"),  # [B, S]
    )


def _stacked(tensors: Any) -> np.ndarray:
    """One read-only float32 array of a tuple of per-layer tensors: [L(+1), …]."""
    import torch

    if not tensors:
        raise RuntimeError("The model returned no attention weights; load it with eager attention.")
    return readonly(torch.stack(tuple(tensors)).float().numpy())


def _taken(output: Any, name: str) -> np.ndarray:
    """_stacked for the big per-layer attention weights: each layer's tensor is let go of once it
    is copied into the stacked array, so the two never both exist whole (a long text's peak held
    its attention twice: 2 x 283 MB on SmolLM2 at 512 tokens). ``output`` loses ``name``."""
    layers = list(output.get(name) or ())
    output[name] = None  # `layers` holds the only references now
    if not layers:
        raise RuntimeError("The model returned no attention weights; load it with eager attention.")
    stacked = np.empty((len(layers), *layers[0].shape), dtype=np.float32)  # [L, B, H, Q, K]
    for i in range(len(layers)):
        stacked[i] = layers[i].float().numpy()
        layers[i] = None
    return readonly(stacked)


def _kept(output: Any, name: str) -> np.ndarray | None:
    value = output.get(name)
    return None if value is None else readonly(value.float().numpy().copy())


def _head_logits(
    loaded: LoadedCheckpoint, encoding: Encoding, output: Any
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(logits, logit_positions) postprocessing reads: a classifier's [B, labels] (no positions),
    a language model's [N, vocab] at the [N, 2] (sentence, position) rows it needs."""
    import torch

    if loaded.head_class == tasks.SEQUENCE_CLASSIFICATION:
        return readonly(output.logits.float().numpy().copy()), None  # [B, labels]
    if loaded.head_class not in (tasks.CAUSAL_LM, tasks.MASKED_LM):
        return None, None
    positions = readonly(_token_positions(loaded, encoding))  # [N, 2]
    index = torch.from_numpy(positions.copy())
    picked = output.logits[index[:, 0], index[:, 1]]  # [N, vocab]
    return readonly(picked.float().numpy().copy()), positions


def task_forward(
    loaded: LoadedCheckpoint, inputs: Mapping[str, np.ndarray], names: Sequence[str]
) -> dict[str, np.ndarray]:
    """One forward pass of the loaded model on a batch a task module built (e.g. a multiple-choice
    batch [B, C, S], or a question with its context windows [W, S]): ``inputs`` maps the forward's
    parameter names to integer arrays (those it does not accept are dropped); returns the outputs
    named in ``names`` as read-only float32 arrays ("hidden_states" stacked: [L + 1, …])."""
    import torch

    model = loaded.model
    accepted = inspect.signature(model.forward).parameters
    tensors = {
        name: torch.from_numpy(np.ascontiguousarray(value, dtype=np.int64))
        for name, value in inputs.items()
        if name in accepted
    }
    extra: dict[str, Any] = {"use_cache": False} if "use_cache" in accepted else {}
    with torch.inference_mode():
        output = model(**tensors, output_hidden_states="hidden_states" in names, return_dict=True, **extra)
    results = {}
    for name in names:
        value = output.get(name)
        if value is None:
            raise KeyError(f"{loaded.model_class} returned no '{name}'")
        if isinstance(value, tuple):
            value = torch.stack(value)
        results[name] = readonly(value.float().numpy().copy())
    return results


def transformers_pipeline(task: str, loaded: LoadedCheckpoint, *args: Any, **kwargs: Any) -> Any:
    """transformers' own ``pipeline(task)`` on the same shared model and tokenizer (it only reads
    them), called with ``args`` / ``kwargs``: what the app checks its task numbers against."""
    from transformers import pipeline

    # The batch tokenizer: some pipelines (zero-shot) set a pad token on the tokenizer they are
    # given, and the checkpoint's own tokenizer is shared by every session.
    # transformers types `task` as one Literal per pipeline; here it is any task name, a str.
    runner = pipeline(task, model=loaded.model, tokenizer=loaded.batch_tokenizer, device="cpu")  # type: ignore[call-overload]
    return runner(*args, **kwargs)


def _last_logits_only(model: Any) -> dict[str, int]:
    """``{"logits_to_keep": 1}`` when the model's forward takes it (transformers' causal LMs): the
    LM head then scores only the last position, the one the next token comes from, instead of every
    position ([T, vocab]: 49,152 x 576 products per token for SmolLM2). The last row is the same."""
    return {"logits_to_keep": 1} if _takes_logits_to_keep(model.__class__) else {}


@functools.cache
def _takes_logits_to_keep(kind: Any) -> bool:  # a model class
    """Whether a model class's forward has ``logits_to_keep`` (read once per class)."""
    return "logits_to_keep" in inspect.signature(kind.forward).parameters


def next_token_logits(loaded: LoadedCheckpoint, ids: Sequence[int]) -> np.ndarray:
    """[vocab] float64 logits for the token after ``ids`` (one sequence, no padding)."""
    import torch

    model = loaded.model
    with torch.inference_mode():
        output = model(input_ids=torch.tensor([list(ids)]), use_cache=False, **_last_logits_only(model))
    return output.logits[0, -1].double().numpy()  # [vocab]


def decode_stream(loaded: LoadedCheckpoint, ids: Sequence[int]) -> Generator[np.ndarray, int, None]:
    """Generation with a key/value cache: yields [vocab] float64 logits for the next token and
    receives (``send``) the token chosen; each new token is then one short forward pass."""
    import torch

    cache, feed, last = None, list(ids), _last_logits_only(loaded.model)
    while True:
        with torch.inference_mode():
            output = loaded.model(
                input_ids=torch.tensor([feed]), past_key_values=cache, use_cache=True, **last
            )
        cache = output.past_key_values
        chosen = yield output.logits[0, -1].double().numpy()  # [vocab]
        feed = [int(chosen)]


def decoder_start_id(loaded: LoadedCheckpoint) -> int:
    """The token an encoder-decoder's decoder starts from (``decoder_start_token_id``)."""
    return _decoder_start(loaded)


def seq2seq_next_token_logits(
    loaded: LoadedCheckpoint, source_ids: Sequence[int], decoder_ids: Sequence[int]
) -> np.ndarray:
    """[vocab] float64: an encoder-decoder's decoder logits for the token after ``decoder_ids``
    (start token first), the encoder reading ``source_ids`` (one sequence, no padding)."""
    import torch

    with torch.inference_mode():
        output = loaded.model(
            input_ids=torch.tensor([list(source_ids)]),
            decoder_input_ids=torch.tensor([list(decoder_ids)]),
            use_cache=False,
        )
    return output.logits[0, -1].double().numpy()  # [vocab]


def seq2seq_decode_stream(
    loaded: LoadedCheckpoint, source_ids: Sequence[int], decoder_ids: Sequence[int]
) -> Generator[np.ndarray, int, None]:
    """An encoder-decoder, one decoder token at a time: the encoder reads ``source_ids`` once, the
    decoder continues ``decoder_ids`` (start token first) with a key/value cache; yields [vocab]
    float64 logits for the next token and receives (``send``) the token chosen."""
    import torch

    model = loaded.model
    with torch.inference_mode():
        encoder_outputs = model.get_encoder()(input_ids=torch.tensor([list(source_ids)]), return_dict=True)
    cache, feed = None, list(decoder_ids)
    while True:
        with torch.inference_mode():
            output = model(
                encoder_outputs=encoder_outputs,
                decoder_input_ids=torch.tensor([feed]),
                past_key_values=cache,
                use_cache=True,
            )
        cache = output.past_key_values
        chosen = yield output.logits[0, -1].double().numpy()  # [vocab]
        feed = [int(chosen)]


def seq2seq_generate(loaded: LoadedCheckpoint, source_ids: Sequence[int], max_new_tokens: int) -> list[int]:
    """``model.generate(do_sample=False, num_beams=1)`` on one source: the tokens after the start
    token (for checking step-by-step greedy decoding against transformers' own)."""
    import torch

    with torch.inference_mode():
        output = loaded.model.generate(
            input_ids=torch.tensor([list(source_ids)]),
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
        )
    return [int(i) for i in output[0, 1:]]


def _final_norm(model: Any) -> Any:
    norm = final_norm(model)  # where explorer.pipeline.architecture's table puts it
    if norm is None:
        raise InputError(
            "The logit lens needs a decoder with a final normalisation layer (Llama, GPT-2 style)."
        )
    return norm


def lens_logits(loaded: LoadedCheckpoint, ids: Sequence[int], reduce: Callable[[np.ndarray], Any]) -> list:
    """The logit lens: every layer's hidden state after ``ids`` through the final norm and the LM
    head. transformers already applies the final norm to the last hidden state, so the last layer
    is the model's own answer. ``reduce`` gets one layer's [T, vocab] float32 logits at a time
    (the whole [L + 1, T, vocab] array would be hundreds of MB); returns [L + 1] of its results."""
    import torch

    if loaded.head_class != tasks.CAUSAL_LM:
        raise InputError("The logit lens is for causal language models.")
    model = loaded.model
    norm, head = _final_norm(model), model.get_output_embeddings()
    results = []
    with torch.inference_mode():
        hidden = model(
            input_ids=torch.tensor([list(ids)]), output_hidden_states=True, use_cache=False
        ).hidden_states  # L + 1 tensors of [1, T, D]
        for index, layer in enumerate(hidden):
            normed = layer[0] if index == len(hidden) - 1 else norm(layer[0])  # [T, D]
            results.append(reduce(head(normed).float().numpy()))  # [T, vocab] -> reduce
    return results


def main_output(model: Any, encoding: Encoding) -> tuple[str, np.ndarray]:
    """(name, array) of a model's main output on the batch: "logits" ([B, labels] or
    [B, S, vocab]) when it has a head, else "last_hidden_state" [B, S, D]."""
    import torch

    _, inputs = model_inputs(model, encoding)
    if getattr(model.config, "is_encoder_decoder", False):  # the decoder's first step, from its start token
        inputs.pop("token_type_ids", None)
        start = decoder_start_token(model)
        if start is None:
            raise InputError(
                "This encoder-decoder names no decoder_start_token_id: its decoder cannot start."
            )
        inputs["decoder_input_ids"] = torch.full((encoding.shape[0], 1), start, dtype=torch.long)  # [B, 1]
    with torch.inference_mode():
        output = model(**inputs, return_dict=True)
    name = "logits" if "logits" in output else "last_hidden_state"
    return name, output[name].float().numpy()


@dataclass(frozen=True)
class Outputs:
    """What :func:`forward` returns. Arrays are float32 and read-only."""

    last_hidden_state: np.ndarray  # [B, S, D] the last layer's vectors (decoders: after the final norm;
    # encoder-decoders: the ENCODER's)
    # Classifier: [B, labels]. Causal LM: [B, vocab] after each sentence's last real token.
    # Encoder-decoder: [B, vocab] the decoder's first step (from its start token). Else None.
    logits: np.ndarray | None


def forward(
    loaded: LoadedCheckpoint,
    encoding: Encoding,
    *,
    attention_mask: np.ndarray | None = None,
    model: Any = None,
) -> Outputs:
    """One forward pass of ``model`` (default: the loaded one; e.g. a copy with random weights
    built from the same config) on the batch. ``attention_mask`` [B, S] replaces the mask the
    model is given (all ones shows what the mask does); position ids still follow
    :func:`run_model`'s rule from the encoding's own mask, so only attention changes."""
    import torch

    model = loaded.model if model is None else model
    accepted, inputs = model_inputs(model, encoding)
    if attention_mask is not None:
        if tuple(attention_mask.shape) != encoding.shape:
            raise ValueError(
                f"attention_mask {attention_mask.shape} does not match the batch {encoding.shape}"
            )
        inputs["attention_mask"] = torch.from_numpy(np.array(attention_mask, dtype=np.int64))  # [B, S]
    if loaded.is_encoder_decoder:
        inputs.pop("token_type_ids", None)
        start = torch.full((encoding.shape[0], 1), _decoder_start(loaded), dtype=torch.long)  # [B, 1]
        with torch.inference_mode():
            output = model(**inputs, decoder_input_ids=start, use_cache=False, return_dict=True)
        last = readonly(output.encoder_last_hidden_state.float().numpy().copy())  # [B, S, D]
        return Outputs(last, readonly(output.logits[:, 0].float().numpy().copy()))  # [B, vocab]
    with torch.inference_mode():
        output = model(
            **inputs,
            output_hidden_states=True,
            return_dict=True,
            **({"use_cache": False} if "use_cache" in accepted else {}),
        )
    last = readonly(output.hidden_states[-1].float().numpy().copy())  # [B, S, D]
    logits = None
    if loaded.head_class == tasks.SEQUENCE_CLASSIFICATION:
        logits = readonly(output.logits.float().numpy().copy())  # [B, labels]
    elif loaded.head_class == tasks.CAUSAL_LM:
        ends = torch.from_numpy(encoding.last_real)  # [B]
        picked = output.logits[torch.arange(len(ends)), ends]  # [B, vocab]
        logits = readonly(picked.float().numpy().copy())
    return Outputs(last, logits)


def classifier_logits(
    model: Any, tokenizer: Any, sentences: Sequence[str], max_length: int = 128
) -> np.ndarray:
    """[N, labels] logits of a sequence classifier (e.g. one being fine-tuned) on ``sentences``."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            batch = tokenizer(
                list(sentences), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            return model(**batch).logits.float().numpy()  # [N, labels]
    finally:
        model.train(was_training)


def pipeline_scores(loaded: LoadedCheckpoint, sentences: Sequence[str]) -> list[dict[str, float]]:
    """transformers' own ``pipeline("text-classification")`` on the same shared model (it only
    reads it): [B] {label: score} with every label (top_k=None)."""
    from transformers import pipeline

    classifier = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, device="cpu")
    # [B] lists of {"label", "score"} (transformers types the call's result loosely)
    results: Any = classifier(list(sentences), top_k=None, truncation=True, max_length=loaded.max_tokens)
    return [{r["label"]: float(r["score"]) for r in result} for result in results]


def pair_logits(model: Any, encoding: Encoding) -> np.ndarray:
    """[B, labels] logits of a head that reads sentence pairs (BertForNextSentencePrediction's
    IsNext / NotNext, or a pair classifier) on a batch encoded as ``tokenizer(first, second)``
    (``encoding.pairs`` set): input ids, the attention mask and token_type_ids, which tell the two
    segments apart. Read-only float32; the model is left in the mode it was in."""
    import torch

    was_training = model.training
    model.eval()
    try:
        _, inputs = model_inputs(model, encoding)
        with torch.inference_mode():
            output = model(**inputs, return_dict=True)
        return readonly(output.logits.float().numpy().copy())  # [B, labels]
    finally:
        model.train(was_training)


# --- Attributions (explorer.explain.attribution drives captum with these) --------------------------------


@dataclass(frozen=True)
class GradientForward:
    """One sentence of a batch as functions captum can differentiate, without touching the shared
    model (no hooks, no ``requires_grad`` on its weights, eval mode kept): the differentiated
    input is the embeddings tensor built here from the model's own embedding matrix.

    ``embed(ids [n, S]) -> [n, S, E]`` looks ids up in the input embedding matrix;
    ``scores(embeddings [n, S, E]) -> [n, K]`` runs the model from those embeddings (the row's
    attention mask, token type ids and position ids repeated n times) and returns the head's
    logits: a classifier's [n, labels], a language model's [n, vocab] at ``position``."""

    input_ids: Any  # torch [1, S] int64: the row as the model received it, padding included
    embed: Callable[[Any], Any]
    scores: Callable[[Any], Any]


def gradient_forward(
    loaded: LoadedCheckpoint, encoding: Encoding, sentence: int, position: int
) -> GradientForward:
    """Sentence ``sentence`` of the batch as a :class:`GradientForward`; ``position`` is the
    token position whose logits a language model's ``scores`` returns (ignored for a classifier)."""
    import torch

    if loaded.is_encoder_decoder:
        raise InputError("Attributions are not available for encoder-decoders here.")
    model = loaded.model
    accepted, inputs = model_inputs(model, encoding)
    row = {name: value[sentence : sentence + 1] for name, value in inputs.items()}  # each [1, S]
    ids = row.pop("input_ids")
    if "position_ids" in accepted and "position_ids" not in row:
        if counts_own_positions(model):  # RoBERTa numbers real tokens from padding_idx + 1
            padding_idx = model.base_model.embeddings.padding_idx
            real = (ids != padding_idx).long()  # [1, S]
            row["position_ids"] = real.cumsum(-1) * real + padding_idx
        else:
            row["position_ids"] = torch.arange(ids.shape[1])[None, :]  # [1, S]
    embedding = model.get_input_embeddings()
    extra: dict[str, Any] = {"use_cache": False} if "use_cache" in accepted else {}
    classifier = loaded.head_class == tasks.SEQUENCE_CLASSIFICATION

    def embed(batch_ids: Any) -> Any:
        return embedding(batch_ids)  # [n, S, E]

    if not classifier and "logits_to_keep" in accepted:  # the LM head on one position, not all
        extra["logits_to_keep"] = torch.tensor([position])

    def scores(embeddings: Any) -> Any:
        n = embeddings.shape[0]
        repeated = {name: value.expand(n, -1) for name, value in row.items()}
        output = model(inputs_embeds=embeddings, **repeated, return_dict=True, **extra)
        logits = output.logits
        if classifier:
            return logits  # [n, labels]
        return logits[:, -1] if "logits_to_keep" in extra else logits[:, position]  # [n, vocab]

    return GradientForward(ids, embed, scores)


def target_logits(loaded: LoadedCheckpoint, encoding: Encoding, positions: Sequence[int]) -> np.ndarray:
    """[B, K] float64 head logits of each sentence of the batch: a classifier's labels, or a
    language model's vocabulary at ``positions[b]`` (e.g. occluded copies of one sentence)."""
    import torch

    model = loaded.model
    accepted, inputs = model_inputs(model, encoding)
    extra: dict[str, Any] = {"use_cache": False} if "use_cache" in accepted else {}
    classifier = loaded.head_class == tasks.SEQUENCE_CLASSIFICATION
    one_position = not classifier and "logits_to_keep" in accepted and len(set(positions)) == 1
    if one_position:  # e.g. left-padded rows that all end at the last column: the LM head once per row
        extra["logits_to_keep"] = torch.tensor([int(positions[0])])
    with torch.inference_mode():
        output = model(**inputs, return_dict=True, **extra)
    logits = output.logits
    if one_position:
        logits = logits[:, -1]  # [B, vocab]
    elif not classifier:
        logits = logits[torch.arange(len(positions)), torch.tensor(list(positions))]  # [B, vocab]
    return logits.double().numpy()
