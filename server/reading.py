"""Reading text out of images for POST /v1/read and `anti-aging read`: the reader pipeline
(``models.reading.pipeline.Reader``) loaded once, shared by every request, on its own worker.

Reads do not go through the sharpening engine's worker. A read is mostly Python (line finding in
NumPy, CTC beam search and alignment per line) around a small network, and it cannot be cut into
tiles that batch with sharpen's; queued behind or among sharpen tiles, each read would hold every
sharpen request for its whole decode. So reads get one worker thread of their own: at most one
read runs at a time, beside the sharpen worker rather than in its queue, and reads queue among
themselves with the same bound and time limit as sharpen (QueueFull / RequestTimeout -> 503).

The reader checkpoint is optional: without one the server still sharpens and /v1/read answers
503 ``reader_unavailable`` saying how to get one. Beside the reader, an SVTR-LCNet checkpoint (the
pretrained recogniser fine-tuned on our lines) reads every line the reader does not read as Korean:
--svtr or $ANTI_AGING_SVTR names one ("none": the reader reads every line); otherwise the shipped
svtr_reader.pt goes with the shipped reader.pt, and a reader named by path reads alone. Likewise a
Korean SVTR (an SVTR whose head has Hangul) reads each line the reader routes as Korean that it is
surer of than the reader: --korean-svtr or $ANTI_AGING_KOREAN_SVTR ("none": the reader reads them), else the shipped
svtr_korean.pt beside the shipped reader. They are loaded once, on first use or at
``load()`` (serve calls it at start); a missing file is looked for again on the next request,
so a checkpoint dropped in place later is picked up without a restart.

Lines are found by the learned line detector (``models.reading.line_detector``) when one is named
(--detector or $ANTI_AGING_DETECTOR) or shipped as models/checkpoints/line_detector.pt, and by the
rule-based ``find_lines`` otherwise or with "none".
"""
import os
import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import numpy as np

from models import CheckpointError, default_checkpoint

from .errors import QueueFull, ReaderUnavailable, RequestTimeout, ServerError, ShuttingDown

READER_ENV = "ANTI_AGING_READER"
SVTR_ENV = "ANTI_AGING_SVTR"
KOREAN_SVTR_ENV = "ANTI_AGING_KOREAN_SVTR"
DETECTOR_ENV = "ANTI_AGING_DETECTOR"
NO_SVTR = NO_DETECTOR = "none"
DEFAULT_QUEUE_SIZE = 64  # images waiting at most, as the engine's default
HOW_TO_GET_A_READER = ("pass --reader PATH, set $ANTI_AGING_READER, or train one "
                       "(python -m models.training.train_recognizer --task reader)")


# models.reading.recognizer.DEFAULT_READER, named without importing models.reading: its import costs
# seconds (SciPy, the word lists) that a server that only sharpens should not pay at start.
DEFAULT_READER = default_checkpoint("reader")
DEFAULT_SVTR = default_checkpoint("svtr_reader")  # models.reading.line_networks.DEFAULT_SVTR
DEFAULT_KOREAN_SVTR = default_checkpoint("svtr_korean")  # models.reading.line_networks.DEFAULT_KOREAN_SVTR
DEFAULT_DETECTOR = default_checkpoint("line_detector")  # models.reading.line_detector.DEFAULT_DETECTOR


def resolve_reader(path=None):
    """--reader wins, then $ANTI_AGING_READER, then the shipped models/checkpoints/reader.pt."""
    return str(path or os.environ.get(READER_ENV) or DEFAULT_READER)


def _beside_the_shipped_reader(path, environment, shipped, reader):
    """``path`` wins, then ``$environment`` ("none" for neither); else ``shipped`` when the reader is
    the shipped reader.pt and the file is there (they were measured together)."""
    named = path or os.environ.get(environment)
    if named:
        return None if named == NO_SVTR else str(named)
    shipped_pair = reader is not None and Path(reader).resolve() == DEFAULT_READER.resolve()
    return str(shipped) if shipped_pair and shipped.is_file() else None


def resolve_svtr(path=None, reader=None):
    """--svtr, $ANTI_AGING_SVTR, or the shipped svtr_reader.pt beside the shipped reader."""
    return _beside_the_shipped_reader(path, SVTR_ENV, DEFAULT_SVTR, reader)


def resolve_korean_svtr(path=None, reader=None):
    """--korean-svtr, $ANTI_AGING_KOREAN_SVTR, or the shipped svtr_korean.pt beside the shipped reader."""
    return _beside_the_shipped_reader(path, KOREAN_SVTR_ENV, DEFAULT_KOREAN_SVTR, reader)


def resolve_detector(path=None):
    """--detector wins, then $ANTI_AGING_DETECTOR ("none": find_lines); else the shipped
    line_detector.pt when it is there, else None (find_lines)."""
    named = path or os.environ.get(DETECTOR_ENV)
    if named:
        return None if named == NO_DETECTOR else str(named)
    return str(DEFAULT_DETECTOR) if DEFAULT_DETECTOR.is_file() else None


def reader_pixels(rgb, alpha=None):
    """A decoded image (float (H, W, 3) in [0, 1], optional uint8 alpha) as the reader takes it:
    uint8 (H, W, 3). Consumes ``rgb`` (computed in place). Transparent pixels are laid on a
    background that contrasts with the visible ink, white under dark text and black under light:
    the colour hidden under full transparency is often the text's own, which would hide the text."""
    if alpha is not None and alpha.min() < 255:
        weight = alpha.astype(np.float32)[..., None] / 255
        luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        visible_luma = float((luma * weight[..., 0]).sum() / max(float(weight.sum()), 1.0))
        background = 1.0 if visible_luma < 0.5 else 0.0
        rgb *= weight
        rgb += background * (1 - weight)
    rgb *= 255
    rgb += 0.5
    np.clip(rgb, 0, 255, out=rgb)
    return rgb.astype(np.uint8)


def read_with_line_colours(reader, image, sigma=None):
    """``reader.read(image, sigma).as_dict()`` with each line's ink and background colours and its
    blur measured from the pixels, and in a blind read its box less the measured blur's spread
    (models.reading.line_colours): what /v1/read and `anti-aging read --json` answer."""
    from models.reading.line_colours import measure_lines

    reading = reader.read(image, sigma)
    answer = reading.as_dict()
    found = [line.found for line in reading.lines]
    return {**answer, "lines": measure_lines(image, answer["lines"], sigma, None if None in found else found)}


class ReadService:
    """One reader for the whole process. ``checkpoint`` (with ``svtr``, ``korean_svtr`` and the line
    ``detector`` beside it, if given) is loaded on first use; ``reader`` (a built Reader, e.g. a test's) is
    used as it is."""

    def __init__(self, checkpoint=None, reader=None, device="cpu", queue_size=DEFAULT_QUEUE_SIZE, svtr=None,
                 detector=None, korean_svtr=None):
        self.checkpoint = str(checkpoint) if checkpoint else None
        self.svtr = str(svtr) if svtr else None
        self.korean_svtr = str(korean_svtr) if korean_svtr else None
        self.detector = str(detector) if detector else None
        self.device = device
        self.queue_size = queue_size
        self._reader = reader
        self._load_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._active = 0  # images queued or being read
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anti-aging-reader")

    @property
    def loaded(self):
        return self._reader is not None

    @property
    def available(self):
        """Whether /v1/read can answer: a reader is loaded or its checkpoint file is there."""
        return self.loaded or bool(self.checkpoint and Path(self.checkpoint).is_file())

    def describe(self):
        return {"checkpoint": self.checkpoint, "svtr": self.svtr, "korean_svtr": self.korean_svtr,
                "detector": self.detector, "loaded": self.loaded, "available": self.available}

    def load(self):
        """The shared Reader, built on the first call; ReaderUnavailable when there is none to build."""
        with self._load_lock:
            if self._reader is None:
                self._reader = self._build()
            return self._reader

    def _build(self):
        if not self.checkpoint:
            raise ReaderUnavailable(f"no reader checkpoint is configured; {HOW_TO_GET_A_READER}")
        if not Path(self.checkpoint).is_file():
            raise ReaderUnavailable(f"reading needs a reader checkpoint, and {self.checkpoint} is not there; "
                                    f"{HOW_TO_GET_A_READER}")
        from models.reading.pipeline import Reader

        try:
            return Reader(checkpoint=self.checkpoint, device=self.device, svtr=self.svtr, detector=self.detector,
                          korean_svtr=self.korean_svtr)
        except CheckpointError as exc:
            raise ReaderUnavailable(f"a reading checkpoint cannot be used: {exc}; {HOW_TO_GET_A_READER}") from None

    def warmup(self):
        """Load the reader, the word lists and the network's kernels before the first request."""
        from models.reading.prior import build_word_indexes

        reader = self.load()
        reader.prior("warm up 준비 完了", final=True)
        build_word_indexes()
        image = np.full((40, 160, 3), 255, np.uint8)
        image[14:26, 10:150] = 0  # one dark bar: found as a line, so the network and the decoder run
        reader.read(image)

    def read_many(self, items, timeout=None):
        """Read several (uint8 image, sigma) pairs one after another on the reader's worker ->
        their ``Reading.as_dict()``s, within ``timeout`` seconds for them all."""
        reader = self.load()
        deadline = None if timeout is None else time.monotonic() + timeout
        self._reserve(len(items))
        futures = []
        try:
            for image, sigma in items:
                future = self._executor.submit(self._read_one, reader, image, sigma)
                future.add_done_callback(self._release_one)  # run, failed or cancelled: the slot is free
                futures.append(future)
        except RuntimeError:  # the executor was shut down between the check and the submit
            self._release(len(items) - len(futures))
            for future in futures:
                future.cancel()
            raise ShuttingDown("the server is shutting down; retry when it is back") from None
        try:
            return [self._result(future, deadline, timeout) for future in futures]
        finally:
            for future in futures:
                future.cancel()  # those not started yet, after a failure or a timeout: free their slots

    def read(self, image, sigma=None, timeout=None):
        return self.read_many([(image, sigma)], timeout)[0]

    @staticmethod
    def _read_one(reader, image, sigma):
        return read_with_line_colours(reader, image, sigma)

    def _result(self, future, deadline, timeout):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return future.result(left)
        except FutureTimeout:
            raise RequestTimeout(f"the request took longer than its {timeout:g} s limit") from None
        except CancelledError:
            raise ShuttingDown("the server is shutting down; retry when it is back") from None
        except ServerError:
            raise
        except Exception as exc:
            raise ServerError(f"reading failed: {type(exc).__name__}: {exc}") from exc

    def _reserve(self, count):
        with self._count_lock:
            if self._closed:
                raise ShuttingDown("the server is shutting down; retry when it is back")
            if self._active + count > self.queue_size:
                raise QueueFull(f"the reader is busy ({self._active} images queued, limit {self.queue_size})")
            self._active += count

    def _release(self, count):
        with self._count_lock:
            self._active -= count

    def _release_one(self, future):
        self._release(1)

    @property
    def queued_images(self):
        with self._count_lock:
            return self._active

    def close(self):
        """Stop taking reads; those not started fail with ShuttingDown (503) at once. The read in
        flight, if any, finishes on its own (its thread is not waited for here)."""
        with self._count_lock:
            self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
