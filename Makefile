# Explaining Vision Models: one command per job. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
MIRROR := $(abspath ../shared/offline/data)
# Tests run offline when the offline data mirror is there; `make test OFFLINE=0` to allow downloads.
OFFLINE ?= $(if $(wildcard $(MIRROR)),1,0)

.DEFAULT_GOAL := help
.PHONY: help setup lab run test unit nbval sync publish bench clean

help: ## List the targets
	@grep -hE '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with every pinned dependency (idempotent)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed, found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --progress-bar off -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -c 'import torchvision, captum, shap, catboost; print("environment ready: torch", torchvision.__version__)'
	touch $(STAMP)

lab: setup ## Open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab notebooks/

run: sync ## Execute every notebook top to bottom at full quality into build/
	mkdir -p build
	for nb in $(NOTEBOOKS); do \
		echo "== $$nb"; \
		( cd notebooks && COURSE_QUICK=0 ../$(VENV)/bin/jupyter nbconvert --to notebook --execute \
			--ExecutePreprocessor.timeout=-1 --output-dir ../build $$(basename $$nb) ) || exit 1; \
	done

# publish: the .py scripts stay the source of the inputs; --update copies them into the
# executed .ipynb and keeps the outputs.
publish: run ## (maintainers) run, then store the executed notebooks in notebooks/ and re-pair
	cp build/[0-9][0-9]_*.ipynb notebooks/
	$(VENV)/bin/jupytext --to ipynb --update notebooks/[0-9][0-9]_*.py

test: unit nbval ## What CI runs: unit tests, pairing check, every notebook in quick + offline mode

unit: setup ## Unit tests of helpers and the .ipynb/.py pairing check
	$(PY) -m pytest tests

nbval: setup ## Execute every notebook with nbval (quick mode; offline when ../shared is there)
	COURSE_QUICK=1 COURSE_OFFLINE=$(OFFLINE) COURSE_MIRROR_DIR=$(MIRROR) \
		$(PY) -m pytest --nbval-lax -p no:cacheprovider $(NOTEBOOKS)

sync: setup ## Re-pair every notebook's .ipynb with its .py (jupytext, newest wins)
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

bench: setup ## Measure speed and memory of the hand-written methods (prints one table)
	$(PY) -m helpers.bench

clean: ## Remove build outputs (keeps .venv and downloads in data/)
	rm -rf build .pytest_cache
