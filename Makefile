PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-replay bench-export eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m newsarchive.demo -o output

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check newsarchive spiders tests bench
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

eval: $(STAMP)
	$(BIN)/newsarchive eval $(EVAL_ARGS)

bench-replay: $(STAMP)
	$(BIN)/python -m bench.replay_lookup

bench-export: $(STAMP)
	$(BIN)/python -m bench.export

clean:
	rm -rf $(VENV) build *.egg-info
