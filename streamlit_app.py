"""Transformer Explorer: the entry file. Page config, the shared sidebar, and the page router."""

import streamlit as st

from explorer import ui

# Emoji icons only: a ":material/…:" icon as page or favicon icon makes the browser fetch an SVG
# from a font CDN (the browser tests check that nothing leaves the machine).
st.set_page_config(page_title="Transformer Explorer", page_icon="🔎", layout="wide")

navigation = st.navigation(
    [
        st.Page(page.path, title=page.title, icon=page.icon, url_path=page.url_path, default=(i == 0))
        for i, page in enumerate(ui.PAGES)
    ]
)
ui.sidebar()
navigation.run()
