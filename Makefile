# The two commands of README: `make demo` (the main job) and `make test` (the tests).
.PHONY: demo test install services-up services-down
install:
	./scripts/bootstrap
demo: install
	.venv/bin/wardwatch demo
test: install
	.venv/bin/ruff check .
	.venv/bin/pytest
services-up: install
	.venv/bin/wardwatch services up
services-down:
	.venv/bin/wardwatch services down
