"""Token classification (NER): a named-entity recognizer fine-tuned here, offline, step by step:
the data, the label alignment, the padded batches, training with live progress, seqeval's scores."""

import streamlit as st

from explorer import ui
from explorer.errors import ExplorerError
from explorer.ui import ner as ner_ui
from explorer.views import ner

st.title("Token classification (NER)")
st.markdown(ner.INTRO)

saved = ner.saved_model()
ui.note(saved.status)
if saved.built:
    st.button("Use this model", on_click=ui.use_checkpoint, args=(saved.ref,), key="ner.use_saved")
    with st.expander("seqeval report of the saved model"):
        ner_ui.report(saved.report)

# --- ① The data ---------------------------------------------------------------------------------
st.header("① The data: words and IOB2 tags")
source = st.radio("Training data", ner.SOURCES, horizontal=True, key="ner.source")
try:
    upload = None
    if source == ner.SOURCES[1]:
        st.markdown(ner.FORMAT_HELP)
        upload = st.file_uploader("CSV of tagged sentences", type=["csv"], key="ner.upload")
    data = ner.training_data(source, upload.getvalue() if upload else None)
except ExplorerError as problem:
    ui.show_error(problem)
    data = None
if data is None:
    st.stop()

ui.notes(data.notes)
shown = ner.build_data(data)
st.markdown(shown.types)
ui.table(shown.counts)
ui.note(shown.overlap)
st.caption("A sample of the training sentences (each name in brackets, then its type):")
ui.table(shown.sample)

# --- ② Alignment ---------------------------------------------------------------------------------
st.header("② Labels for sub-tokens")
tokenizer = ner_ui.minilm_tokenizer()
choices = ner.sentence_choices(data)
if st.session_state.get("ner.sentence", 0) >= len(choices):  # another file, with fewer sentences
    del st.session_state["ner.sentence"]
index = st.selectbox(
    "Sentence",
    range(len(choices)),
    index=ner.default_choice(tokenizer, data),
    format_func=lambda i: choices[i],
    key="ner.sentence",
)
aligned = ner.build_alignment(tokenizer, data.train.words[index], data.train.tags[index])
st.code(aligned.code, language="python")
ui.note(aligned.explanation)
ui.table(aligned.table)

# --- ③ Batches ------------------------------------------------------------------------------------
st.header("③ Padded batches")
batch = ner.build_batch(tokenizer, data)
st.markdown(batch.shapes)
ui.table(batch.table)
ui.note(batch.explanation)

# --- ④ Fine-tuning -------------------------------------------------------------------------------
st.header("④ Fine-tune and score")
columns = st.columns(2)
epochs = columns[0].select_slider("Epochs", ner.EPOCHS, value=ner.DEFAULTS.epochs, key="ner.epochs")
learning_rate = columns[1].select_slider(
    "Learning rate", ner.LEARNING_RATES, value=ner.DEFAULTS.learning_rate, format_func=str, key="ner.lr"
)
st.caption(ner.estimate(data, epochs))
running = (job := st.session_state.get("ner.job")) is not None and not job.finished
if st.button("Start fine-tuning", type="primary", disabled=running, key="ner.start"):
    st.session_state["ner.job"] = ner.start_training(data, epochs, learning_rate)
    st.session_state["ner.announced"] = False

ner_ui.training_job("ner")
if (job := st.session_state.get("ner.job")) is not None and (done := ner.training_progress(job)).saved:
    ui.note(done.saved)
    st.button("Use this model", on_click=ui.use_checkpoint, args=(done.saved_ref,), key="ner.use_new")
