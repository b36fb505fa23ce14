# Two entry points for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A faster allocator roughly doubles CPU inference speed; used when Debian's libtcmalloc-minimal4 is installed.
TCMALLOC := $(wildcard /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4)
# rapidocr's wheel: where PP-OCRv6 small's recogniser comes from (models.training.port_ppocr)
PPOCR_WHEEL := runs/wheels/rapidocr-3.10.0-py3-none-any.whl
RUN_ENV := $(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC),MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000)

.PHONY: setup node-deps run test test-py test-js test-fast test-py-fast train train-reader train-svtr train-svtr-korean train-detector evaluate bench loadtest system-deps clean extension

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

test-py: setup node-deps $(VENV)/.ppocr-port $(PPOCR_WHEEL)
	$(PY) -m pytest $(PYTEST_ARGS)

# onnx and onnxruntime (pyproject's ppocr-port extra): porting PP-OCR's recogniser, and its tests. Not for `make run`.
$(VENV)/.ppocr-port: $(VENV)/.installed
	$(PY) -m pip install -q onnx==1.23.2 onnxruntime==1.31.1
	touch $@

# rapidocr's wheel carries PP-OCRv6 small's ONNX recogniser (Apache-2.0): the SVTR's starting point. Only the
# file is used, read with onnx; rapidocr is never installed. Without PyPI the port's check on it is skipped.
$(PPOCR_WHEEL): | $(VENV)/.installed
	-$(PY) -m pip download -q --no-deps rapidocr==3.10.0 -d runs/wheels

test-js:
	node --test tests/extension/

# The unit tests, in under a minute: leaves out the browser tests, those that start a server process and
# the slow ones (the install test, font subsetting, the fuzzer), which `make test` runs. OMP_WAIT_POLICY=PASSIVE:
# spinning OpenMP threads made the data-loader tests 5-20x slower while anything else used a core.
test-fast: test-py-fast test-js

test-py-fast: setup $(VENV)/.ppocr-port
	OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -m "not browser and not starts_server and not slow" $(PYTEST_ARGS)

# The shipped checkpoint's recipe. OMP_WAIT_POLICY=PASSIVE: spinning OpenMP threads lose badly when
# anything else wants the 2 cores (measured 4x slower steps while a browser test ran).
train: setup
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train --out runs/nafunet \
		--export models/checkpoints/nafunet.pt $(ARGS)

# The reader (/v1/read): blurred lines, warm-started from the recogniser (itself
# `python -m models.training.train_recognizer`, 29 min on 1 thread). A data worker renders lines
# while the trainer computes. Then, as the shipped checkpoint's last stages (sessions 17 and 18), half
# of each batch browser lines of the Chromium layouts' train families, Korean 40 %, located by the
# shipped line detector: 1 500 steps, a warm restart to 2 700, then 2 400 steps more from there (a new
# seed and optimiser) with a tenth of the layout lines boxes the finder finds that hold no text (rules,
# borders), to be read as nothing; two data workers, since one cannot keep up. Stages 9 and 10 (session
# 20): 1 800 steps from there with the table pages beside them and 15 % of each batch cut from
# document-like paragraphs (small type, shown as pictures), then 1 800 more once Korean lines were
# written in eojeol (particles on their words). Stage 11 (session 21): 1 800 more on the layouts'
# version 3, whose Korean prose is in eojeol too (the shipped chain's stages before it read versions 1
# and 2; a run from nothing renders version 4 for all). Stage 12 (session 22): 1 800 more, seed 27.
train-reader: setup
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from models/checkpoints/recognizer.pt --workers 1 --precision bf16 --batch-size 32 \
		--lr 1e-3 --warmup 300 --steps 18000 --out runs/reader $(ARGS)
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 1700 --splits train --out runs/layouts_train
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 500 --splits tune,test --out runs/layouts
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from runs/reader/reader.pt $(READER_LAYOUTS) --lr 2e-4 --workers 1 --steps 1500 --out runs/reader_lay $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--resume runs/reader_lay/last.pt $(READER_LAYOUTS) --lr 2e-4 --workers 1 --steps 2700 --out runs/reader_lay $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from runs/reader_lay/last.pt $(READER_LAYOUTS) --junk-share 0.1 --seed 8 --lr 1.5e-4 --workers 2 \
		--steps 2400 --out runs/reader_s8 $(ARGS)
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 5000 --first 1700 --splits train --families table_ruled \
		--out runs/layouts_tables
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from runs/reader_s8/last.pt $(READER_TABLES_DOCUMENTS) --seed 21 --out runs/reader_doc $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from runs/reader_doc/last.pt $(READER_TABLES_DOCUMENTS) --seed 23 --out runs/reader_eoj $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from runs/reader_eoj/last.pt $(READER_TABLES_DOCUMENTS) --seed 25 --out runs/reader_k3 $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_recognizer --task reader \
		--init-from runs/reader_k3/last.pt $(READER_TABLES_DOCUMENTS) --seed 27 --out runs/reader_s12 --export models/checkpoints/reader.pt $(ARGS)
	$(RUN_ENV) $(PY) -m models.training.calibrate_reader models/checkpoints/reader.pt --target 0.002

READER_LAYOUTS := --locate-with models/checkpoints/line_detector.pt --paragraph-share 0.2 --layouts runs/layouts_train \
	--layout-share 0.5 --korean-weight 0.4 --val-layouts runs/layouts --val-lines 400 --val-layout-lines 400 \
	--warmup 60 --batch-size 32 --threads 1 --precision bf16
# stages 9-12: the table pages beside the layouts, a tenth junk boxes, 15 % document lines, 1 800 steps each
READER_TABLES_DOCUMENTS := $(READER_LAYOUTS) --layouts runs/layouts_train,runs/layouts_tables --junk-share 0.1 \
	--document-share 0.15 --lr 1.5e-4 --workers 2 --steps 1800

# The SVTR (/v1/read's lines without Hangul): PP-OCRv6 small ported, fine-tuned on our blurred lines located by
# the rule finder, then by the shipped line detector (as /v1/read finds them), then with 30 % of each batch
# cut from the Chromium layouts' train families (rendered here as train-detector renders them), calibrated.
# The steps the shipped checkpoint had (see the model card for its history and hours): the layouts stage to
# step 3 600, a warm restart of its cosine to 5 400 (on the 650 pages of ids < 1100), another to 7 200 (on
# the 1 006 pages of ids < 1700); calibrated on 2 400 lines.
train-svtr: setup $(VENV)/.ppocr-port $(PPOCR_WHEEL)
	$(PY) -m models.training.port_ppocr $(PPOCR_WHEEL) --out runs/ppocr/ported.pt
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.finetune_svtr --init-from runs/ppocr/ported.pt \
		--steps 3600 --paragraph-share 0.3 --threads 1 --workers 1 --precision bf16 --out runs/svtr \
		--export runs/svtr/svtr_reader.pt $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.finetune_svtr --init-from runs/svtr/svtr_reader.pt \
		--locate-with models/checkpoints/line_detector.pt --paragraph-share 0.3 --steps 1500 --lr 1e-4 --warmup 50 \
		--threads 1 --workers 1 --precision bf16 --out runs/svtr_det $(ARGS)
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 1100 --splits train --out runs/layouts_train
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 500 --splits tune,test --out runs/layouts
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.finetune_svtr --resume runs/svtr_det/last.pt \
		--locate-with models/checkpoints/line_detector.pt --paragraph-share 0.25 --layouts runs/layouts_train \
		--layout-share 0.3 --val-layouts runs/layouts --steps 3600 --lr 1e-4 --warmup 50 --threads 1 --workers 1 \
		--precision bf16 --out runs/svtr_lay $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.finetune_svtr --resume runs/svtr_lay/last.pt \
		--locate-with models/checkpoints/line_detector.pt --paragraph-share 0.25 --layouts runs/layouts_train \
		--layout-share 0.3 --val-layouts runs/layouts --steps 5400 --lr 1e-4 --warmup 50 --threads 1 --workers 1 \
		--precision bf16 --out runs/svtr_lay $(ARGS)
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 1700 --splits train --out runs/layouts_train
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.finetune_svtr --resume runs/svtr_lay/last.pt \
		--locate-with models/checkpoints/line_detector.pt --paragraph-share 0.25 --layouts runs/layouts_train \
		--layout-share 0.3 --val-layouts runs/layouts --steps 7200 --lr 1e-4 --warmup 50 --threads 1 --workers 1 \
		--precision bf16 --out runs/svtr_lay --export models/checkpoints/svtr_reader.pt $(ARGS)
	$(RUN_ENV) $(PY) -m models.training.calibrate_reader models/checkpoints/svtr_reader.pt --target 0.0015 --lines 2400

# The Korean SVTR (/v1/read's Korean lines, beside the reader: each is read by whichever of the two is
# surer of it): the shipped SVTR with the reader's 1 277 Hangul syllables appended to its head, fine-tuned
# on lines 85 % Korean (a fifth cut from blurred paragraphs, a tenth document-like, 30 % of each batch from
# the Chromium layouts' train families), located by the shipped line detector; calibrated on Korean lines.
# The shipped checkpoint ran these 3 000 steps in two runs, 120 CPU-minutes (the model card says how).
train-svtr-korean: setup
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 1700 --splits train --out runs/layouts_train
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 500 --splits tune,test --out runs/layouts
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.finetune_svtr --init-from models/checkpoints/svtr_reader.pt \
		--add-hangul true --korean-weight 0.85 --locate-with models/checkpoints/line_detector.pt --paragraph-share 0.2 \
		--document-share 0.1 --layouts runs/layouts_train --layout-share 0.3 --val-layouts runs/layouts --steps 3000 \
		--lr 2e-4 --warmup 100 --seed 24 --threads 1 --workers 1 --precision bf16 --out runs/svtr_ko \
		--export models/checkpoints/svtr_korean.pt $(ARGS)
	$(RUN_ENV) $(PY) -m models.training.calibrate_reader models/checkpoints/svtr_korean.pt --korean-weight 1 \
		--target 0.002 --lines 2400

# The line detector (/v1/read's line finding): Chromium renders the layouts' train families (249 pages,
# about 35 min) and 16 tune pages to validate on; 10 000 steps on them; then 401 more train pages (23 min)
# and 4 000 steps more on all 650; then 356 more (10 min) and 4 000 steps more on all 1 006; then 150
# more table pages (3 min; half of them ruled between rows only, cells apart by whitespace) and a new
# stage of 4 000 steps from those weights on all 1 156: the shipped checkpoint's chain (about 4 CPU-hours
# of training, in the model card). The first three stages' tables were all ruled in full when the shipped
# chain ran them (layouts version 1) and its Korean pages were nouns spaced apart; a run from nothing now
# renders version 4's: tables half ruled between rows, Korean prose in eojeol, dividers (solid, dashed,
# dotted) in articles, cards and price lists. The last stage (session 22, 39 min) trained from those
# weights on version 4's train pages (version 3's table pages: that family did not change).
train-detector: setup
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 330 --splits train --out runs/layouts_train
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 500 --splits tune,test --out runs/layouts
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_detector --layouts runs/layouts_train \
		--val-layouts runs/layouts --steps 10000 --faint-share 0.15 --crop-share 0.3 --out runs/detector $(ARGS)
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 1100 --splits train --out runs/layouts_train
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_detector --resume runs/detector/last.pt \
		--layouts runs/layouts_train --val-layouts runs/layouts --steps 14000 --lr 1e-3 --faint-share 0.15 \
		--crop-share 0.3 --out runs/detector $(ARGS)
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 1700 --splits train --out runs/layouts_train
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_detector --resume runs/detector/last.pt \
		--layouts runs/layouts_train --val-layouts runs/layouts --steps 18000 --lr 1e-3 --faint-share 0.15 \
		--crop-share 0.3 --out runs/detector --export models/checkpoints/line_detector.pt $(ARGS)
	$(RUN_ENV) $(PY) -m models.data.chromium_layouts --pages 5000 --first 1700 --splits train --families table_ruled \
		--out runs/layouts_tables
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_detector --init-from models/checkpoints/line_detector.pt \
		--layouts runs/layouts_train,runs/layouts_tables --val-layouts runs/layouts --steps 4000 --lr 2e-4 --warmup 100 \
		--faint-share 0.15 --crop-share 0.3 --seed 19 --out runs/detector3 $(ARGS)
	OMP_WAIT_POLICY=PASSIVE $(RUN_ENV) $(PY) -m models.training.train_detector --init-from runs/detector3/last.pt \
		--layouts runs/layouts_train,runs/layouts_tables --val-layouts runs/layouts --steps 4000 --lr 2e-4 --warmup 100 \
		--faint-share 0.15 --crop-share 0.3 --seed 33 --out runs/detector4 --export models/checkpoints/line_detector.pt $(ARGS)

# Sharpening (PSNR, SSIM, Tesseract CER), then reading (the reader's text CER beside sharpen-then-Tesseract).
# The layouts' measures read runs/layouts: the training recipes render its tune pages (which validate)
# and its test pages (which only these report) together, as one folder holds one set of splits.
evaluate: setup
	$(RUN_ENV) $(PY) -m models.evaluation.evaluate $(ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.evaluate --devset models/docset --out docs/eval/documents $(ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.read_eval $(READ_ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.read_eval --devset models/docset --out docs/eval/documents $(READ_ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.evaluate --devset models/pixset --out docs/eval/pixset --models nafunet $(ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.read_eval --devset models/pixset --out docs/eval/pixset $(READ_ARGS)
	$(RUN_ENV) $(PY) -m models.evaluation.line_eval --detector models/checkpoints/line_detector.pt --rules-too \
		--out docs/eval/lines_detector
	$(RUN_ENV) $(PY) -m models.evaluation.layout_reading --out docs/eval/layouts_reading

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
