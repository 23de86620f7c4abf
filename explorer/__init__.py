"""Transformer Explorer: the logic behind the app, importable and testable without Streamlit.

Data flows one way, one function per arrow, mirroring the course's pipeline:

    text --split_sentences--> Sentences --encode_batch--> Encoding --run_model--> ModelRun
         --postprocess--> predictions

Only :mod:`explorer.ui` imports streamlit.
"""

import os

# PyTorch's CPU threads (GNU OpenMP) spin while they wait for each other. When the cores are shared
# (the browser drawing the page, Streamlit's own threads, other sessions, other programs), a spinning
# thread holds a core another thread needs: on 2 busy cores one SmolLM2 forward pass took 1.5-6.7 s
# instead of 0.12 s, and 20 generated tokens 14-35 s instead of 1.7 s (measured on this machine while
# other programs ran; bench/README.md has the page timings). libgomp reads this when torch is
# first imported, so it is set here, before any module of the explorer imports torch; a value
# already in the environment is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
