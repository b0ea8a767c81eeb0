# Entry points; each does its own set-up (creates .venv/ and installs the package into it).
#   make run    the FSDD recipe end to end (prepare, train, evaluate, align, compare losses)
#   make test   lint and the test suite (TEST_JOBS pytest workers, pytest-xdist; default 2)
#   make loso   FSDD leave-one-speaker-out: TDNNs (pretrained on Arabic Speech Commands when it is
#               there), DTW 1-NN and their ensemble per held-out speaker
#   make asc    the Arabic Speech Commands recipe (40 words, official split) end to end
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FSDD ?= $(firstword $(wildcard ../shared/data/fsdd))
ASC ?= $(firstword $(wildcard ../shared/data/arabic_speech_commands))
TEST_JOBS ?= 2

.PHONY: run loso asc test install bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	@touch $(STAMP)

run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash recipes/fsdd/run.sh $(if $(FSDD),--data-dir $(FSDD),)

loso: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash recipes/fsdd/loso.sh $(if $(FSDD),--data-dir $(FSDD),) \
	  $(if $(ASC),--pretrain-data $(ASC),)

asc: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash recipes/arabic_speech_commands/run.sh $(if $(ASC),--data-dir $(ASC),)

test: $(STAMP)
	$(BIN)/ruff check asr tests benchmarks
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist worksteal

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_dtw.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
