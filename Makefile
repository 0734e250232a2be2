# spine-auth — two commands for a fresh clone:
#   make run    install everything, start the sandbox EHR (FHIR + SMART authorization server) and the app
#   make test   install everything, run the linters and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FHIR_SERVER := sandbox/fhir-server
ASSETS := assets
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test install python-deps node-deps browser services lint typecheck imports pytest bench bench-load clean hapi-jar java

run: install fhir-validator
	$(BIN)/smart-app sandbox

test: install browser services hapi-jar lint pytest

install: python-deps node-deps

python-deps: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

node-deps: $(FHIR_SERVER)/node_modules/.installed $(ASSETS)/node_modules/.installed
$(FHIR_SERVER)/node_modules/.installed: $(FHIR_SERVER)/package-lock.json
	npm ci --prefix $(FHIR_SERVER) --no-audit --no-fund --loglevel=error
	touch $@

# Browser libraries served same-origin (Chart.js for the clinical summary's pain chart).
$(ASSETS)/node_modules/.installed: $(ASSETS)/package-lock.json
	npm ci --prefix $(ASSETS) --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (installed only when missing).
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi

# Debian's PostgreSQL and Redis for the store and scale tests (installed only when missing; the tests start
# throwaway servers themselves and fail, never skip, without them).
services:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then \
		echo "installing Debian's postgresql and redis-server for the store and scale tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			postgresql redis-server >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest

bench: install
	$(BIN)/python scripts/bench_fetch.py
	$(BIN)/python scripts/bench_check.py
	$(BIN)/python scripts/bench_worklist.py

# The load benchmark of issue 13 (minutes; not part of `make test`): launch → check → save by 50 and 200 clinicians.
bench-load: install services
	$(BIN)/python scripts/bench_load.py

clean:
	rm -rf $(VENV) $(FHIR_SERVER)/node_modules $(ASSETS)/node_modules .pytest_cache .mypy_cache .ruff_cache

# --- prior-auth packet (issue 10): HAPI FHIR's validator, built once (stamp: the jar) ---------------------------
VALIDATOR := tools/fhir-validator
.PHONY: fhir-validator
fhir-validator: $(VALIDATOR)/target/fhir-validator.jar
$(VALIDATOR)/target/fhir-validator.jar: $(VALIDATOR)/pom.xml $(wildcard $(VALIDATOR)/src/main/java/spineauth/validator/*.java)
	@$(MAKE) --no-print-directory java
	mvn -q -B -f $(VALIDATOR)/pom.xml package -DskipTests
pytest: fhir-validator

# The HAPI FHIR sandbox (sandbox/hapi-server): built once into its jar (the jar is the stamp; it is rebuilt only when
# the pom or a source changes). Maven caches its downloads in ~/.m2 between runs. Java 17 and Maven from Debian.
HAPI_SERVER := sandbox/hapi-server
HAPI_JAR := $(HAPI_SERVER)/target/hapi-sandbox.jar
hapi-jar: $(HAPI_JAR)
$(HAPI_JAR): $(HAPI_SERVER)/pom.xml $(shell find $(HAPI_SERVER)/src -type f 2>/dev/null)
	@$(MAKE) --no-print-directory java
	mvn -B -q -f $(HAPI_SERVER)/pom.xml package

java:
	@if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then \
		echo "installing Debian's Java 17 and Maven for the HAPI sandbox"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null; \
	fi
