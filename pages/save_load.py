"""Save and load: save_pretrained, the files it writes, and from_pretrained giving the same outputs."""

import pandas as pd
import streamlit as st

from explorer import checkpoints, saving, ui
from explorer.errors import ExplorerError

st.title("Save and load")
st.markdown(
    "`model.save_pretrained(folder)` and `tokenizer.save_pretrained(folder)` write a checkpoint folder; "
    "`from_pretrained(folder)` reads it back. Nothing else is needed to share or reuse a model."
)

data = ui.page_data()
selection, loaded, encoding = data.selection, data.loaded, data.encoding

st.markdown(f"Loaded: **{loaded.resolved.label}** (`{loaded.head_class}` → `{loaded.model_class}`).")
default_name = "copy-of-" + "".join(
    c if c.isalnum() else "-" for c in loaded.resolved.label.split(" (")[0].lower()
)[:30].strip("-")
name = st.text_input(
    "Save as (in this app's checkpoint folder)", value=default_name, key=f"save.name.{selection.ref}"
)
if st.button("save_pretrained", type="primary", key="save.go"):
    try:
        folder = checkpoints.saved_checkpoints_dir() / checkpoints.saved_name(name)
        with st.spinner(f"Writing {folder}…"):
            saving.save_checkpoint(loaded, folder)
        st.session_state[f"save.folder.{selection.ref}"] = str(folder)
        st.rerun()  # the picker lists the new folder
    except ExplorerError as problem:
        ui.show_error(problem)

saved = st.session_state.get(f"save.folder.{selection.ref}")
if saved:
    from pathlib import Path

    folder = Path(saved)
    if not (folder / "config.json").is_file():
        st.info("The saved folder is gone; save again.")
        ui.stop()
    st.subheader(f"What save_pretrained wrote in {folder}")
    files = saving.saved_files(folder)
    st.table(
        pd.DataFrame(
            [
                {
                    "file": f.name,
                    "size": f"{f.bytes / 1e6:.2f} MB" if f.bytes > 1e5 else f"{f.bytes / 1e3:.1f} KB",
                    "what it holds": f.what,
                }
                for f in files
            ]
        ).set_index("file")
    )
    st.caption(
        f"{sum(f.bytes for f in files) / 1e6:.1f} MB in all. It appears in the checkpoint picker as '{folder.name} (saved here)'."
    )
    st.subheader("from_pretrained, and the same outputs")
    with st.spinner("Reloading and running…"):
        trip = saving.reload_and_compare(loaded, folder, encoding)
    (st.success if trip.max_abs_difference == 0.0 else st.warning)(
        f'`{loaded.head_class}.from_pretrained("{folder.name}")` on your {len(encoding.sentences)} sentence(s): '
        f"{trip.output} {list(trip.shape)}, largest difference from the original **{trip.max_abs_difference:.1e}**"
        + (" — identical." if trip.max_abs_difference == 0.0 else ".")
    )
    st.subheader("AutoConfig.from_pretrained alone")
    st.caption("The config is a small JSON file: enough to build the architecture, without any weights.")
    st.json(saving.config_json(folder), expanded=1)
