# Every target that runs code first builds .venv from pyproject.toml, so a fresh machine needs
# only `make demo` or `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
CHROMEDRIVER := /usr/bin/chromedriver
EXTRAS ?= serving,training,infra,dev
MODELS ?= artifacts/models

export PYTHONDONTWRITEBYTECODE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: install demo lint test bench-train bench-labelled bench-local bench-quality train train-lstm clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(INSTALLED)

## make demo: train the default model if no bundle exists and print its card, then start the local
## cloud, classify over HTTP, run a queued job, upload a file with the AWS CLI, print the results, stop
demo: install
	$(PY) -m model_build.demo --models $(MODELS)
	$(PY) -m infra.local.demo --models $(MODELS)

## make lint: ruff's lint rules and its formatting, as configured in pyproject.toml (.ci/run runs it first)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## make test: the whole suite (what .ci/run runs after make lint)
test: install $(NODE_INSTALLED) $(CHROMEDRIVER)
	$(PY) -m pytest

# Debian's chromium and its driver, for the docs page's browser test (tests/e2e/test_e2e_docs_browser.py);
# installed once, as root or with passwordless sudo. Where neither works, that test fails and says so.
$(CHROMEDRIVER):
	@as_root=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	echo "installing chromium and chromium-driver (apt-get) for the browser test"; \
	{ $$as_root apt-get update -qq && $$as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium chromium-driver; } >/dev/null \
	|| echo "warning: could not install chromium chromium-driver; the browser test will fail" >&2

## make train: the default (bow) model from the shared tarball into $(MODELS)
train: install
	$(PY) -m model_build.train --arch bow --out $(MODELS)

train-lstm: install
	$(PY) -m model_build.train --arch lstm --out $(MODELS)

## make bench-train: train bow (and lstm with ARCHS="bow lstm"), print accuracy, time, memory, sizes,
## and the scikit-learn TF-IDF + logistic regression baseline on the same split
ARCHS ?= bow
bench-train: install
	$(PY) -m benchmarks.bench_train --archs $(ARCHS) --baseline

## make bench-labelled: a task of more than two labels (TASK=imdb-rating-bands or reuters-r8): the served
## int8 model's accuracy and macro-F1 against scikit-learn TF-IDF + logistic regression on the same split
TASK ?= imdb-rating-bands
bench-labelled: install
	$(PY) -m benchmarks.labelled --task $(TASK)

## make bench-local: a bounded load run against the local cloud (loopback); requests/s, p50, p99
CLIENTS ?= 16
REQUESTS ?= 2000
bench-local: install
	$(PY) -m benchmarks.local_cloud --models $(MODELS) --clients $(CLIENTS) --requests $(REQUESTS)

## make bench-quality: how trustworthy the served model's answers are, on sets kept out of training
## (benchmarks/quality_sets: short opinions, negation, contrast, neutral facts, other languages,
## no-evidence strings, out-of-domain short reviews) and on IMDB test reviews and their last sentences
bench-quality: install
	$(PY) -m benchmarks.quality --models $(MODELS)

clean:
	rm -rf $(VENV) artifacts cdk.out .pytest_cache

# -- AWS: the CDK app in infra/ (docs/deploy.md) -------------------------------------------------
CDK := npx --no-install cdk
STAGE ?= dev
ARCH ?= bow

.PHONY: synth deploy train-cloud

# the CDK CLI pinned in package.json / package-lock.json
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_INSTALLED)

## make synth: the CloudFormation templates into cdk.out/, offline (no credentials, no Docker)
synth: install $(NODE_INSTALLED)
	$(CDK) synth --no-notices --quiet -c stage=$(STAGE)

## make deploy: all three stacks of STAGE into the current AWS account and region
deploy: install $(NODE_INSTALLED)
	$(CDK) deploy --all --no-notices -c stage=$(STAGE)

## make train-cloud: submit the GPU training job of STAGE to AWS Batch (ARCH=bow or lstm); DATA=s3://<data
## bucket>/training-data/x.csv trains on a labelled dataset (TEST_DATA, TEXT_COLUMN, LABEL_COLUMN optional;
## TRAIN_ARGS go to model_build.train as they are)
train-cloud: install
	$(PY) -m infra.train_cloud --stage $(STAGE) --arch $(ARCH) $(if $(DATA),--data '$(DATA)') \
		$(if $(TEST_DATA),--test-data '$(TEST_DATA)') $(if $(TEXT_COLUMN),--text-column '$(TEXT_COLUMN)') \
		$(if $(LABEL_COLUMN),--label-column '$(LABEL_COLUMN)') $(if $(TRAIN_ARGS),-- $(TRAIN_ARGS))

## make bench: the serving benchmark (package size, cold start vs its floor, warm latency, throughput vs
## scikit-learn, uploads, int8/fp32/torch)
.PHONY: bench lock
bench: install
	$(PY) -m benchmarks.serving

## make lock: pin the Lambda package's wheels (exact versions and sha256, arm64 and x86_64) into
## infra/serving-lock.json from the serving extra of pyproject.toml; the package build installs only those
lock: install
	$(PY) -m infra.serving_lock
