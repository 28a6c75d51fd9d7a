# The README's two commands: `make run` and `make test`. Both set up .venv/ on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser slurm run test test-quick lint wheel-check speed gpu-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "torch==2.14.1" "torchaudio==2.11.0"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]" --config-settings editable_mode=compat
	# ESPnet only as the reference code tests/test_beats.py checks our BEATs against, without its training stack
	$(BIN)/pip install -q --disable-pip-version-check --no-deps "espnet==202511"
	$(BIN)/python -c "import torch, torchaudio, faiss, sklearn, bench, pytest, espnet2.asr.encoder.beats_encoder"
	$(BIN)/python -c "from embeddings.embedders.ae_kernels import compile_kernels; compile_kernels()"
	touch $(STAMP)

# every run of scripts/first-run.txt in one process (the 2020 and 2023 stand-ins, three seeds, both official
# baselines); the leaderboard is rendered once, after the last
run: install
	$(BIN)/bench runs scripts/first-run.txt

# Debian's chromium for the page test (tests/test_page.py drives it with Playwright; no browser download)
browser:
	bash scripts/browser-up.sh

# a one-node Slurm cluster on this machine for the sweep tests (tests/test_sweep.py); scripts/slurm-down.sh stops it
slurm:
	bash scripts/slurm-up.sh

test: install browser slurm
	$(BIN)/python -m pytest -q

# the edit-run loop: everything but the tests marked slow (training, sweeps, the cluster)
test-quick: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .

# the wheel must carry every data file the code reads (dcase/calibration.json)
wheel-check: install
	rm -rf build/wheel && $(BIN)/pip wheel -q --no-deps --disable-pip-version-check . -w build/wheel
	$(BIN)/python scripts/check_wheel.py build/wheel/*.whl

speed: install
	$(BIN)/bench speed

# on the lent GPU machine (no set-up there; see scripts/gpu-check.sh); here it says there is no CUDA, or GPU_CHECK=--dry
gpu-check:
	PYTHON=$(if $(wildcard $(BIN)/python),$(BIN)/python,python3) bash scripts/gpu-check.sh $(GPU_CHECK)

clean:
	rm -rf $(VENV) .cache results
