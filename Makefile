# Two commands for users: `make demo` and `make test`. Both set up .venv first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INFOMAX := $(VENV)/bin/infomax
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs

.PHONY: setup test chromium demo fmnist-data bench clean-demo

$(STAMP): pyproject.toml requirements-ci.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-ci.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

test: setup chromium
	$(PY) -m pytest -q -n 2

# Headless Chromium, for the test that opens the HTML report in a browser (skipped
# without it): nothing to do when it is on PATH, else Debian's package where apt-get can
# be used.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	      echo "installing Debian's chromium (headless, for the report test)"; \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || \
	        echo "could not install chromium; the report's browser test will be skipped"; \
	    fi; }

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
	$(INFOMAX) probe $(DEMO_OUT)/fmnist-tiny/last.ckpt --protocol linear knn --pixel-baseline
	$(INFOMAX) report $(DEMO_OUT)/fmnist-tiny

bench: setup
	$(PY) benchmarks/train_step.py --precision 32
