# Two commands do all set-up on a fresh machine with Python 3.11+ and make:
#   make lab    install into .venv and open the course in JupyterLab
#   make test   install into .venv (and Chromium, for the browser tests) and run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test install browser-deps airflow temporal present present-all bench notebooks clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "durable-sim needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,temporal]'
	touch $(STAMP)

install: $(STAMP)

# The project's Jupyter settings (jupyter-settings/README.md): no news prompt, no CDN, found by search path.
SETTINGS := JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter-settings JUPYTER_PATH=$(CURDIR)/jupyter-settings
SCENE ?= 01

lab: install
	$(SETTINGS) $(BIN)/jupyter lab --ServerApp.root_dir=notebooks --LabApp.default_url=/lab/tree/01-the-crash-that-charges-you-twice.ipynb $(ROOT_FLAG)

browser-deps: install
	@scripts/ensure-chromium

# Apache Airflow in .venv-airflow, for scene 12's cross-check (tests/test_dag_airflow.py).
airflow:
	@scripts/ensure-airflow

test: install browser-deps airflow
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider

# The course's workflows on a real Temporal dev server, side by side with the course's engine (bridge/live.py):
# each run SIGKILLs its worker at the scene's crash point; the server and workers are stopped by pid.
temporal: install
	$(BIN)/python -m bridge.live

# Classroom mode: one scene with Voila (`make present SCENE=05`), or every scene as a tree (`make present-all`).
present: install
	$(SETTINGS) $(BIN)/voila $(firstword $(wildcard notebooks/$(SCENE)-*.ipynb)) --no-browser --template=course

present-all: install
	$(SETTINGS) $(BIN)/voila notebooks --no-browser --template=course

# Re-execute every notebook in place, keeping widget state, so they open ready to read.
notebooks: install
	cd notebooks && for nb in [0-9][0-9]-*.ipynb; do \
	  ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.store_widget_state=True "$$nb" || exit 1; done

bench: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache
