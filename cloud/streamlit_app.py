"""Entry file for Streamlit Community Cloud: the same app, in cloud mode.

Community Cloud installs the dependency file next to the entry file (cloud/requirements.txt: a
CPU-only torch and no package that needs a compiler), so the deployment points here."""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("EXPLORER_CLOUD", "1")
sys.path.insert(0, str(ROOT))
runpy.run_path(str(ROOT / "streamlit_app.py"), run_name="__main__")
