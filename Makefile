# Entry points. `make demo` and `make test` set the machine up first (scripts/setup.sh is
# idempotent and returns at once when nothing changed).
PY := .venv/bin/python

.PHONY: setup demo test test-stress bench

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) scripts/demo.py

# pytest exit code 5 means "no tests collected": a failure of intent, reported as such.
test: setup
	@$(PY) -m pytest -c tests/pytest.ini --rootdir=tests tests $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$code

# The suite three times in a row beside a CPU-burning process (docs/reliability.md, "Flaky tests").
test-stress: setup
	@bash scripts/stress_tests.sh $(PYTEST_ARGS)

bench: setup
	$(PY) -m backend bench

