# tastvg: two commands on a fresh machine.
#   make book   set up .venv (if missing) and build the rendered book into _build/html
#   make test   set up .venv (if missing), run unit tests + every chapter under nbval, build the book
#
# The setup pins a CPU torch wheel only when no torch is importable in the venv; the package itself
# asks for a range (torch>=2.3) so Colab and GPU machines keep their own build.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
STAMP  := $(VENV)/.tastvg-installed
JOBS   ?= 2

# Everything here must work without the network (pip installs aside).
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONHASHSEED := 0
# Tests draw without a screen (Agg); `make execute-book` must NOT use it: Jupyter's inline backend is
# what saves the figures into the notebooks (tests/test_book.py fails on a figure without its image).
TEST_ENV := MPLBACKEND=Agg TASTVG_SMOKE=1

.PHONY: setup book test unit notebooks execute-book chapter clean help

help:
	@echo "make book          set up .venv and build the book into _build/html (warnings are errors)"
	@echo "make test          set up .venv, run unit tests, every chapter under nbval, and the book build"
	@echo "make unit          unit tests only"
	@echo "make notebooks     every chapter under nbval (TASTVG_SMOKE=1)"
	@echo "make execute-book  re-execute every chapter in place with papermill (full runs), then build"
	@echo "make clean         remove _build and caches (keeps .venv)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "tastvg needs Python >= 3.10"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[book,test,train]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (tastvg)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

book: setup
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@test -f _build/html/index.html && echo "book: _build/html/index.html"

unit: setup
	MPLBACKEND=Agg $(PY) -m pytest tests -q -p no:cacheprovider

notebooks: setup
	$(TEST_ENV) $(PY) -m pytest book -q -p no:cacheprovider \
		--nbval-lax --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout 600

# -n $(JOBS) workers with one thread each: two torch processes with two threads each on a
# two-core machine slow each other down many times over.
test: setup
	$(TEST_ENV) OMP_NUM_THREADS=1 $(PY) -m pytest tests book -p no:cacheprovider -n $(JOBS) --dist loadfile \
		--nbval-lax --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout 600
	$(MAKE) --no-print-directory book

# Chapter 7 trains the checkpoint that chapters 4-6 show when it exists: run it first.
execute-book: setup
	for nb in book/07_training.ipynb $$(ls book/[0-9][0-9]_*.ipynb | grep -v 07_training); do \
		env -u MPLBACKEND -u TASTVG_SMOKE $(PY) -m papermill "$$nb" "$$nb" --cwd book -k python3 || exit 1; \
	done
	$(MAKE) --no-print-directory book

clean:
	rm -rf _build .pytest_cache .jupyter_cache

# One chapter, in place, with the inline backend: make chapter NB=book/04_tts.ipynb
chapter: setup
	env -u MPLBACKEND -u TASTVG_SMOKE $(PY) -m papermill "$(NB)" "$(NB)" --cwd book -k python3
