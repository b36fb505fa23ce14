"""The inference engine: one model, loaded once, shared by every request thread.

Requests are cut into tiles (see tiling.py) and queued; one worker thread runs the model,
stacking queued tiles of the same shape into one batch, so concurrent requests share forward
passes. The queue is bounded (QueueFull -> 503) and each call has a time limit
(RequestTimeout -> 503). Per-call state lives in ``_Job`` objects, never on the engine.

Memory: each tile is read from the unpadded image when its batch runs, and its output is
blended into the job's result at once, so beyond the input and the result a request holds
only the tiles of the batch in flight, however large the image.

Sigma range: the model was trained on blur up to ``trained_max_sigma`` (read from the
checkpoint's training config, else DEFAULT_TRAINED_MAX_SIGMA). A larger sigma, up to
SCALE_SPACE_FACTOR times that, is restored in scale space: the image is downscaled until its
blur is half the trained maximum (where the shipped model restores best: measured, see
docs/server.md), restored, and upscaled back. Above that, SigmaOutOfRange (422): told a sigma
it never saw, the model invents patterns instead of restoring anything.
"""
import functools
import logging
import math
import os
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models import load_checkpoint, read_checkpoint
from models.nets.common import PRECISIONS, resolve_precision

from .errors import BadSigma, QueueFull, RequestTimeout, ServerError, ShuttingDown, SigmaOutOfRange
from .tiling import accumulate_window, context_margin, plan_tiles, window_pixels

# SynthConfig.max_sigma of the shipped checkpoints, which predate saving it (device px).
DEFAULT_TRAINED_MAX_SIGMA = 8.0
SCALE_SPACE_FACTOR = 4  # the largest sigma served, in trained maxima: beyond it no gain was measured
SCALE_SPACE_TARGET = 0.5  # the blur the downscaled image gets, in trained maxima
MAX_SIGMA = DEFAULT_TRAINED_MAX_SIGMA * SCALE_SPACE_FACTOR
CLOSE_TIMEOUT = 10.0  # seconds close() waits for the batch in flight


def resolve_device(device="auto"):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ServerError("--device cuda was asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ServerError(f"unknown device {device!r}; use auto, cpu or cuda")
    return device


def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def validate_sigma(sigma, max_sigma=MAX_SIGMA):
    """None (blind) or a finite float in [0, max_sigma]; BadSigma when it is not a number >= 0,
    SigmaOutOfRange when it is one above ``max_sigma``."""
    if sigma is None:
        return None
    if isinstance(sigma, bool):
        raise BadSigma("sigma must be a number or null (blind)")
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise BadSigma(f"sigma must be a number >= 0 or absent (blind), got {sigma!r}") from None
    if not math.isfinite(value) or value < 0:
        raise BadSigma(f"sigma must be a finite number >= 0, got {sigma!r}")
    if value > max_sigma:
        raise SigmaOutOfRange(f"sigma {value:g} is beyond what this model restores: the maximum is {max_sigma:g} "
                              f"image pixels", max_sigma=max_sigma)
    return value


def trained_max_sigma(payload):
    """The largest blur sigma a checkpoint's model saw in training (its SynthConfig.max_sigma)."""
    train = (payload.get("extra") or {}).get("train") or {}
    return float((train.get("synth_overrides") or {}).get("max_sigma", DEFAULT_TRAINED_MAX_SIGMA))


def sigma_range(trained_max):
    return {"trained_max": trained_max, "max": trained_max * SCALE_SPACE_FACTOR}


@functools.lru_cache(maxsize=16)
def _checkpoint_sigma_range(path, mtime):
    return sigma_range(trained_max_sigma(read_checkpoint(path)))


def checkpoint_sigma_range(path):
    """sigma_range() of a checkpoint file (cached while the file is unchanged)."""
    path = Path(path)
    return _checkpoint_sigma_range(path, path.stat().st_mtime_ns)


def resize(rgb, height, width):
    """Float (H, W, 3) to (height, width, 3): antialiased bilinear down, bicubic up."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
    down = height * width < rgb.shape[0] * rgb.shape[1]
    y = F.interpolate(x, size=(height, width), mode="bilinear" if down else "bicubic", align_corners=False,
                      antialias=down)
    return y[0].permute(1, 2, 0).numpy()


class _Job:
    """One image in flight: its (unpadded) pixels, tile plan, and the blended result as tiles finish."""

    def __init__(self, rgb, sigma, plan, output_size=None):
        self.rgb = rgb
        self.plan = plan
        self.sigma = sigma  # what the model is told: in the downscaled image's pixels in scale space
        self.output_size = output_size  # (H, W) to upscale the result to, in scale space; else None
        self.total = np.zeros((plan.height, plan.width, 3), np.float32)
        self.remaining = len(plan.windows)
        self.done = threading.Event()
        self.error = None

    def add(self, window, output):
        accumulate_window(self.plan, window, output, self.total)
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()

    def result(self):
        if self.output_size is None:
            return self.total
        return resize(self.total, *self.output_size)


class _Tile:
    __slots__ = ("job", "window")

    def __init__(self, job, window):
        self.job, self.window = job, window

    @property
    def shape(self):
        r0, r1, c0, c1 = self.window
        return r1 - r0, c1 - c0


class Engine:
    """Owns ``model`` from here on (it is moved to the device and memory format in place)."""

    def __init__(self, model, *, name=None, checkpoint=None, device="cpu", precision="fp32",
                 channels_last=True, tile=None, window_pixels=None, max_batch=8, max_batch_pixels=None,
                 queue_size=64, min_margin=16, blind_margin=32, trained_max_sigma=DEFAULT_TRAINED_MAX_SIGMA,
                 release_memory=None, release_interval=1.0):
        if precision not in PRECISIONS:
            raise ServerError(f"unknown precision {precision!r}; use {' or '.join(PRECISIONS)}")
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.name = name or getattr(getattr(model, "config", None), "name", type(model).__name__)
        self.checkpoint = str(checkpoint) if checkpoint else None
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format).eval()
        self.multiple = getattr(model, "size_multiple", 16)
        # Windows of up to tile x tile pixels. On CPU a 1024x1024 capture then runs as one window, whatever
        # its sigma up to 16: every split adds overlap and context, and computed pixels cost the same
        # whatever the window (CPU time at 1024x1024 sigma 2 / blind, shipped model, interleaved runs on
        # the busy 2 cores: one 1056 px window 974-1032 / 897-934 ms, two 1056x560 1052-1120 / 975-1093,
        # four 560 px 1052-1173 / 1161-1258). The price is memory: one forward pass over a 1120 px window
        # adds 360 MiB at its peak, a 768 px one 152 MiB. GPUs take few large windows.
        self.tile = tile or (2048 if self.device == "cuda" else 1120)
        # The most pixels one window holds (its shape is planned to compute the fewest pixels in all).
        self.window_pixels = window_pixels or self.tile ** 2
        self.max_batch = max_batch
        # Batches of small captures save per-call overhead; on CPU, batching large windows gains no
        # speed and multiplies the network's activations (measured: a 3000x3000 request peaked at
        # 1172 MiB with 2 MP batches, 689 MiB with one 768 px window at a time).
        self.max_batch_pixels = max_batch_pixels or (8 * 2**20 if self.device == "cuda" else self.tile ** 2)
        self.queue_size = queue_size
        self.min_margin = min_margin
        self.blind_margin = blind_margin
        self.sigma_range = sigma_range(trained_max_sigma)
        # Called once the queue has stayed empty for release_interval seconds after work (see runtime.py).
        # Not as soon as it runs empty: back-to-back requests would each fault their memory in again
        # (measured at 1024x1024 through HTTP on the busy 2 cores: 1650 ms a request against 1038).
        self.release_memory = release_memory
        self.release_interval = release_interval
        self._release_at = None  # when to release, once idle (the worker's own state)
        self._pending = deque()
        self._active_jobs = 0
        self._cond = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="anti-aging-engine", daemon=True)
        self._worker.start()

    @classmethod
    def from_checkpoint(cls, path, device="auto", **options):
        device = resolve_device(device)
        model = load_checkpoint(path, device=device)
        options.setdefault("trained_max_sigma", trained_max_sigma(read_checkpoint(path)))
        return cls(model, name=model.config.name, checkpoint=Path(path), device=device, **options)

    @property
    def max_sigma(self):
        return self.sigma_range["max"]

    def describe(self):
        return {"model": self.name, "device": self.device, "precision": self.precision,
                "checkpoint": self.checkpoint, "tile": self.tile, "sigma_range": self.sigma_range}

    def plan(self, height, width, sigma):
        margin = context_margin(sigma, self.multiple, self.min_margin, self.blind_margin)
        return plan_tiles(height, width, tile=self.tile, margin=margin, multiple=self.multiple,
                          max_pixels=self.window_pixels)

    def sharpen(self, rgb, sigma=None, timeout=None):
        """Deblur one float (H, W, 3) image in [0, 1]; returns float (H, W, 3), unclamped."""
        return self.sharpen_many([(rgb, sigma)], timeout)[0]

    def sharpen_many(self, items, timeout=None):
        """Deblur several (rgb, sigma) pairs together (their tiles share batches)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        jobs = [self._job(rgb, sigma) for rgb, sigma in items]
        self._submit(jobs)
        try:
            for job in jobs:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not job.done.wait(left):
                    raise RequestTimeout(f"the request took longer than its {timeout:g} s limit")
                if isinstance(job.error, ServerError):
                    raise job.error
                if job.error is not None:
                    raise ServerError(f"inference failed: {job.error}") from job.error
        finally:
            self._retire(jobs)
        return [job.result() for job in jobs]

    def _job(self, rgb, sigma):
        sigma = validate_sigma(sigma, self.max_sigma)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ServerError(f"engine expects (H, W, 3) images, got {rgb.shape}")
        rgb = np.ascontiguousarray(rgb, dtype=np.float32)
        trained_max = self.sigma_range["trained_max"]
        if sigma is None or sigma <= trained_max:
            return _Job(rgb, sigma, self.plan(*rgb.shape[:2], sigma))
        # Scale space: shrink until the blur is well inside the trained range, restore, grow back.
        target = trained_max * SCALE_SPACE_TARGET
        height, width = rgb.shape[:2]
        small = resize(rgb, max(1, round(height * target / sigma)), max(1, round(width * target / sigma)))
        return _Job(small, target, self.plan(*small.shape[:2], target), output_size=(height, width))

    def warmup(self):
        self.sharpen(np.zeros((32, 32, 3), np.float32), 1.0)

    def close(self):
        """Stop the worker after its batch in flight; images it has not finished fail with ShuttingDown
        (503) at once, so the requests waiting for them answer instead of waiting for their time limit."""
        with self._cond:
            self._closed = True
            pending, self._pending = self._pending, deque()
            self._cond.notify_all()
        for job in {id(tile.job): tile.job for tile in pending}.values():
            job.error = ShuttingDown("the server is shutting down; retry when it is back")
            job.done.set()
        self._worker.join(timeout=CLOSE_TIMEOUT)
        if self._worker.is_alive():  # a forward pass still running: it is a daemon thread, do not wait forever
            logging.getLogger("server").warning("engine: the worker thread is still busy %g s after close(); "
                                                "leaving it behind", CLOSE_TIMEOUT)

    @property
    def queued_jobs(self):
        with self._cond:
            return self._active_jobs

    def _submit(self, jobs):
        with self._cond:
            if self._closed:
                raise ShuttingDown("the server is shutting down; retry when it is back")
            if self._active_jobs + len(jobs) > self.queue_size:
                raise QueueFull(f"the server is busy ({self._active_jobs} images queued, limit {self.queue_size})")
            self._active_jobs += len(jobs)
            for job in jobs:
                self._pending.extend(_Tile(job, window) for window in job.plan.windows)
            self._cond.notify()

    def _retire(self, jobs):
        """Release the jobs' queue slots and drop their unstarted tiles (after a timeout or failure)."""
        with self._cond:
            self._active_jobs -= len(jobs)
            if any(not job.done.is_set() for job in jobs):
                ids = {id(job) for job in jobs}
                self._pending = deque(t for t in self._pending if id(t.job) not in ids)

    def _next_batch(self):
        """Pop the oldest tile and queued tiles of the same shape, within the batch limits; [] once the
        queue has stayed empty until the release time; None when the engine is closed."""
        with self._cond:
            while not self._pending and not self._closed:
                if self._release_at is None:
                    self._cond.wait()
                    continue
                left = self._release_at - time.monotonic()
                if left <= 0:
                    self._release_at = None
                    return []
                self._cond.wait(left)
            if self._closed:
                return None
            first = self._pending.popleft()
            shape = first.shape
            limit = max(1, min(self.max_batch, self.max_batch_pixels // (shape[0] * shape[1])))
            batch, rest = [first], deque()
            while self._pending and len(batch) < limit:
                tile = self._pending.popleft()
                (batch if tile.shape == shape else rest).append(tile)
            # Batch sizes of 1, 2, 4, 8 only: kernels and their buffers are cached per input shape,
            # so fewer distinct batch sizes mean fewer caches filling up (resident memory plateaus sooner).
            size = 1 << (len(batch).bit_length() - 1)
            rest.extendleft(reversed(batch[size:]))
            rest.extend(self._pending)
            self._pending = rest
            return batch[:size]

    def _work(self):
        with torch.inference_mode():
            while (batch := self._next_batch()) is not None:
                if not batch:  # idle for release_interval since the last batch
                    self.release_memory()
                    continue
                try:
                    outputs = self._forward(batch)
                except Exception as exc:  # a failed batch must not kill the worker: report it to its jobs
                    for tile in batch:
                        tile.job.error = exc
                        tile.job.done.set()
                    continue
                for tile, output in zip(batch, outputs):
                    tile.job.add(tile.window, output)
                if self.release_memory:
                    self._release_at = time.monotonic() + self.release_interval

    def _forward(self, batch):
        h, w = batch[0].shape
        x = torch.empty((len(batch), 3, h, w), memory_format=self.memory_format)
        for i, tile in enumerate(batch):
            x[i].copy_(torch.from_numpy(window_pixels(tile.job.rgb, tile.job.plan, tile.window)).permute(2, 0, 1))
        sigma = torch.tensor([-1.0 if t.job.sigma is None else t.job.sigma for t in batch])
        x, sigma = x.to(self.device, non_blocking=True), sigma.to(self.device)
        with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            y = self.model(x, sigma)
        return y.float().permute(0, 2, 3, 1).cpu().numpy()
