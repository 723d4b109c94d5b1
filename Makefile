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
.PHONY: help setup lab run test unit unit-all test-latest nbval student student-test sync publish bench clean clean-cache

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with every pinned dependency (idempotent)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed, found " + sys.version.split()[0])'
	@# A half-built venv (e.g. ensurepip missing: Debian/Ubuntu without python3-venv) is rebuilt, not trusted.
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) && $(PY) -m pip --version >/dev/null; } \
		|| { echo "Could not create a virtual environment with pip in $(VENV). On Debian/Ubuntu: sudo apt-get install python3-venv" >&2; rm -rf $(VENV); exit 1; }
	$(PY) -m pip install --progress-bar off -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -c 'import torch, torchvision, captum, shap, catboost; print("environment ready: torch", torch.__version__, "| torchvision", torchvision.__version__)'
	touch $(STAMP)

lab: setup ## Open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab notebooks/

run: sync ## Execute every notebook top to bottom at full quality into build/ (NOTEBOOKS=... for some)
	mkdir -p build
	for nb in $(NOTEBOOKS); do \
		echo "== $$nb"; \
		( cd notebooks && env -u MPLBACKEND COURSE_QUICK=0 COURSE_TEXT_PROGRESS=1 ../$(VENV)/bin/jupyter nbconvert --to notebook --execute \
			--ExecutePreprocessor.timeout=-1 \
			--Exporter.preprocessors=nbconvert.preprocessors.CoalesceStreamsPreprocessor \
			--CoalesceStreamsPreprocessor.enabled=True \
			--output-dir ../build $$(basename $$nb) ) || exit 1; \
	done
	@echo "== run time (cell time from the executed notebooks in build/)"
	@$(PY) -m tools.runtime $(addprefix build/,$(notdir $(NOTEBOOKS)))

# publish: the .py scripts stay the source of the inputs; --update copies them into the
# executed .ipynb and keeps the outputs.
publish: run ## (maintainers) run, then store the executed notebooks in notebooks/ and re-pair
	cp $(addprefix build/,$(notdir $(NOTEBOOKS))) notebooks/
	$(VENV)/bin/jupytext --to ipynb --update $(NOTEBOOKS:.ipynb=.py)

test: unit-all nbval student-test browser ## What CI runs: every unit test, notebooks (quick + offline), student edition, browser check

unit: setup-scale ## Unit tests while developing: the fast ones (tests marked slow are left out; `make unit-all` runs them)
	$(PY) -m pytest -m "not student_run and not slow" -p no:cacheprovider tests --ignore=tests/test_site.py

unit-all: setup-scale ## Every unit test, slow ones included (with the Ray extra: engines compared)
	$(PY) -m pytest -m "not student_run" -p no:cacheprovider --durations=10 tests --ignore=tests/test_site.py

test-latest: setup ## (maintainers, not CI) unit tests + nbval against the newest release of every dependency, in .venv-latest; writes docs/compatibility.md
	$(PY) -m tools.latest

nbval: setup ## Execute every notebook with nbval (quick mode; offline when ../shared is there)
	COURSE_QUICK=1 COURSE_OFFLINE=$(OFFLINE) COURSE_MIRROR_DIR=$(MIRROR) \
		$(PY) -m pytest --nbval-lax -p no:cacheprovider $(NOTEBOOKS)

student: setup ## Write the student edition (solutions stubbed) to build/student/
	$(PY) -m tools.editions student $(NOTEBOOKS)

student-test: setup ## Build and execute the student edition (quick + offline): only exercises fail, with hints
	COURSE_OFFLINE=$(OFFLINE) COURSE_MIRROR_DIR=$(MIRROR) $(PY) -m pytest -m student_run -p no:cacheprovider tests/test_student_run.py

sync: setup ## Re-pair every notebook's .ipynb with its .py (jupytext, newest wins)
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS:.ipynb=.py)

bench: setup ## Measure speed and memory of the hand-written methods (prints one table)
	$(PY) -m tools.bench

clean: ## Remove build outputs (keeps .venv, downloads and the cache in data/)
	rm -rf build .pytest_cache

clean-cache: ## Empty the cache of expensive results (data/cache, or COURSE_DATA_DIR/cache)
	rm -rf "$${COURSE_DATA_DIR:-data}/cache"

# ------------------------------------------------------------ instructor edition (issue 9)
# Decks and website from the committed notebooks (no execution, no network when opened).
# Front-end files (reveal.js, MathJax) come from npm at the versions of docs/package-lock.json.
.PHONY: assets slides site browser
ASSETS_STAMP := build/assets/node_modules/.package-lock.json

assets: $(ASSETS_STAMP) ## Install the pinned reveal.js and MathJax (npm ci) into build/assets/

$(ASSETS_STAMP): docs/package.json docs/package-lock.json
	$(PY) -m tools.publish assets

slides: setup $(ASSETS_STAMP) ## Offline reveal.js decks with speaker notes: build/slides/NN_topic.slides.html
	$(PY) -m tools.publish slides

site: slides ## The course as a static website (Sphinx + myst-nb): build/site/index.html
	$(PY) -m tools.publish site

browser: setup $(ASSETS_STAMP) ## Open every deck and page in headless Chromium, network blocked (screenshots in build/screenshots/)
	$(PY) -m pytest -p no:cacheprovider tests/test_site.py

# ------------------------------------------------------------------ notebook 03: data-set scale
.PHONY: setup-scale
SCALE_STAMP := $(VENV)/.installed-scale
setup-scale: $(SCALE_STAMP) ## Install the optional Ray Data extra for `--engine ray` (pinned in pyproject.toml; idempotent)

$(SCALE_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --progress-bar off --no-build-isolation -c requirements.txt -e ".[scale]"
	$(PY) -c 'import ray; print("Ray ready:", ray.__version__)'
	touch $(SCALE_STAMP)
