"""Classification: the pipeline's three steps for a classifier, checked against pipeline(), sentence
pairs (a pair classifier, BERT's next-sentence prediction), and a classifier fine-tuned here, offline."""

import streamlit as st

from explorer import ui
from explorer.errors import ExplorerError
from explorer.pipeline import checkpoints
from explorer.ui import classification as draw
from explorer.ui import transfer as transfer_cache
from explorer.views import classification as cls

st.title("Classification")
intro = st.empty()  # names the function of the loaded head, known once it is loaded
data = ui.page_data()
pair_classifier = cls.is_pair_classifier(data.loaded)
view = None if pair_classifier else cls.build(data.loaded, data.encoding, data.run)
intro.markdown(cls.PAIR_CLASSIFIER_INTRO if view is None else view.intro)

if view is None:
    pass  # a pair classifier: its pairs are classified under 'Sentence pairs' below
elif view.no_head is not None:
    draw.draw_no_head(view.no_head)
else:
    draw.draw_classifier(view.classifier)
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
    draw.draw_pairs(pv.rows)

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
    draw.draw_pairs(nsp.rows)

# --- Fine-tuning -------------------------------------------------------------------------------
st.header("Fine-tune a classifier, here and offline")
st.markdown(cls.FINE_TUNE_INTRO)
draw.fine_tune_form(data.encoding.sentences, pairs_text)
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
        draw.draw_transfer(
            cls.build_transfer(encoder, heads, fine_tuned, data.encoding.sentences, pairs_text)
        )
