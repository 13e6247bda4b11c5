# The course in two commands: `make lab` to learn, `make test` to check. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMPS := .make
INSTALLED := $(VENV)/.installed
HELPERS := $(wildcard helpers/*.py helpers/resources/*)
NOTEBOOKS := $(sorted $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PORT ?= 8888
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab test notebooks bench clean

# torch is pinned and installed first so pip takes the CPU wheel on disk instead of
# pulling several GB of CUDA packages; everything else comes from the package registry.
$(INSTALLED): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[offline,extras,dev]'
	@touch $@

install: $(INSTALLED)

lab: install
	$(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --notebook-dir=notebooks

# Unit tests, then every notebook top to bottom (nbval), small profile, no network.
test: install
	COURSE_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest -v -p no:cacheprovider tests/ --nbval-lax notebooks/

# Execute notebooks in place (default profile) so committed outputs are fresh; only changed ones rerun.
notebooks: $(NOTEBOOKS:notebooks/%.ipynb=$(STAMPS)/%.done)

$(STAMPS)/%.done: notebooks/%.ipynb $(HELPERS) | install
	@mkdir -p $(STAMPS)
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --coalesce-streams --ExecutePreprocessor.timeout=3600 $<
	@touch $@

# Every registered benchmark on IMDB ($$IMDB_DIR if set), results into the README table.
bench: $(STAMPS)/bench.done

$(STAMPS)/bench.done: $(HELPERS) | install
	@mkdir -p $(STAMPS)
	$(PY) -m helpers.bench --all --profile $${COURSE_PROFILE:-cpu} --record benchmarks/results.json --readme README.md
	@touch $@

clean:
	rm -rf $(VENV) $(STAMPS) .pytest_cache
