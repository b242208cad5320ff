# shangliang: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/shangliang_test
# TEST_DB: both (default: SQLite, then PostgreSQL if reachable), sqlite, or postgres.
TEST_DB ?= both
export DATABASE_URL ?= sqlite:///./data/shangliang.db

.PHONY: run test lint install bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "需要 Python 3.11 或更新版本")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@mkdir -p data
	$(BIN)/shangliang db upgrade
	$(BIN)/shangliang demo
	@echo "打开 http://127.0.0.1:8000/simulator 试用（Ctrl+C 退出）"
	$(BIN)/shangliang serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check bot storage scheduler tests bench
	$(BIN)/ruff format --check bot storage scheduler tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	@TEST_DB=$(TEST_DB) PG_URL=$(PG_URL) BIN=$(BIN) bash scripts/test.sh

bench: $(STAMP)
	$(BIN)/python bench/callback.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
