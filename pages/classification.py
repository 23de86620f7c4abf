"""Classification: the pipeline's three steps for a classifier, checked against pipeline(), and a
classifier fine-tuned here, offline."""

import pandas as pd
import streamlit as st

from explorer import checkpoints, exports, figures, ui
from explorer import finetune as ft
from explorer.errors import ExplorerError
from explorer.postprocess import classify, compare_with_pipeline
from explorer.render import probability_bars_html, token_chips_html
from explorer.run import pipeline_scores

st.title("Classification")
st.markdown(
    '`pipeline("text-classification")` in three steps: the **tokenizer** turns text into IDs, the '
    "**model** with a classification head returns one **logit** per label, and **postprocessing** "
    "turns logits into probabilities with a softmax and names them with the config's `id2label`."
)

data = ui.page_data()
selection, loaded, encoding, run = data.selection, data.loaded, data.encoding, data.run


results = (
    classify(run.logits, loaded.config) if run.logits is not None and run.logit_positions is None else ()
)
if not results:
    shapes = ", ".join(
        f"{o.name} {list(o.shape)}" for o in run.outputs if o.name in ("last_hidden_state", "logits")
    )
    st.warning(
        f"{loaded.resolved.label} has no classification head: `{loaded.head_class}` loaded a "
        f"`{loaded.model_class}`, which returns {shapes} — "
        + (
            "hidden states, one vector per token, not logits per label."
            if loaded.head_class == "AutoModel"
            else "scores over the vocabulary, not labels."
        )
    )
    default = f"saved:{ft.DEFAULT_NAME}"
    if checkpoints.entry_for(default):
        st.button(
            f"Use the classifier fine-tuned here ({ft.DEFAULT_NAME})",
            on_click=ui.use_checkpoint,
            args=(default,),
            key="cls.use_default",
        )
    else:
        st.info("Fine-tune a classifier below; it will appear in the checkpoint picker.")
else:
    columns = st.columns(3)
    columns[0].subheader("① Preprocessing")
    columns[0].caption("tokenizer(sentences, padding=True, truncation=True)")
    columns[1].subheader("② Model")
    columns[1].caption(
        f"{loaded.model_class}(**inputs).logits: shape {list(run.logits.shape)} = [batch, labels]"
    )
    columns[2].subheader("③ Postprocessing")
    columns[2].caption("softmax(logits) and id2label")
    for result in results:
        columns = st.columns(3)
        with columns[0]:
            st.text(encoding.sentences[result.sentence][:200])
            st.html(token_chips_html(encoding, result.sentence))
        columns[1].table(
            pd.DataFrame(
                {"label": result.labels, "logit": [round(float(x), 4) for x in result.logits]}
            ).set_index("label")
        )
        with columns[2]:
            order = result.scores.argsort()[::-1]
            st.html(
                probability_bars_html(
                    [result.labels[i] for i in order], [float(result.scores[i]) for i in order]
                )
            )
            st.markdown(f"→ **{result.predicted}**")
    st.subheader("The same numbers as transformers' own pipeline()")
    checks = compare_with_pipeline(results, pipeline_scores(loaded, encoding.sentences))
    st.table(
        pd.DataFrame(
            [
                {
                    "sentence": c.sentence,
                    "our label": max(c.ours, key=c.ours.get),
                    "pipeline label": max(c.pipeline, key=c.pipeline.get),
                    "largest probability difference": f"{c.max_abs_difference:.1e}",
                }
                for c in checks
            ]
        ).set_index("sentence")
    )
    worst = max(c.max_abs_difference for c in checks)
    (st.success if worst < 1e-5 and all(c.same_label for c in checks) else st.warning)(
        f'`pipeline("text-classification", model=…, tokenizer=…)` gives the same labels; the largest '
        f"difference between its probabilities and ours is {worst:.1e}."
    )
    st.download_button(
        "Download the logits and probabilities (CSV)",
        lambda: exports.probabilities_csv(results, encoding.sentences),
        file_name="probabilities.csv",
        mime="text/csv",
        key="cls.csv",
    )

# --- Fine-tuning -------------------------------------------------------------------------------
st.header("Fine-tune a classifier, here and offline")
st.markdown(
    "No fine-tuned classifier can be downloaded without the Hub, so this page trains one the way the "
    "course does: the bundled MiniLM encoder gets a new, randomly initialised classification head "
    "(`AutoModelForSequenceClassification`), the sentences are tokenized with `Dataset.map`, padded per "
    "batch by `DataCollatorWithPadding`, and `Trainer` runs the training loop."
)
source = st.radio(
    "Training data", ["Sentences written for this app", "Upload a CSV"], horizontal=True, key="cls.source"
)
data_error = None
try:
    if source == "Upload a CSV":
        upload = st.file_uploader(
            "CSV with a 'text' and a 'label' column (0/1 or negative/positive)",
            type=["csv"],
            key="cls.upload",
        )
        if upload is None:
            train = validation = None
        else:
            data = ft.read_labelled_csv(upload.getvalue())
            for note in data.notes:
                st.info(note)
            train, validation = ft.split(data)
    else:
        train, validation = ft.bundled_dataset()
except ExplorerError as problem:
    ui.show_error(problem)
    train = validation = None

if train is not None:
    counts, vcounts = train.counts(), validation.counts()
    st.markdown(
        f"**{len(train.texts)}** training sentences ({counts['NEGATIVE']} negative, {counts['POSITIVE']} positive) "
        f"and **{len(validation.texts)}** for validation ({vcounts['NEGATIVE']} / {vcounts['POSITIVE']})."
    )
    with st.expander("Look at the data"):
        st.dataframe(
            pd.DataFrame({"text": train.texts, "label": [ft.LABELS[y] for y in train.labels]}).head(200),
            hide_index=True,
        )
    settings = st.columns(3)
    epochs = settings[0].slider("Epochs", 1, 5, 3, key="cls.epochs")
    learning_rate = settings[1].select_slider(
        "Learning rate", [1e-5, 2e-5, 5e-5, 1e-4], value=5e-5, key="cls.lr"
    )
    name = settings[2].text_input("Save as", value="my-classifier", key="cls.name")
    steps = -(-len(train.texts) // 16) * epochs
    st.caption(
        f"{steps} training steps, roughly {max(5, steps * 0.25):.0f} s on an idle 2-core machine. Training runs on the server's "
        "CPU in the background: other people using this server share the CPU meanwhile."
    )
    job = st.session_state.get("cls.job")
    running = job is not None and not job.finished
    if st.button("Start fine-tuning", type="primary", disabled=running, key="cls.start"):
        try:
            folder = checkpoints.saved_checkpoints_dir() / checkpoints.saved_name(name)
            if name.strip() == ft.DEFAULT_NAME:
                raise ExplorerError(f"'{ft.DEFAULT_NAME}' is the default classifier's name; pick another.")
            st.session_state["cls.job"] = ft.TrainingJob(
                str(checkpoints.minilm_folder()),
                train,
                validation,
                folder,
                ft.TrainingConfig(epochs=epochs, learning_rate=learning_rate),
                probes=encoding.sentences,
            ).start()
            st.session_state["cls.announced"] = False
        except ExplorerError as problem:
            ui.show_error(problem)


@st.fragment(run_every=1.0)
def training_progress() -> None:
    job = st.session_state.get("cls.job")
    if job is None:
        return
    progress = job.progress
    total = max(progress.total_steps, 1)
    st.progress(
        min(progress.step / total, 1.0),
        text=f"{progress.status}: step {progress.step} of {progress.total_steps or '?'} · {progress.seconds:.0f} s",
    )
    if progress.message:
        (st.error if progress.status == "failed" else st.caption)(progress.message)
    if not job.finished and st.button("Stop", key="cls.stop"):
        job.stop()
    if progress.losses:
        steps, losses = zip(*progress.losses, strict=True)
        per_epoch = progress.total_steps / max(job.config.epochs, 1)
        ui.chart(
            figures.loss_curve(list(steps), list(losses), progress.evaluations, per_epoch), key="cls.loss"
        )
    if progress.evaluations:
        st.table(
            pd.DataFrame(
                [
                    {
                        "epoch": round(e["epoch"]),
                        "validation accuracy": f"{e['accuracy']:.1%}",
                        "validation loss": round(e["loss"], 4),
                    }
                    for e in progress.evaluations
                ]
            ).set_index("epoch")
        )
    if job.finished and job.before and job.after:
        st.subheader("Before and after fine-tuning, on your sentences")
        st.table(
            pd.DataFrame(
                [
                    {
                        "sentence": s[:80],
                        "P(POSITIVE) untrained head": round(b[1], 3),
                        "P(POSITIVE) fine-tuned": round(a[1], 3),
                    }
                    for s, b, a in zip(job.probes, job.before, job.after, strict=True)
                ]
            )
        )
    if job.finished and not st.session_state.get("cls.announced"):
        st.session_state["cls.announced"] = True
        st.rerun(scope="app")  # refresh the checkpoint picker with the new classifier


training_progress()
job = st.session_state.get("cls.job")
if job is not None and job.finished and job.progress.status == "done":
    saved = f"saved:{job.progress.output.rsplit('/', 1)[-1]}"
    st.success(f"{job.progress.message} It is in the checkpoint picker now.")
    st.button("Use it now", on_click=ui.use_checkpoint, args=(saved,), key="cls.use_new")
