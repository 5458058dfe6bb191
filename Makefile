# Two commands: `make run` (web, housekeeping and a render worker on http://127.0.0.1:$(PORT)) and `make test`.
PORT ?= 8000
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell scripts/find-python)
# librosa's numba JIT caches here; unwritable or cold, a worker pays ~18 s per start.
export NUMBA_CACHE_DIR ?= $(CURDIR)/var/numba-cache

.PHONY: run test setup ffmpeg migrate bench clean

run: setup migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py reset_metrics  # the metrics folder the three processes share starts empty
	$(PY) -m media_pipeline.beat --warm-up  # librosa's kernels compiled once, not in the first job
	@echo "Cutline: http://127.0.0.1:$(PORT)  (admin: /admin/, health: /health; Ctrl-C stops everything)"
	@echo "DEBUG=$$DEBUG: a local run (with 1, the development key and debug pages; a public server runs with 0)"
	PATH="$(abspath $(VENV))/bin:$$PATH" BIND=127.0.0.1 $(VENV)/bin/honcho start --port $(PORT) web housekeeping worker

# A local run is a development set-up: DEBUG on (the development key, plain static files), unless DEBUG is set.
# A server sets DEBUG=0 (the default outside make) and its own SECRET_KEY.
run migrate bench: export DEBUG ?= 1

# The suite runs on every core: pytest-xdist, a whole test file per worker (its module fixtures are made once),
# the long files handed out first (tests/conftest.py). TEST_WORKERS=0 (or PYTEST_ARGS="-n 0") runs it in one
# process, as a debugger or -s needs.
TEST_WORKERS ?= auto
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/render_bench.py $(BENCH_ARGS)

setup: $(VENV)/.installed ffmpeg

$(VENV)/.installed: requirements.txt
	@[ -n "$(PYTHON)" ] || { echo "Cutline needs Python 3.12 or newer: install python3.12 (or 'pyenv install 3.12'), or run make PYTHON=/path/to/python3.12" >&2; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

ffmpeg:
	@scripts/ensure-ffmpeg

migrate: setup
	$(PY) manage.py migrate --noinput

clean:
	rm -rf $(VENV) var .pytest_cache
