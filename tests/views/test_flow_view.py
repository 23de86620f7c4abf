"""The Pipeline page's flow picture (issue 21, item 6), over the checkpoint-family matrix: every box's
shape is checked against the checkpoint's config.json (read here as JSON, with each family's own
field names) and against the hidden states and logits of a forward pass made here; every module
path against model.named_modules(); every link against the pages of the registry."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import torch

from explorer.app.registry import PAGES
from explorer.explain import flow as flows
from explorer.pipeline.encoding import encode_batch
from explorer.pipeline.run import run_model
from explorer.views import flow as flow_view
from explorer.views import layer as layer_view
from explorer.views import links
from explorer.views.settings import link_params

SENTENCES = ("The cat sat.", "Attention lets every token look at every other token.")

# Each family's config fields, by model_type: (layers, hidden, heads, feed-forward width).
FIELDS = {
    "bert": ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"),
    "roberta": ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"),
    "albert": ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"),
    "distilbert": ("n_layers", "dim", "n_heads", "hidden_dim"),
    "gpt2": ("n_layer", "n_embd", "n_head", "n_inner"),
    "llama": ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"),
    "qwen3": ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"),
    "t5": ("num_layers", "d_model", "num_heads", "d_ff"),
    "bart": ("encoder_layers", "d_model", "encoder_attention_heads", "encoder_ffn_dim"),
}
DECODER_FIELDS = {"t5": ("num_decoder_layers", "d_ff"), "bart": ("decoder_layers", "decoder_ffn_dim")}


@pytest.fixture(scope="module")
def case(family):
    """(loaded, encoding, run, flow, config, output): config.json as read here, output a forward
    pass made here with the model's own call."""
    loaded = family.loaded
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    run = run_model(loaded, encoding)
    config = json.loads((family.folder / "config.json").read_text())
    inputs = {
        "input_ids": torch.tensor(encoding.input_ids),
        "attention_mask": torch.tensor(encoding.attention_mask),
    }
    if encoding.token_type_ids is not None:
        inputs["token_type_ids"] = torch.tensor(encoding.token_type_ids)
    if loaded.is_encoder_decoder:
        inputs["decoder_input_ids"] = torch.tensor(run.decoder_input_ids)
    with torch.inference_mode():
        output = loaded.model(**inputs, output_hidden_states=True, return_dict=True)
    return loaded, encoding, run, flows.build(loaded, encoding, run), config, output


def _module_exists(model, path: str) -> bool:
    """A box's module path names a real module ("…0…5…" is every layer: layer 0 must exist)."""
    path = re.sub(r" \(shared by all \d+ layers\)$", "", path)
    path = re.sub(r"\.0…\d+\.", ".0.", path)
    return path in dict(model.named_modules())


def test_the_flow_has_this_runs_shapes(family, case):
    loaded, encoding, run, flow, config, output = case
    model_type = family.family.model_type
    layers, hidden, heads, ffn = FIELDS[model_type]
    B, S = encoding.input_ids.shape
    D, N, H = config[hidden], config[layers], config[heads]
    F = config.get(ffn) or 4 * D  # GPT-2: n_inner None means 4 × n_embd
    states = output.encoder_hidden_states if loaded.is_encoder_decoder else output.hidden_states
    assert len(states) == N + 1 and tuple(states[-1].shape) == (B, S, D)  # the run made here
    assert (flow.sizes.B, flow.sizes.S, flow.sizes.D, flow.sizes.N, flow.sizes.H, flow.sizes.F) == (
        B,
        S,
        D,
        N,
        H,
        F,
    )
    assert [box.key for box in flow.before] == ["text", "tokens", "input_ids", "embeddings"]
    assert flow.before[2].shape == f"[{B}, {S}]" and flow.before[3].shape == f"[{B}, {S}, {D}]"
    encoder = flow.stacks[0]
    assert encoder.layers == N
    attention, *_, feed_forward = encoder.boxes
    assert attention.key == "attention" and attention.shape == f"[{B}, {H}, {S}, {S}]"
    assert feed_forward.key == "feed_forward" and feed_forward.shape == f"[{B}, {S}, {F}]"
    assert feed_forward.detail.startswith(f"{D} → {F} → {D}")
    assert (attention.name == "Causal self-attention") == family.family.causal
    boxes = [*flow.before, *flow.decoder_before, *flow.after, *(b for s in flow.stacks for b in s.boxes)]
    for box in boxes:
        assert not box.module or _module_exists(loaded.model, box.module), box
    for stack in flow.stacks:
        assert _module_exists(loaded.model, stack.module + ".0"), stack.module


def test_an_encoder_decoder_has_two_stacks_and_cross_attention(family, case):
    loaded, encoding, run, flow, config, output = case
    if family.family.kind != "encoder-decoder":
        assert flow.kind == ("decoder" if family.family.causal else "encoder")
        assert len(flow.stacks) == 1 and flow.decoder_before == ()
        assert all(box.key != "cross_attention" for box in flow.stacks[0].boxes)
        return
    layers_field, ffn_field = DECODER_FIELDS[family.family.model_type]
    B, S = encoding.input_ids.shape
    T = output.decoder_hidden_states[-1].shape[1]  # the decoder positions of the run made here
    H = config[FIELDS[family.family.model_type][2]]
    assert flow.kind == "encoder-decoder" and [s.name for s in flow.stacks] == ["Encoder", "Decoder"]
    decoder = flow.stacks[1]
    assert decoder.layers == config[layers_field] == len(output.decoder_hidden_states) - 1
    assert [box.key for box in decoder.boxes] == ["attention", "cross_attention", "feed_forward"]
    assert decoder.boxes[1].shape == f"[{B}, {H}, {T}, {S}]"
    assert decoder.boxes[2].shape == f"[{B}, {T}, {config[ffn_field]}]"
    assert flow.decoder_before[0].shape == f"[{B}, {T}]"


def test_the_head_ends_in_the_logits_the_model_returned(family, case):
    loaded, encoding, run, flow, config, output = case
    keys = [box.key for box in flow.after]
    if loaded.head_class == "AutoModel":
        assert keys == ["output", "result"]
        assert flow.after[0].shape == str(list(output.last_hidden_state.shape))
        return
    assert keys == ["head", "logits", "result"]
    head, logits, result = flow.after
    assert logits.shape == str(list(output.logits.shape))
    assert head.module in dict(loaded.model.named_children())
    if family.family.kind == "classifier":
        labels = len(config["id2label"])
        assert head.detail == f"{config[FIELDS[family.family.model_type][1]]} → {labels}"
        assert result.shape == f"[{len(SENTENCES)}, {labels}]" and result.page == "classification"
        assert result.name == {"none": "Score"}.get(family.family.pipeline_function, "Probabilities")


def test_every_link_opens_a_real_page_with_the_text_and_checkpoint(family, case):
    loaded, encoding, run, *_ = case
    part = flow_view.build(loaded, encoding, run, family.ref, "\n".join(SENTENCES))
    url_paths = {page.url_path for page in PAGES}
    assert part.hrefs
    for (page, _focus), href in part.hrefs:
        path, query = href.split("?", 1)
        assert path == page and page in url_paths
        values = dict(parse_qsl(query))
        assert values["ckpt"] == family.ref and values["text"] == "\n".join(SENTENCES)
        assert f'href="{href.replace("&", "&amp;")}"' in part.html  # drawn, escaped once
    assert f"B = {len(SENTENCES)} sentences" in part.caption


def test_a_link_carries_the_layer_step_and_round_trips():
    ref, text = "local:/tmp/some model", "It's <b>bold</b> & fine"
    href = flow_view.link("layer", "feed_forward", ref, text)
    split = urlsplit(href)
    assert split.path == "layer"
    query = dict(parse_qsl(split.query))
    assert query["ckpt"] == ref and query["step"] == "layer.activation"
    params = link_params(layer_view.Settings)
    updates, problems = links.decode(query, params, ref)
    assert problems == [] and updates == {"layer.step": "layer.activation"}
    # And back: the state the link sets encodes to the same step.
    assert dict(parse_qsl(links.encode(updates, params, ref).query)) == {"step": "layer.activation"}
    # A page that shows the default settings carries only the text and the checkpoint.
    assert dict(parse_qsl(urlsplit(flow_view.link("tokenizer", "", ref, text)).query)) == {
        "ckpt": ref,
        "text": text,
    }


@pytest.mark.parametrize("name", ["roberta-ner", "distilbert-qa", "bert-mc", "llama-cls"])
def test_the_course_task_heads_end_in_their_own_logits(name, tmp_path):
    """Token classification, question answering, multiple choice and a decoder classifier: the head
    box names the model's own head module, the logits box the shape its forward pass returns here."""
    from tests.families import build_and_load

    loaded = build_and_load(name, tmp_path).loaded
    encoding = encode_batch(loaded.batch_tokenizer, SENTENCES, max_length=loaded.max_tokens)
    flow = flows.build(loaded, encoding, run_model(loaded, encoding))
    ids, mask = torch.tensor(encoding.input_ids), torch.tensor(encoding.attention_mask)
    if name == "bert-mc":  # [batch, choices, sequence]: each sentence as its one choice
        ids, mask = ids[:, None], mask[:, None]
    with torch.inference_mode():
        output = loaded.model(input_ids=ids, attention_mask=mask, return_dict=True)
    head, logits, _ = flow.after
    assert head.module in dict(loaded.model.named_children())
    if name == "distilbert-qa":
        assert logits.shape == f"2 × {list(output.start_logits.shape)}" and head.detail.endswith(
            "→ 2 (start, end)"
        )
    else:
        assert logits.shape == str(list(output.logits.shape))
        assert head.detail == f"{flow.sizes.D} → {output.logits.shape[-1]}"
    assert flow.kind == ("decoder" if name == "llama-cls" else "encoder")
