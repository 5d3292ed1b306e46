# QDT: `make run` opens the app on the sample project; `make test` runs the whole test suite headless.
# Both set everything up first: system packages (apt-get, as root), .venv, the project and its deps.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# empty: the app opens the user's own copy of the sample (made on the first start), never the tracked files
PROJECT ?=
# `make run DEMO_FEED=1`: also start a loopback MQTT broker with the demo facility feed (qdt.live.demo)
DEMO_FEED ?=
DEMO_PORT ?= 18830

.PHONY: run test setup sysdeps lint bench-scene clean

setup: sysdeps $(VENV)/.qdt-installed node_modules/.qdt-installed

sysdeps:
	@bash tools/system_deps.sh

$(VENV)/.qdt-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# Node tools the tests use (the Khronos glTF validator), pinned by package-lock.json.
node_modules/.qdt-installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

run: setup
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
	  echo "No display: cannot open the QDT window here. Render headless with: $(VENV)/bin/qdt snapshot $(or $(PROJECT),sample_data/qingdao_shinan.qdt) --out view.png"; \
	  exit 1; \
	fi
	@if [ -n "$(DEMO_FEED)" ]; then \
	  echo "Demo IoT feed: Mosquitto and a demo publisher on 127.0.0.1:$(DEMO_PORT) (QDT connects by itself)"; \
	  $(PY) -m qdt.live.demo $(PROJECT) --with-broker $(DEMO_PORT) & demo=$$!; \
	  QDT_LIVE_BROKER=mqtt://127.0.0.1:$(DEMO_PORT) $(PY) main.py $(PROJECT); status=$$?; \
	  kill $$demo 2>/dev/null; wait $$demo 2>/dev/null; exit $$status; \
	fi
	$(PY) main.py $(PROJECT)

# The tests start Xvfb themselves when there is no display (Qt's offscreen platform cannot host the VTK widget).
test: setup
	QDT_REQUIRE_POSTGIS=1 $(PY) -m pytest
	$(VENV)/bin/lint-imports

lint: setup
	$(VENV)/bin/ruff check qdt main.py tests tools

bench-scene: setup
	$(PY) -m qdt.bench scene --json

clean:
	rm -rf $(VENV) .pytest_cache
