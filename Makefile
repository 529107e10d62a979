# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.molood-installed

.PHONY: demo test install model reference bench clean

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

## Rebuild the bundled default model from data/freesolv.csv (documented, reproducible).
model: $(STAMP)
	$(BIN)/molood train data/freesolv.csv -o molood/models/default.molood --seed 0

## Rebuild the bundled model's sidecar reference set (nearest neighbours in explanations).
reference: $(STAMP)
	$(BIN)/python -c "from molood.explain.reference import write_sidecar; \
	  from molood.persist import default_model_path; \
	  print(write_sidecar(default_model_path(), 'data/freesolv.csv'))"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache out
