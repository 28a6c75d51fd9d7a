# The README's two commands: `make run` and `make test`. Both set up .venv/ on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test speed clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "torch==2.14.1" "torchaudio==2.11.0"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]" --config-settings editable_mode=compat
	$(BIN)/python -c "import torch, torchaudio, faiss, sklearn, bench, pytest"
	touch $(STAMP)

run: install
	$(BIN)/bench run

test: install
	$(BIN)/python -m pytest -q

speed: install
	$(BIN)/bench speed

clean:
	rm -rf $(VENV) .cache results
