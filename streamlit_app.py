"""Transformer Explorer: the entry file. Page config, the shared sidebar, and the page router."""

import streamlit as st

from explorer import ui

# Emoji icons only: a ":material/…:" icon as page or favicon icon makes the browser fetch an SVG
# from a font CDN (the browser tests check that nothing leaves the machine).
st.set_page_config(page_title="Transformer Explorer", page_icon="🔎", layout="wide")

navigation = ui.navigation()
ui.apply_link()  # a shared link's settings, on the session's first run
ui.go_to_pending_page()  # a lesson step asked to open its page
ui.sidebar()
ui.lesson_banner(navigation)
with ui.page_router():  # a page that stops early (ui.stop) ends here
    navigation.run()
ui.share_box(navigation)
