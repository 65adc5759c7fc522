# Every target that runs code first builds .venv from pyproject.toml, so a fresh machine needs
# only `make demo` or `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
EXTRAS ?= serving,training,infra,dev
MODELS ?= artifacts/models

export PYTHONDONTWRITEBYTECODE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: install demo test bench-train train train-lstm clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(INSTALLED)

## make demo: train the default model if no bundle exists, publish it locally, print its card
demo: install
	$(PY) -m model_build.demo --models $(MODELS)

## make test: the whole suite (what .ci/run runs)
test: install
	$(PY) -m pytest

## make train: the default (bow) model from the shared tarball into $(MODELS)
train: install
	$(PY) -m model_build.train --arch bow --out $(MODELS)

train-lstm: install
	$(PY) -m model_build.train --arch lstm --out $(MODELS)

## make bench-train: train bow (and lstm with ARCHS="bow lstm"), print accuracy, time, memory, sizes
ARCHS ?= bow
bench-train: install
	$(PY) -m model_build.bench_train --archs $(ARCHS)

clean:
	rm -rf $(VENV) artifacts cdk.out .pytest_cache
