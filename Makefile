# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.molood-installed

.PHONY: demo test install model bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test,workflow,bench]"
	touch $(STAMP)

install: $(STAMP)

## Screen the bundled demo library (ChEMBL approved drugs) with the bundled default model.
demo: $(STAMP)
	$(BIN)/molood demo

## Run the whole test suite.
test: $(STAMP)
	DGLBACKEND=pytorch $(BIN)/python -m pytest -q

## Rebuild the bundled models from data/freesolv.csv (documented, reproducible): the default
## (hybrid detector) and SEGO alone.
model: $(STAMP)
	$(BIN)/molood train data/freesolv.csv -o molood/models/default.molood --seed 0
	$(BIN)/molood train data/freesolv.csv -o molood/models/sego.molood --detector sego --seed 0

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache out
