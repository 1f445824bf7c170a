# Two commands for users: `make demo` and `make test`. Both set up .venv first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INFOMAX := $(VENV)/bin/infomax
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs

.PHONY: setup test demo fmnist-data bench clean-demo

$(STAMP): pyproject.toml requirements-ci.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-ci.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q -n 2

# Fashion-MNIST: found under the data root, in /usr/share/datasets/fashion-mnist, or
# downloaded; where none works and apt-get can be used, install Debian's package.
fmnist-data: setup
	@$(INFOMAX) data fashion-mnist --no-download >/dev/null 2>&1 || \
	  $(INFOMAX) data fashion-mnist >/dev/null 2>&1 || \
	  { if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	      echo "installing Debian's dataset-fashion-mnist"; \
	      (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null; \
	    fi; }
	@$(INFOMAX) data fashion-mnist --no-download

demo: fmnist-data
	$(INFOMAX) pretrain --preset fmnist-tiny --out $(DEMO_OUT) --overwrite
	$(INFOMAX) probe $(DEMO_OUT)/fmnist-tiny/last.ckpt --pixel-baseline

bench: setup
	$(PY) benchmarks/train_step.py
