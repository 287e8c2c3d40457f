# README's two commands: `make demo` (the main job) and `make test` (everything, what .ci/run calls).
# `make lint`, `make typecheck` and `make test-unit` (no services, under 2 minutes) are the quick
# checks to run while working; `pre-commit install` runs lint on every commit.
.PHONY: demo test install services-up services-down lint typecheck test-unit cards deid-corpus
install:
	./scripts/bootstrap
demo: install
	.venv/bin/wardwatch demo
lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/python -m models.cards --check
typecheck: install
	.venv/bin/mypy
test-unit: install
	.venv/bin/pytest tests/unit -q
test: lint typecheck
	.venv/bin/pytest
cards: install
	.venv/bin/python -m models.cards
# The synthetic de-identification corpus (Faker surrogates), the de-identifier's safe vocabulary and its
# name gazetteers (Faker en_US), all committed.
deid-corpus: install
	.venv/bin/python -m batch.notes.deid_corpus
	.venv/bin/python -m batch.notes.deid_vocab --negex ../shared/data/negex/annotations-reports-1-60.tsv
services-up: install
	.venv/bin/wardwatch services up
services-down:
	.venv/bin/wardwatch services down
