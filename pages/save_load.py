"""Save and load: save_pretrained, the files it writes, and from_pretrained giving the same outputs."""

import streamlit as st

from explorer import ui
from explorer.errors import ExplorerError
from explorer.views import save_load

st.title("Save and load")
st.markdown(
    "`model.save_pretrained(folder)` and `tokenizer.save_pretrained(folder)` write a checkpoint folder; "
    "`from_pretrained(folder)` reads it back. Nothing else is needed to share or reuse a model."
)

data = ui.page_data()
selection, loaded, encoding = data.selection, data.loaded, data.encoding
header = save_load.build(loaded, encoding, ui.settings(save_load.Settings, selection.ref))

ui.note(header.loaded)
ui.note(header.weights)
name = ui.widget(save_load.Settings, "name", ref=selection.ref, default=header.default_name)
if st.button("save_pretrained", type="primary", key="save.go"):
    try:
        folder = save_load.target(name)
        with st.spinner(f"Writing {folder}…"):
            save_load.save(loaded, folder)
        st.session_state[f"save.folder.{selection.ref}"] = str(folder)
        st.rerun()  # the picker lists the new folder
    except ExplorerError as problem:
        ui.show_error(problem)

saved = st.session_state.get(f"save.folder.{selection.ref}")
if saved:
    with st.spinner("Reloading and running…"):
        view = save_load.build(loaded, encoding, ui.settings(save_load.Settings, selection.ref), saved)
    if view.saved is None:
        ui.note(view.gone)
        ui.stop()
    st.subheader(view.saved.heading)
    ui.table(view.saved.table)
    ui.note(view.saved.total)
    ui.note(view.saved.weights)
    st.subheader("from_pretrained, and the same outputs")
    ui.note(view.saved.verdict)
    st.subheader("AutoConfig.from_pretrained alone")
    st.caption("The config is a small JSON file: enough to build the architecture, without any weights.")
    st.json(view.saved.config, expanded=1)
