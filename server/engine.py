"""The inference engine: one model, loaded once, shared by every request thread.

Requests are cut into tiles (see tiling.py) and queued; one worker thread runs the model,
stacking queued tiles of the same shape into one batch, so concurrent requests share forward
passes. The queue is bounded (QueueFull -> 503) and each call has a time limit
(RequestTimeout -> 503). Per-call state lives in ``_Job`` objects, never on the engine.
"""
import math
import os
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch

from models import load_checkpoint
from models.common import PRECISIONS, resolve_precision

from .errors import BadSigma, QueueFull, RequestTimeout, ServerError
from .tiling import blend_windows, context_margin, pad_image, plan_tiles

MAX_SIGMA = 50.0


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


def validate_sigma(sigma):
    """None (blind) or a finite float in [0, MAX_SIGMA]; BadSigma otherwise."""
    if sigma is None:
        return None
    if isinstance(sigma, bool):
        raise BadSigma("sigma must be a number or null (blind)")
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise BadSigma(f"sigma must be a number >= 0 or absent (blind), got {sigma!r}") from None
    if not math.isfinite(value) or value < 0 or value > MAX_SIGMA:
        raise BadSigma(f"sigma must be finite and between 0 and {MAX_SIGMA:g}, got {sigma!r}")
    return value


class _Job:
    """One image in flight: its padded pixels, tile plan, and the window outputs as they arrive."""

    def __init__(self, rgb, sigma, plan):
        self.plan = plan
        self.sigma = sigma
        self.padded = torch.from_numpy(pad_image(rgb, plan))  # (H, W, 3): channels-last already
        self.outputs = [None] * len(plan.windows)
        self.remaining = len(plan.windows)
        self.done = threading.Event()
        self.error = None


class _Tile:
    __slots__ = ("job", "index", "window")

    def __init__(self, job, index, window):
        self.job, self.index, self.window = job, index, window

    @property
    def shape(self):
        r0, r1, c0, c1 = self.window
        return r1 - r0, c1 - c0


class Engine:
    """Owns ``model`` from here on (it is moved to the device and memory format in place)."""

    def __init__(self, model, *, name=None, checkpoint=None, device="cpu", precision="fp32",
                 channels_last=True, tile=None, max_batch=8, max_batch_pixels=None,
                 queue_size=64, min_margin=16, blind_margin=32):
        if precision not in PRECISIONS:
            raise ServerError(f"unknown precision {precision!r}; use {' or '.join(PRECISIONS)}")
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.name = name or getattr(getattr(model, "config", None), "name", type(model).__name__)
        self.checkpoint = str(checkpoint) if checkpoint else None
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format).eval()
        self.multiple = getattr(model, "size_multiple", 16)
        # Smaller windows stay in cache on CPU (faster per pixel here); GPUs prefer few large ones.
        self.tile = tile or (2048 if self.device == "cuda" else 768)
        self.max_batch = max_batch
        # Batches of small captures save per-call overhead; big batches only raise peak memory.
        self.max_batch_pixels = max_batch_pixels or (8 if self.device == "cuda" else 2) * 2**20
        self.queue_size = queue_size
        self.min_margin = min_margin
        self.blind_margin = blind_margin
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
        return cls(model, name=model.config.name, checkpoint=Path(path), device=device, **options)

    def describe(self):
        return {"model": self.name, "device": self.device, "precision": self.precision,
                "checkpoint": self.checkpoint, "tile": self.tile}

    def plan(self, height, width, sigma):
        margin = context_margin(sigma, self.multiple, self.min_margin, self.blind_margin)
        return plan_tiles(height, width, tile=self.tile, margin=margin, multiple=self.multiple)

    def sharpen(self, rgb, sigma=None, timeout=None):
        """Deblur one float (H, W, 3) image in [0, 1]; returns float (H, W, 3), unclamped."""
        return self.sharpen_many([(rgb, sigma)], timeout)[0]

    def sharpen_many(self, items, timeout=None):
        """Deblur several (rgb, sigma) pairs together (their tiles share batches)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        jobs = []
        for rgb, sigma in items:
            sigma = validate_sigma(sigma)
            if rgb.ndim != 3 or rgb.shape[2] != 3:
                raise ServerError(f"engine expects (H, W, 3) images, got {rgb.shape}")
            jobs.append(_Job(np.ascontiguousarray(rgb, dtype=np.float32), sigma, self.plan(*rgb.shape[:2], sigma)))
        self._submit(jobs)
        try:
            for job in jobs:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not job.done.wait(left):
                    raise RequestTimeout(f"the request took longer than its {timeout:g} s limit")
                if job.error is not None:
                    raise ServerError(f"inference failed: {job.error}") from job.error
        finally:
            self._retire(jobs)
        return [blend_windows(job.plan, job.outputs) for job in jobs]

    def warmup(self):
        self.sharpen(np.zeros((32, 32, 3), np.float32), 1.0)

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=10)

    @property
    def queued_jobs(self):
        with self._cond:
            return self._active_jobs

    def _submit(self, jobs):
        with self._cond:
            if self._closed:
                raise ServerError("engine is shut down")
            if self._active_jobs + len(jobs) > self.queue_size:
                raise QueueFull(f"the server is busy ({self._active_jobs} images queued, limit {self.queue_size})")
            self._active_jobs += len(jobs)
            for job in jobs:
                self._pending.extend(_Tile(job, i, w) for i, w in enumerate(job.plan.windows))
            self._cond.notify()

    def _retire(self, jobs):
        """Release the jobs' queue slots and drop their unstarted tiles (after a timeout or failure)."""
        with self._cond:
            self._active_jobs -= len(jobs)
            if any(not job.done.is_set() for job in jobs):
                ids = {id(job) for job in jobs}
                self._pending = deque(t for t in self._pending if id(t.job) not in ids)

    def _next_batch(self):
        """Pop the oldest tile and every queued tile of the same shape, within the batch limits."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            first = self._pending.popleft()
            shape = first.shape
            limit = max(1, min(self.max_batch, self.max_batch_pixels // (shape[0] * shape[1])))
            batch, rest = [first], deque()
            while self._pending and len(batch) < limit:
                tile = self._pending.popleft()
                (batch if tile.shape == shape else rest).append(tile)
            rest.extend(self._pending)
            self._pending = rest
            return batch

    def _work(self):
        with torch.inference_mode():
            while (batch := self._next_batch()) is not None:
                try:
                    outputs = self._forward(batch)
                except Exception as exc:  # a failed batch must not kill the worker: report it to its jobs
                    for tile in batch:
                        tile.job.error = exc
                        tile.job.done.set()
                    continue
                for tile, output in zip(batch, outputs):
                    job = tile.job
                    job.outputs[tile.index] = output
                    job.remaining -= 1
                    if job.remaining == 0:
                        job.done.set()

    def _forward(self, batch):
        h, w = batch[0].shape
        x = torch.empty((len(batch), 3, h, w), memory_format=self.memory_format)
        for i, tile in enumerate(batch):
            r0, r1, c0, c1 = tile.window
            x[i].copy_(tile.job.padded[r0:r1, c0:c1].permute(2, 0, 1))
        sigma = torch.tensor([-1.0 if t.job.sigma is None else t.job.sigma for t in batch])
        x, sigma = x.to(self.device, non_blocking=True), sigma.to(self.device)
        with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            y = self.model(x, sigma)
        return y.float().permute(0, 2, 3, 1).cpu().numpy()
