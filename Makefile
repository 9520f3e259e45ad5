# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
export WELLBEING_DB ?= $(CURDIR)/data/wellbeing.duckdb

.PHONY: install run demo test slow lint browser bench bench-browser validate fuzz clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# Make `import dashboard` work for the app, its pages, the CLI and the tests.
	$(PY) -c "import sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()['purelib'], 'wellbeing_compass.pth').write_text('$(CURDIR)/src\n')"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m dashboard demo --if-empty

run: demo
	$(VENV)/bin/streamlit run app.py

# Browser tests drive Debian's Chromium; install it when missing (needs root, as on CI).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }

lint: install
	$(VENV)/bin/ruff check .

# Tests marked slow (the 100,000-row import, the 300-organisation DiD simulation, every bench
# operation, every page figure bit for bit with one DuckDB thread and with four on a generated
# organisation of 1.4M answers, 20 sessions during an import, every browser test but a smoke set:
# tests/e2e/conftest.py BROWSER_SUITE) have a short version in the suite and run in full with
# `make slow`; CI (.ci/run) runs both.
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: each worker and each server the
# browser tests start would otherwise compile again (pytest's assertion rewriting, 4 s a worker).
test: install browser lint
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n 2 --dist loadgroup -m "not slow"

slow: install browser
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n 2 --dist loadgroup -m slow

# 10,000 property-based cases over the readers and the mapping step (docs/fuzz.md has a result).
fuzz: install
	WELLBEING_FUZZ=1 $(PY) -m pytest -q -p no:xdist -p no:randomly tests/ingest/test_fuzz.py --hypothesis-show-statistics

bench: install
	$(PY) -m bench

# Each page of the demo in headless Chromium: first visit on a fresh server and repeat visits.
bench-browser: install browser
	$(PY) -m bench browser

# Calibration harness (3,000 runs per scenario; about 9 minutes on 2 busy cores); rewrites docs/calibration.md.
validate: install
	PYTHONPATH=$(CURDIR)/src $(PY) -m dashboard validate --markdown docs/calibration.md \
		--json docs/calibration.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
