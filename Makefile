# Quick start: `make demo` runs the main job on the bundled example; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Framework round trips (tests/interop): one venv per nir pin set, each with the CPU build of torch.
INTEROP_ENVS := snntorch-norse sinabs
INTEROP_STAMPS := $(INTEROP_ENVS:%=.venv-%/.installed)

.PHONY: demo test install interop clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

.venv-%/.installed: tests/interop/requirements/%.txt
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet -r $<
	touch $@

interop: $(INTEROP_STAMPS)

demo: $(STAMP)
	$(BIN)/codesign example digits -o build/digits
	rm -rf build/dse
	$(BIN)/codesign dse build/digits/digits.nir --input build/digits/digits_test.npz --budget luts=50k -o build/dse

# CODESIGN_INTEROP_REQUIRED turns a missing framework venv into a failure instead of a skip.
test: $(STAMP) $(INTEROP_STAMPS)
	CODESIGN_INTEROP_REQUIRED=1 $(BIN)/python -m pytest -n 2 --dist loadgroup

clean:
	rm -rf build $(VENV) $(INTEROP_ENVS:%=.venv-%)
