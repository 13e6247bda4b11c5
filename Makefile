# The course in two commands: `make lab` to learn, `make test` to check. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMPS := .make
INSTALLED := $(VENV)/.installed
HELPERS := $(wildcard helpers/*.py helpers/resources/*)
EXTRAS := offline,reference,train,viz,deploy,dev
TEST_ENV := COURSE_PROFILE=smoke HF_HUB_OFFLINE=1
NOTEBOOKS := $(sorted $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PORT ?= 8888
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab check test test-colab notebooks bench constraints clean

# torch is pinned and installed first, from PyTorch's CPU wheel index, so that pip does not pull PyPI's default
# build with several GB of CUDA libraries. Where that index cannot be reached, pip takes torch from the
# registries it is configured with: on a plain PyPI setup that is the CUDA build (it runs on a CPU too).
# Everything else comes from the package registry, at the versions in constraints.txt.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
define install_torch
$(1) -m pip install --quiet --retries 1 --timeout 10 --index-url $(TORCH_CPU_INDEX) torch==2.13.0 \
  || { echo "PyTorch's CPU index is out of reach: installing torch 2.13.0 from the default registry."; \
       $(1) -m pip install --quiet torch==2.13.0; }
endef

$(INSTALLED): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(call install_torch,$(PY))
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $@

install: $(INSTALLED)

lab: install
	$(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --notebook-dir=notebooks

# The contributor's loop: lint, then the unit tests not marked slow (about a minute on 2 cores).
check: install
	$(VENV)/bin/ruff check helpers tests tools
	$(TEST_ENV) $(PY) -m pytest -q -p no:cacheprovider -n 2 -m "not slow" tests/

# Lint, every unit test, then every notebook top to bottom with each exercise's solution run after it, from a
# folder outside the repository against a non-editable install, as Colab runs it (small profile, no network).
# Two workers, one notebook each at a time (--dist loadfile keeps a notebook's cells in one kernel).
test: install
	$(VENV)/bin/ruff check helpers tests tools
	$(TEST_ENV) $(PY) -m pytest -v -p no:cacheprovider -n 2 --dist loadfile tests/
	@stage=$$(mktemp -d) && trap 'rm -rf "$$stage"' EXIT && $(PY) tools/stage_notebooks.py "$$stage" && \
	  cd "$$stage/notebooks" && PYTHONPATH="$$stage/site" $(TEST_ENV) $(abspath $(PY)) -m pytest -v \
	  -p no:cacheprovider -n 2 --dist loadfile --nbval-lax .

# Every notebook, solutions included, against Colab's own versions of the course's dependencies
# (colab-constraints.txt), installed first; the course then installs on top as a setup cell does, non-editable,
# keeping what is there. Offline, smoke profile, from outside the repository.
COLAB_VENV ?= .venv-colab
COLAB_PY := $(COLAB_VENV)/bin/python
test-colab:
	@test -x $(COLAB_PY) || python3 -m venv $(COLAB_VENV)
	$(call install_torch,$(COLAB_PY))
	$(COLAB_PY) -m pip install --quiet -r colab-constraints.txt pytest pytest-xdist nbval setuptools
	$(COLAB_PY) -m pip install --quiet '.[offline,reference,train,viz,deploy]'
	$(COLAB_PY) -m pip list 2>/dev/null | grep -iE '^(torch|transformers|datasets|tokenizers|numpy|pandas|ipython) '
	@stage=$$(mktemp -d) && trap 'rm -rf "$$stage"' EXIT && $(COLAB_PY) tools/stage_notebooks.py "$$stage" && \
	  cd "$$stage/notebooks" && PYTHONPATH="$$stage/site" $(TEST_ENV) $(abspath $(COLAB_PY)) -m pytest -q \
	  -p no:cacheprovider -n 2 --dist loadfile --nbval-lax --nbval-current-env .

# Execute notebooks in place (default profile) so committed outputs are fresh; only changed ones rerun.
# tools/tidy_outputs.py then keeps what a terminal would show (one line per progress bar).
notebooks: $(NOTEBOOKS:notebooks/%.ipynb=$(STAMPS)/%.done)

$(STAMPS)/%.done: notebooks/%.ipynb $(HELPERS) | install
	@mkdir -p $(STAMPS)
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600 $<
	$(PY) tools/tidy_outputs.py $<
	@touch $@

# Every registered benchmark on IMDB ($$IMDB_DIR if set), results into RESULTS.md's tables.
bench: $(STAMPS)/bench.done

$(STAMPS)/bench.done: $(HELPERS) | install
	@mkdir -p $(STAMPS)
	$(PY) -m helpers.bench --all --profile $${COURSE_PROFILE:-cpu} --record helpers/resources/benchmark_results.json --readme RESULTS.md
	@touch $@

# After an upgrade: pin what is installed as the tested versions.
constraints: install
	@{ echo "# The exact versions the course is tested with: make install uses them; pyproject.toml holds the floors."; \
	  echo "# Regenerate with 'make constraints' after an upgrade."; \
	  $(PY) -m pip freeze --exclude pytorch-nlp-course | sed 's/+cpu$$//'; } > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt

clean:
	rm -rf $(VENV) $(COLAB_VENV) $(STAMPS) .pytest_cache
