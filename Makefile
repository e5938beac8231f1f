# Two commands do all set-up on a fresh machine:
#   make book   create .venv on first use, execute every notebook with papermill, build _build/html
#   make test   unit + property tests, notebook/expected sync check, the notebooks' checked outputs
#               (against a fresh `make book`'s executions, else executed by nbval)
# make expected  re-execute the notebooks into notebooks/*.ipynb (the committed expected outputs)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tests run on two workers (pytest-xdist), a test module (or class) per worker at a time: its module-level
# fixtures (the browser's server, the built book) are set up once. Scopes go out in collection order,
# where tests/conftest.py puts the slow ones first.  PARALLEL= runs them in one process.
PARALLEL ?= -n 2 --dist loadscope --no-loadscope-reorder
# Python caches the bytecode of what it imports, once, in .venv (compiling every installed package
# up front took 8 s; with the machine's PYTHONDONTWRITEBYTECODE each of a build's ~15 Python
# processes would compile its imports again).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: book test expected env clean lock

env: $(STAMP)

# The environment has no pip of its own (creating one with pip took 2.7 s of a 6 s set-up): the
# machine's pip (>= 22.3, for --python) installs uv (pinned) into it, and uv the locked requirements,
# each checked against the lock's sha256 hashes, then this package itself (editable, no dependencies:
# an editable install has no hash). Without uv (the pinned version not installable), pip does the
# same, slower, and says so.
UV_VERSION := 0.13.9
PIP := $(PYTHON) -m pip --python $(BIN)/python --disable-pip-version-check
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PIP) install --quiet "uv==$(UV_VERSION)" || echo "make: uv $(UV_VERSION) not installable; installing with pip"
	if [ -x $(BIN)/uv ]; then \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock && \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . ; \
	else \
	  $(PIP) install --quiet --require-hashes -r requirements.lock && \
	  $(PIP) install --quiet --no-deps -e . ; \
	fi
	touch $@

book: $(STAMP)
	$(BIN)/python scripts/notebooks.py book

# The notebooks' checked outputs: compared on the executions of a fresh `make book` (same inputs)
# when there is one, else executed here by nbval.
# (`notebooks.py check` exits 3 when there is no fresh build.)
test: $(STAMP)
	status=0; $(BIN)/python scripts/notebooks.py check || status=$$?; \
	if [ $$status = 0 ]; then \
	  $(BIN)/python -m pytest tests nvlmodel --doctest-modules -p no:cacheprovider $(PARALLEL); \
	elif [ $$status = 3 ]; then \
	  $(BIN)/python -m pytest tests nvlmodel notebooks --doctest-modules --nbval-lax --nbval-current-env \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(PARALLEL); \
	else \
	  exit $$status; \
	fi

expected: $(STAMP)
	$(BIN)/python scripts/notebooks.py expected

# Regenerate requirements.lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra book --extra test --universal --python-version 3.11 \
	  --generate-hashes -o requirements.lock

clean:
	rm -rf _build _extra
