# The two commands of this project (see README):
#   make demo   set up everything on a fresh machine, then run the main job on built-in data
#   make test   set up everything, then lint, type-check and run the test suite
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench

setup:
	@VENV=$(VENV) bash scripts/setup_env.sh

demo: setup
	$(BIN)/anatomy-ssl demo --out demo-output

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/data_pipeline_benchmark.py
	$(BIN)/python benchmarks/phantom_benchmark.py
	$(BIN)/python benchmarks/pretraining_benchmark.py --suite cpu
	$(BIN)/python benchmarks/pruner_benchmark.py
	$(BIN)/python benchmarks/finetune_recipe_benchmark.py
	$(BIN)/python benchmarks/few_shot_grid_benchmark.py
	$(BIN)/python benchmarks/conditional_convolution_benchmark.py
