"""The app's plumbing without Streamlit: the page registry and the guided lessons."""
