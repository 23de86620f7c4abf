"""Transformer Explorer: the entry file. Page config, the shared sidebar, and the page router."""

import streamlit as st

from explorer import ui

# Emoji icons only: a ":material/…:" icon as page or favicon icon makes the browser fetch an SVG
# from a font CDN (the browser tests check that nothing leaves the machine).
st.set_page_config(page_title="Transformer Explorer", page_icon="🔎", layout="wide")

navigation = ui.navigation()
ui.sidebar()
navigation.run()
