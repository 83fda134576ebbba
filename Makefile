# Two entry points do all set-up on a fresh machine with Python 3.11:
#   make demo   - create .venv, install heedbot, run the offline corrections walkthrough (videos)
#   make test   - create .venv, install heedbot with its dev extra, run ruff and the tests
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install demo test lint bench
install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/heed demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks.skills
	$(VENV)/bin/python -m benchmarks.perception
	$(VENV)/bin/python -m benchmarks.planner
