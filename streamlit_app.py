"""Transformer Explorer: the entry file. Page config, the shared sidebar, and the page router."""

import streamlit as st

from explorer import ui

st.set_page_config(page_title="Transformer Explorer", page_icon="🔎", layout="wide")

pages = [
    st.Page("pages/pipeline.py", title="Pipeline", icon="🏠", default=True, url_path="pipeline"),
]
navigation = st.navigation(pages)
ui.sidebar()
navigation.run()
