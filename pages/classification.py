"""Classification: the pipeline's three steps for a classifier, checked against pipeline(), sentence
pairs (a pair classifier, BERT's next-sentence prediction), and a classifier fine-tuned here, offline."""

import streamlit as st

from explorer import ui
from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui import transfer as transfer_cache
from explorer.views import classification as cls


def draw_pairs(rows) -> None:
    for row in rows:
        columns = st.columns(3)
        columns[0].markdown(f"**A:** {row.first}  \n**B:** {row.second}")
        columns[0].html(row.chips_html)
        columns[0].caption(row.segments)
        ui.table(row.logits, where=columns[1])
        columns[2].html(row.bars_html)
        columns[2].markdown(row.predicted)


st.title("Classification")
intro = st.empty()  # names the function of the loaded head, known once it is loaded
data = ui.page_data()
pair_classifier = cls.is_pair_classifier(data.loaded)
view = None if pair_classifier else cls.build(data.loaded, data.encoding, data.run)
intro.markdown(cls.PAIR_CLASSIFIER_INTRO if view is None else view.intro)

if view is None:
    pass  # a pair classifier: its pairs are classified under 'Sentence pairs' below
elif (nh := view.no_head) is not None:
    ui.note(nh.warning)
    if nh.default_ref:
        st.button(nh.default_label, on_click=ui.use_checkpoint, args=(nh.default_ref,), key="cls.use_default")
    ui.note(nh.hint)
else:
    c = view.classifier
    for column, step in zip(st.columns(3), c.steps, strict=True):
        column.subheader(step.title)
        column.caption(step.caption)
    for row in c.sentences:
        columns = st.columns(3)
        columns[0].text(row.text)
        columns[0].html(row.chips_html)
        ui.table(row.logits, where=columns[1])
        if row.bars_html:
            columns[2].html(row.bars_html)
        ui.note(row.score, where=columns[2])
        columns[2].markdown(row.predicted)
    st.subheader(c.check.title)
    if c.check.table:
        ui.table(c.check.table)
    ui.note(c.check.verdict)
    st.download_button(c.csv_label, c.csv, file_name="probabilities.csv", mime="text/csv", key="cls.csv")
    ui.attribution_section(cls.Settings, data.loaded, data.encoding, "label", sentences=True)

# --- Sentence pairs ----------------------------------------------------------------------------
st.header("Sentence pairs")
st.markdown(cls.PAIRS_HELP)
pairs_text = ui.widget(cls.Settings, "pairs")
if pair_classifier:
    pv = cls.build_pair_classifier(data.loaded, pairs_text)
    st.markdown(pv.intro)
    ui.note(pv.training)
    ui.note(pv.problem)
    draw_pairs(pv.rows)

weights = cls.nsp_weights(data.loaded)
nsp_model = None
if weights.present:
    try:
        nsp_model = ui.next_sentence_model(data.selection.ref, checkpoints.fingerprint(data.loaded.resolved))
    except ExplorerError as problem:
        ui.show_error(problem)
nsp = cls.build_nsp(data.loaded, weights, nsp_model, pairs_text)
st.subheader(nsp.title)
st.markdown(nsp.explanation)
ui.note(nsp.weights)
if weights.present and not pair_classifier:
    ui.note(nsp.problem)  # the pair box could not be read (said once when a pair classifier reads it too)
if nsp.rows:
    st.caption(nsp.code)
    draw_pairs(nsp.rows)

# --- Fine-tuning -------------------------------------------------------------------------------
st.header("Fine-tune a classifier, here and offline")
st.markdown(cls.FINE_TUNE_INTRO)
source = ui.widget(cls.Settings, "source")
try:
    upload = None
    if source == cls.SOURCES[1]:
        upload = st.file_uploader(cls.UPLOAD_LABEL, type=["csv"], key="cls.upload")
    training_data = cls.training_data(source, upload.getvalue() if upload else None)
except ExplorerError as problem:
    ui.show_error(problem)
    training_data = None

if training_data is not None:
    ui.notes(training_data.notes)
    top, columns = st.container(), st.columns(3)
    ui.widget(cls.Settings, "epochs", where=columns[0])
    ui.widget(cls.Settings, "lr", where=columns[1], format_func=str)  # ui.widget passes None otherwise
    ui.widget(cls.Settings, "name", where=columns[2])
    settings = ui.settings(cls.Settings)
    training = cls.build_training(training_data, settings)
    top.markdown(training.counts)
    if training_data.is_pairs:
        top.markdown(cls.PAIR_TOKENIZATION)
    with top.expander("Look at the data"):
        st.dataframe(list(training.data.rows), hide_index=True)
    st.caption(training.estimate)
    running = (job := st.session_state.get("cls.job")) is not None and not job.finished
    if st.button("Start fine-tuning", type="primary", disabled=running, key="cls.start"):
        try:
            probes, probe_pairs = data.encoding.sentences, None
            if training_data.is_pairs:
                probes, probe_pairs = cls.probe_pairs(pairs_text)
            st.session_state["cls.job"] = cls.start_training(training_data, settings, probes, probe_pairs)
            st.session_state["cls.announced"] = False
        except ExplorerError as problem:
            ui.show_error(problem)


ui.training_job("cls", details=True)
if (job := st.session_state.get("cls.job")) is not None and (done := cls.training_progress(job)).saved:
    ui.note(done.saved)
    st.button("Use it now", on_click=ui.use_checkpoint, args=(done.saved_ref,), key="cls.use_new")

# --- Transfer learning, two ways ---------------------------------------------------------------
st.header(cls.TRANSFER_TITLE)
st.markdown(cls.TRANSFER_INTRO)
if ui.widget(cls.Settings, "transfer"):
    try:
        encoder = transfer_cache.encoder()
        heads = transfer_cache.feature_heads(encoder)
        fine_tuned = transfer_cache.fine_tuned()
    except ExplorerError as problem:
        ui.show_error(problem)
    else:
        tv = cls.build_transfer(encoder, heads, fine_tuned, data.encoding.sentences, pairs_text)
        ui.note(tv.pooling)
        for part in tv.kinds:
            st.subheader(part.title)
            ui.table(part.comparison)
            ui.note(part.recommendation)
            ui.note(part.problem)
            ui.note(part.sources)
            if part.predictions is not None:
                st.markdown(f"**{part.predictions_title}**")
                ui.table(part.predictions)
