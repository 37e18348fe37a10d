# Quick start: `make demo` runs the main job on the bundled example; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/codesign example digits -o build/digits
	rm -rf build/dse
	$(BIN)/codesign dse build/digits/digits.nir --input build/digits/digits_test.npz --budget luts=50k -o build/dse

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

clean:
	rm -rf build $(VENV)
