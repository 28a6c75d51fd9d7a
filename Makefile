# The README's two commands: `make run` and `make test`. Both set up .venv/ on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint wheel-check speed gpu-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "torch==2.14.1" "torchaudio==2.11.0"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]" --config-settings editable_mode=compat
	$(BIN)/python -c "import torch, torchaudio, faiss, sklearn, bench, pytest"
	$(BIN)/python -c "from embeddings.embedders.ae_kernels import compile_kernels; compile_kernels()"
	touch $(STAMP)

# a DCASE 2023 stand-in (source/target domains, first-shot types) with every scorer, the domain-aware ones included
METHODS_2023 := softmax,centroid,gmm,lof,knn:combine=pooled,knn,knn:k=1,knn:k=1:normalize=ratio,kmeans_knn,smote_knn,mahalanobis,mahalanobis:selective=False,fusion:members=knn+mahalanobis

# every run stores its rows and plots; the leaderboard is rendered once, by the last
run: install
	$(BIN)/bench run --seeds 0,1,2 --no-render
	$(BIN)/bench run --embedder ae2020 --methods mse --no-render
	$(BIN)/bench run --task dcase2023 --methods $(METHODS_2023) --no-render
	$(BIN)/bench run --task dcase2023 --embedder ae2023 --methods mse --no-render
	$(BIN)/bench run --task dcase2023 --embedder ae2023:output=whitened --methods block_norm

test: install
	$(BIN)/python -m pytest -q

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
