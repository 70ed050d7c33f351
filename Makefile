# One command each: `make run` and `make test` set everything up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run run-https test test-fast fuzz lint bench clean

$(STAMP): pyproject.toml setup.py sync/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]' -e ./sync
	touch $(STAMP)

install: $(STAMP)

# The dev server's process runs the scheduled jobs (expiry, reminders, webhooks, backups).
run: $(STAMP)
	$(BIN)/fieldobs init-db
	$(BIN)/fieldobs demo --if-empty
	FIELDOBS_SCHEDULER_ENABLED=$${FIELDOBS_SCHEDULER_ENABLED:-1} \
	$(BIN)/fieldobs run --host $${HOST:-127.0.0.1} --port $${PORT:-5000}

# The field app needs HTTPS on a phone: a self-signed certificate for a trial on a local network
# (TLS_IP=192.168.1.20 adds the machine's address to it). See README, "The field app".
TLS_DIR := var/tls
run-https: $(STAMP)
	$(BIN)/fieldobs init-db
	$(BIN)/fieldobs demo --if-empty
	test -f $(TLS_DIR)/cert.pem || { mkdir -p $(TLS_DIR) && openssl req -x509 -newkey rsa:2048 \
	  -nodes -days 30 -keyout $(TLS_DIR)/key.pem -out $(TLS_DIR)/cert.pem \
	  -subj "/CN=fieldobs trial" \
	  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1$${TLS_IP:+,IP:$$TLS_IP}"; }
	$(BIN)/fieldobs run --host $${HOST:-0.0.0.0} --port $${PORT:-5443} \
	  --cert $(TLS_DIR)/cert.pem --key $(TLS_DIR)/key.pem

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture

# One pytest worker per core (TEST_WORKERS=0 runs them in this process, one after another).
TEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal

test: lint
	$(PYTEST)

# The edit loop: lint, then every test but those marked slow (real servers, browsers).
test-fast: lint
	$(PYTEST) -m "not slow"

# schemathesis at length against the served OpenAPI document (`make test` runs a short pass).
fuzz: $(STAMP)
	FIELDOBS_FUZZ_EXAMPLES=$${FIELDOBS_FUZZ_EXAMPLES:-200} $(BIN)/pytest -q tests/api/test_schema_fuzzing.py

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/photos.py
	$(BIN)/python bench/scores.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/field_app.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
