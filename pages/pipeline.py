"""Home: the course's whole pipeline on one screen, tokenizer -> model -> postprocessing."""

import pandas as pd
import streamlit as st

from explorer import ui
from explorer.loading import HEAD_DESCRIPTIONS
from explorer.postprocess import postprocess
from explorer.render import batch_grid_html, probability_bars_html, token_chips_html
from explorer.tokenizer_lab import encoding_json

st.title("Transformer Explorer")
st.markdown(
    "What a transformer does with your text, in the three steps of the Hugging Face course: "
    "**tokenizer → model → postprocessing**. Type sentences in the sidebar, one per line."
)

data = ui.page_data()
selection, sentences, loaded, encoding, run = (
    data.selection,
    data.sentences,
    data.loaded,
    data.encoding,
    data.run,
)

st.caption(
    f"**{loaded.resolved.label}** · loaded as `{loaded.head_class}` → `{loaded.model_class}` "
    f"({HEAD_DESCRIPTIONS[loaded.head_class]})"
)

# ① Tokenizer --------------------------------------------------------------------------------
st.header("① Tokenizer: text → tokens → input IDs")
unk_id = loaded.tokenizer.unk_token_id
for b, sentence in enumerate(encoding.sentences):
    st.markdown(f"**Sentence {b}**")
    st.text(sentence if len(sentence) <= 300 else sentence[:300] + f"… ({len(sentence):,} characters)")
    st.html(token_chips_html(encoding, b, unk_id=unk_id))
    if encoding.truncated[b]:
        st.warning(
            f"Sentence {b} is longer than this model's limit of {loaded.max_tokens} tokens: "
            f"{encoding.truncated[b]:,} token(s) were cut (truncation)."
        )
B, S = encoding.shape
st.subheader(f"The batch tensor: input_ids of shape [{B}, {S}]")
st.markdown(
    "Sentences of different lengths are **padded** to the longest one so they stack into one tensor; "
    "the **attention mask** marks real tokens (1) and padding (0)."
)
if loaded.pad_note:
    st.caption(loaded.pad_note)
st.html(batch_grid_html(encoding))
st.download_button(
    "Download the batch (JSON)",
    lambda: encoding_json(encoding),
    file_name="batch.json",
    mime="application/json",
    key="home.json",
)

# ② Model ------------------------------------------------------------------------------------
st.header("② Model: input IDs → hidden states → head")
config = loaded.config
columns = st.columns(4)
columns[0].metric("Layers", getattr(config, "num_hidden_layers", "?"))
columns[1].metric("Attention heads", getattr(config, "num_attention_heads", "?"))
columns[2].metric("Hidden size", getattr(config, "hidden_size", "?"))
columns[3].metric("Parameters", f"{loaded.num_parameters / 1e6:.1f} M")
st.markdown(f"`{loaded.head_class}.from_pretrained(...)` built a `{loaded.model_class}`. It returned:")
st.table(
    pd.DataFrame(
        [{"output": o.name, "shape": str(list(o.shape)), "axes": o.meaning} for o in run.outputs]
    ).set_index("output")
)

# ③ Postprocessing ---------------------------------------------------------------------------
st.header("③ Postprocessing: logits → probabilities")
predictions = postprocess(run, loaded)
if loaded.head_class == "AutoModel":
    st.info(
        "This checkpoint has no task head, so there are no logits to turn into probabilities: its "
        "output is the hidden states above, one vector per token. A classification head would map "
        "them to one logit per label; a language-model head to one score per vocabulary token."
    )
elif not predictions:
    st.info(
        f"This masked language model predicts hidden words: put {loaded.tokenizer.mask_token} "
        "in a sentence to see its guesses."
    )
for prediction in predictions:
    if prediction.position is None:
        where = f"Sentence {prediction.sentence}: label probabilities"
    elif loaded.head_class == "AutoModelForCausalLM":
        where = f"Sentence {prediction.sentence}: the next token after position {prediction.position}"
    else:
        where = f"Sentence {prediction.sentence}: the masked token at position {prediction.position}"
    st.markdown(f"**{where}**")
    st.html(probability_bars_html(prediction.labels, prediction.probabilities))

# Where to go deeper ---------------------------------------------------------------------------
st.header("Go deeper")
for page in ui.PAGES[1:]:
    st.page_link(ui.page_file(page.path), label=f"{page.title}: {page.blurb}", icon=page.icon)
