"""Home: the course's whole pipeline on one screen, tokenizer -> model -> postprocessing."""

import streamlit as st

from explorer import ui
from explorer.app.registry import go_deeper
from explorer.errors import ExplorerError
from explorer.views import pipeline

st.title("Transformer Explorer")
st.markdown(
    "What a transformer does with your text, in the three steps of the Hugging Face course: "
    "**tokenizer → model → postprocessing**. Type sentences in the sidebar, one per line."
)

data = ui.page_data()
view = pipeline.build(
    data.loaded, data.encoding, data.run, settings=ui.settings(pipeline.Settings), text=data.selection.text
)
st.caption(view.caption)
st.html(view.flow.html)  # the whole flow, from this model's modules and this run's shapes
st.caption(view.flow.caption)
ui.note(view.example)


# ① Tokenizer --------------------------------------------------------------------------------
st.header("① Tokenizer: text → tokens → input IDs")
for sentence in view.sentences:
    st.markdown(sentence.title)
    st.text(sentence.text)
    st.html(sentence.chips_html)
    ui.note(sentence.truncation)
st.subheader(view.batch_title)
st.markdown(view.batch_intro)
ui.note(view.pad_note)
st.html(view.batch_html)
st.download_button(
    "Download the batch (JSON)",
    view.batch_json,
    file_name="batch.json",
    mime="application/json",
    key="home.json",
)

# ② Model ------------------------------------------------------------------------------------
st.header("② Model: input IDs → hidden states → head")
for column, metric in zip(st.columns(len(view.metrics)), view.metrics, strict=True):
    column.metric(metric.label, metric.value)
ui.note(view.heads_note)
st.markdown(view.model_sentence)
ui.table(view.outputs)
if (part := view.seq2seq) is not None:  # an encoder-decoder: what its decoder wrote
    st.subheader("Encoder → decoder: what the decoder generated")
    ui.note(part.intro)
    ui.table(part.shapes)
    ui.table(part.table)
    ui.note(part.prefixes)
    st.button(
        "Put these T5 examples in the text box",
        on_click=lambda: st.session_state.__setitem__(ui.TEXT_KEY, "\n".join(part.examples)),
        key="home.t5_examples",
    )

# ③ Postprocessing ---------------------------------------------------------------------------
st.header(view.postprocess_header)
ui.note(view.postprocess_intro)
ui.note(view.no_predictions)
for block in view.predictions:
    st.markdown(block.title)
    if block.bars_html:
        st.html(block.bars_html)
    ui.note(block.score)
ui.note(view.quantized)
ui.task_section(pipeline.Settings, view.task, view.task_inputs)

# The default classifier: use it, or build it (one build per server, shared by every session).
# Under step ③, which it changes: the tokens, the first chart, stay above the fold at 1024x768.
if (offer := view.classifier) is not None:
    ui.note(offer.note)
    if offer.use_ref:
        st.button(offer.button, on_click=ui.use_checkpoint, args=(offer.use_ref,), key="home.use_default")
    elif st.button(offer.button, type="primary", key="home.build_default"):
        try:
            st.session_state["home.job"] = pipeline.build_default_classifier(data.encoding.sentences)
            st.session_state["home.announced"] = False
        except ExplorerError as problem:
            ui.show_error(problem)
    ui.training_job("home", details=False)
    st.page_link(ui.page_file("pages/classification.py"), label="Fine-tuning, explained", icon="🏷️")

# Where to go deeper ---------------------------------------------------------------------------
st.header("Go deeper")
for link in go_deeper():
    st.page_link(ui.page_file(link.path), label=link.label, icon=link.icon)
