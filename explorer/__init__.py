"""Transformer Explorer: the logic behind the app, importable and testable without Streamlit.

Data flows one way, one function per arrow, mirroring the course's pipeline:

    text --split_sentences--> Sentences --encode_batch--> Encoding --run_model--> ModelRun
         --postprocess--> predictions

Only :mod:`explorer.ui` imports streamlit.
"""
