# Two entry points for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A faster allocator roughly doubles CPU inference speed; used when Debian's libtcmalloc-minimal4 is installed.
TCMALLOC := $(wildcard /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4)
RUN_ENV := $(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC),MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000)

.PHONY: setup node-deps run test test-py test-js test-fast test-py-fast train train-reader evaluate bench loadtest system-deps clean extension

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

# Mozilla's web-ext (lints the Firefox package) and puppeteer-core (drives firefox-esr over WebDriver
# BiDi), pinned by package-lock.json. --ignore-scripts: nothing runs, and no browser is downloaded.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

node-deps: node_modules/.installed

# The `anti-aging` command (pip install -e . above) sets up its allocator and threads itself.
run: setup
	$(VENV)/bin/anti-aging serve $(ARGS)

test: test-py test-js

test-py: setup node-deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-js:
	node --test tests/extension/

# The unit tests, in under a minute: leaves out the browser tests, those that start a server process and
# the slow ones (the install test, font subsetting, the fuzzer), which `make test` runs. OMP_WAIT_POLICY=PASSIVE:
# spinning OpenMP threads made the data-loader tests 5-20x slower while anything else used a core.
test-fast: test-py-fast test-js

test-py-fast: setup
	OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -m "not browser and not starts_server and not slow" $(PYTEST_ARGS)

# The shipped checkpoint's recipe. OMP_WAIT_POLICY=PASSIVE: spinning OpenMP threads lose badly when
# anything else wants the 2 cores (measured 4x slower steps while a browser test ran).
train: setup
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train --out runs/nafunet \
		--export models/checkpoints/nafunet.pt $(ARGS)

# Sharpening (PSNR, SSIM, Tesseract CER), then reading (the reader's text CER beside sharpen-then-Tesseract).
# The reader (/v1/read): blurred lines, warm-started from the recogniser (itself
# `python -m models.training.train_recognizer`, 29 min on 1 thread). A data worker renders lines
# while the trainer computes.
train-reader: setup
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from models/checkpoints/recognizer.pt --workers 1 --precision bf16 --batch-size 32 \
		--lr 1e-3 --warmup 300 --steps 18000 --out runs/reader --export models/checkpoints/reader.pt $(ARGS)
	$(RUN_ENV) $(PY) -m models.training.calibrate_reader models/checkpoints/reader.pt --target 0.002

evaluate: setup
	$(RUN_ENV) $(PY) -m models.evaluation.evaluate $(ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.evaluate --devset models/docset --out docs/eval/documents $(ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.read_eval $(READ_ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.read_eval --devset models/docset --out docs/eval/documents $(READ_ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.evaluate --devset models/pixset --out docs/eval/pixset --models nafunet $(ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.read_eval --devset models/pixset --out docs/eval/pixset $(READ_ARGS)

bench: setup
	$(RUN_ENV) $(PY) -m models.evaluation.bench
	$(PY) -m server.bench

loadtest: setup
	$(PY) -m server.loadtest $(ARGS)

# The store packages: out/anti-aging-extension-<manifest version>.zip (Chrome) and
# out/anti-aging-extension-firefox-<manifest version>.zip (Firefox).
extension:
	$(PYTHON) extension/pack.py

# Debian packages the tests and the data generator need (run as root).
system-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		chromium chromium-driver chromium-l10n firefox-esr tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor \
		tesseract-ocr-chi-sim tesseract-ocr-jpn fonts-dejavu-core fonts-liberation2 \
		fonts-noto-core fonts-noto-cjk libtcmalloc-minimal4

clean:
	rm -rf $(VENV) .pytest_cache node_modules
