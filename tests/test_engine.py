"""The inference engine: tile geometry (pure), tiled == untiled, batching, thread safety."""
import sys
import threading
import time

import numpy as np
import pytest
import torch

from models import build_model, save_checkpoint
from server.engine import Engine, validate_sigma
from server.errors import BadSigma, QueueFull, ShuttingDown, SigmaOutOfRange
from server.tiling import (axis_weights, axis_windows, blend_windows, computed_pixels, context_margin, pad_image,
                           plan_tiles, round_up, window_pixels)
from server_support import GatedModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- geometry ------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [1, 15, 16, 100, 257, 1000, 3001])
@pytest.mark.parametrize("tile, margin, blend", [(128, 16, 16), (256, 32, 16), (96, 16, 0)])
def test_axis_windows_cover_aligned_and_overlapping(length, tile, margin, blend):
    multiple = 16
    windows = axis_windows(length, tile, margin, blend, multiple)
    padded = round_up(length + 2 * margin, multiple)
    assert windows[0][0] == 0 and windows[-1][1] == padded
    sizes = {stop - start for start, stop in windows}
    assert len(sizes) == 1 and sizes.pop() <= max(tile, padded if len(windows) == 1 else 0)
    for start, stop in windows:
        assert start % multiple == 0
    for (a0, a1), (b0, b1) in zip(windows, windows[1:]):
        assert a0 < b0 and a1 - b0 >= 2 * margin + blend
    overlap = 2 * margin + blend
    if len(windows) > 1:  # no more windows than full-size tiles would need, plus at most one
        assert len(windows) <= -(-(padded - overlap) // (tile - overlap)) + 1


def test_windows_just_over_the_tile_size_are_split_evenly():
    windows = axis_windows(1024, 1024, 16, 16, 16)  # padded 1056: two windows of ~half, not two of 1024
    assert len(windows) == 2
    assert sum(stop - start for start, stop in windows) <= 1.1 * 1056


@pytest.mark.parametrize("height, width", [(1024, 1024), (400, 1200), (1080, 1920), (96, 32), (3000, 700)])
@pytest.mark.parametrize("margin, budget", [(16, 768 ** 2), (16, 800 ** 2), (32, 640 ** 2), (16, 112 ** 2)])
def test_plan_stays_within_the_window_budget_and_computes_the_fewest_pixels(height, width, margin, budget):
    multiple, blend = 16, 16
    plan = plan_tiles(height, width, tile=128, margin=margin, multiple=multiple, max_pixels=budget)
    smallest = round_up(2 * margin + blend, multiple) + 4 * multiple
    assert all((r1 - r0) * (c1 - c0) <= max(budget, smallest ** 2) for r0, r1, c0, c1 in plan.windows)
    best = None  # every grid of axis_windows cuts whose windows fit the budget
    for row_tile in range(smallest, max(smallest, round_up(height + 2 * margin, multiple)) + multiple, multiple):
        rows = axis_windows(height, row_tile, margin, blend, multiple)
        for col_tile in range(smallest, max(smallest, round_up(width + 2 * margin, multiple)) + multiple, multiple):
            cols = axis_windows(width, col_tile, margin, blend, multiple)
            size = (rows[0][1] - rows[0][0]) * (cols[0][1] - cols[0][0])
            if size <= max(budget, smallest ** 2):
                cost = len(rows) * len(cols) * size
                best = cost if best is None else min(best, cost)
    assert computed_pixels(plan) == best


def test_a_1024_square_image_takes_two_windows_under_an_800_square_budget():
    plan = plan_tiles(1024, 1024, tile=768, margin=16, multiple=16, max_pixels=800 ** 2)
    assert [(r1 - r0, c1 - c0) for r0, r1, c0, c1 in plan.windows] == [(1056, 560), (1056, 560)]
    assert computed_pixels(plan) < computed_pixels(plan_tiles(1024, 1024, tile=560, margin=16, multiple=16))


@pytest.mark.parametrize("length, tile, margin, blend", [(1000, 128, 16, 16), (70, 64, 16, 8), (5, 64, 16, 16)])
def test_axis_weights_zero_in_context_and_cover_the_content(length, tile, margin, blend):
    windows = axis_windows(length, tile, margin, blend, 16)
    padded = windows[-1][1]
    total = np.zeros(padded)
    for start, stop in windows:
        weights = axis_weights(start, stop, padded, margin, blend)
        assert weights.min() >= 0 and weights.max() == 1
        if start > 0:
            assert (weights[:margin] == 0).all()
        else:
            assert weights[0] == 1  # the image border is not ramped
        if stop < padded:
            assert (weights[-margin:] == 0).all()
        total[start:stop] += weights
    assert (total[margin:margin + length] > 0).all()


def test_cosine_ramps_of_evenly_spaced_windows_sum_to_one():
    margin, blend = 16, 32
    weights_a = axis_weights(0, 160, 1000, margin, blend)
    weights_b = axis_weights(160 - 2 * margin - blend, 160 - 2 * margin - blend + 160, 1000, margin, blend)
    overlap = np.zeros(1000)
    overlap[0:160] += weights_a
    overlap[96:256] += weights_b
    assert np.allclose(overlap[margin:256 - margin - blend], 1.0)
    assert 0 < weights_a[160 - margin - blend // 2] < 1  # a ramp, not a hard paste


def test_context_margin_covers_three_sigma():
    for sigma in (0.0, 0.5, 2.0, 5.0, 7.3, 20.0, 50.0):
        margin = context_margin(sigma, 16)
        assert margin >= 3 * sigma and margin >= 16 and margin % 16 == 0
    assert context_margin(None, 16) >= 32


@pytest.mark.parametrize("height, width", [(1, 1), (3, 500), (257, 129)])
def test_blend_of_window_crops_rebuilds_the_image(height, width):
    rgb = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    plan = plan_tiles(height, width, tile=128, margin=16, multiple=16)
    padded = pad_image(rgb, plan)
    assert padded.shape == (plan.padded_height, plan.padded_width, 3)
    outputs = [padded[r0:r1, c0:c1] for r0, r1, c0, c1 in plan.windows]
    assert np.allclose(blend_windows(plan, outputs), rgb, atol=1e-6)


@pytest.mark.parametrize("height, width, tile, margin, blend", [
    (1, 1, 128, 16, 16), (3, 500, 128, 16, 16), (257, 129, 128, 16, 16), (300, 700, 160, 32, 16),
    (1024, 1024, 768, 16, 16), (90, 400, 112, 16, 0)])
def test_window_shares_sum_to_one_and_blend_as_the_weighted_average(height, width, tile, margin, blend):
    plan = plan_tiles(height, width, tile=tile, margin=margin, multiple=16, blend=blend)
    rng = np.random.default_rng(height + width)
    outputs = [rng.random((r1 - r0, c1 - c0, 3), dtype=np.float32) for r0, r1, c0, c1 in plan.windows]
    shares = np.zeros((height, width))
    weighted = np.zeros((plan.padded_height, plan.padded_width, 3))
    weight_sum = np.zeros((plan.padded_height, plan.padded_width, 1))
    for window, output in zip(plan.windows, outputs):
        (top, rows), (left, cols) = plan.shares(window)
        shares[top:top + len(rows), left:left + len(cols)] += rows[:, None] * cols[None, :]
        r0, r1, c0, c1 = window
        weights = plan.weights(window)[:, :, None]
        weighted[r0:r1, c0:c1] += output * weights
        weight_sum[r0:r1, c0:c1] += weights
    inside = np.s_[margin:margin + height, margin:margin + width]
    assert np.allclose(shares, 1, atol=1e-6)
    assert np.allclose(blend_windows(plan, outputs), weighted[inside] / weight_sum[inside], atol=1e-6)


def test_padding_is_a_reflection():
    rgb = np.arange(5 * 6 * 3, dtype=np.float32).reshape(5, 6, 3)
    plan = plan_tiles(5, 6, tile=512, margin=2, multiple=1)
    padded = pad_image(rgb, plan)
    assert np.array_equal(padded[2:7, 2:8], rgb)
    assert np.array_equal(padded[1, 2:8], rgb[1]) and np.array_equal(padded[2:7, 0], rgb[:, 2])


# --- inference -------------------------------------------------------------------------------

def tiny_model(seed=0):
    """A tiny NAFUNet whose residual branches, output head and sigma modulation are random, not zero."""
    torch.manual_seed(seed)
    model = build_model("nafunet", width=8)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("beta", "gamma")) or "modulation" in name:
                param.normal_(0, 0.5)
        model.ending.reset_parameters()  # the shipped init is zero: the identity on its base estimate
    return model


@pytest.mark.parametrize("sigma", [None, 1.0, 4.0])
def test_tiled_output_matches_untiled(sigma):
    model = tiny_model()
    rgb = np.random.default_rng(1).random((150, 230, 3), dtype=np.float32)
    whole, tiled = Engine(model, tile=4096), Engine(model, tile=64)
    try:
        plan = tiled.plan(150, 230, sigma)
        assert len(plan.rows) > 1 and len(plan.cols) > 1
        assert len(whole.plan(150, 230, sigma).windows) == 1
        expected, actual = whole.sharpen(rgb, sigma), tiled.sharpen(rgb, sigma)
        assert actual.shape == expected.shape == rgb.shape
        # Random tiny nets (global channel attention per window): over seeds 0-2 the largest difference
        # was 0.016-0.030 with square 112 px windows and 0.013-0.028 with the pixel-budget plan.
        assert np.abs(actual - expected).max() < 0.03
        assert np.abs(actual - expected).mean() < 0.002
        assert np.abs(expected - rgb).mean() > 0.05  # the model does change the image
    finally:
        whole.close()
        tiled.close()


def test_channels_last_and_bf16_agree_with_fp32():
    rgb = np.random.default_rng(2).random((40, 50, 3), dtype=np.float32)
    # One model each: Engine converts its model's memory format in place.
    engines = [Engine(tiny_model(), channels_last=False), Engine(tiny_model(), channels_last=True),
               Engine(tiny_model(), precision="bf16")]
    try:
        reference, channels_last, bf16 = (e.sharpen(rgb, 2.0) for e in engines)
        assert np.allclose(reference, channels_last, atol=1e-5)
        assert np.abs(reference - bf16).max() < 0.05
    finally:
        for engine in engines:
            engine.close()


def test_sigma_reaches_the_model_per_image():
    model = GatedModel(open_gate=True)
    engine = Engine(model)
    try:
        engine.sharpen(np.zeros((20, 20, 3), np.float32), 2.5)
        engine.sharpen(np.zeros((20, 20, 3), np.float32), None)
        assert model.sigmas == [[2.5], [-1.0]]
    finally:
        engine.close()


def test_concurrent_same_shape_requests_share_a_batch():
    model = GatedModel()
    engine = Engine(model, queue_size=8)
    image = np.random.default_rng(0).random((40, 40, 3), dtype=np.float32)
    results = [None] * 3

    def run(i):
        results[i] = engine.sharpen(image, float(i))

    try:
        threads = [threading.Thread(target=run, args=(0,))]
        threads[0].start()
        assert model.entered.wait(5)  # the first request is inside the model
        threads += [threading.Thread(target=run, args=(i,)) for i in (1, 2)]
        for thread in threads[1:]:
            thread.start()
        while engine.queued_jobs < 3:
            threading.Event().wait(0.01)
        model.gate.set()
        for thread in threads:
            thread.join(10)
        assert model.batch_sizes == [1, 2]
        assert sorted(model.sigmas[1]) == [1.0, 2.0]
        for result in results:
            assert np.allclose(result, image, atol=1e-6)  # the gated model is the identity
    finally:
        model.gate.set()
        engine.close()


def test_queue_bound_counts_images():
    model = GatedModel()
    engine = Engine(model, queue_size=2)
    image = np.zeros((8, 8, 3), np.float32)
    try:
        worker = threading.Thread(target=engine.sharpen_many, args=([(image, 1.0), (image, 1.0)],))
        worker.start()
        assert model.entered.wait(5)
        with pytest.raises(QueueFull):
            engine.sharpen(image, 1.0)
        model.gate.set()
        worker.join(10)
        assert engine.queued_jobs == 0
        engine.sharpen(image, 1.0)
    finally:
        model.gate.set()
        engine.close()


def test_threads_share_one_engine_safely():
    engine = Engine(tiny_model(), tile=64)
    rng = np.random.default_rng(3)
    jobs = [(rng.random((h, w, 3), dtype=np.float32), s) for h, w, s in
            [(30, 90, 1.0), (70, 40, None), (30, 90, 3.0), (100, 100, 2.0), (30, 90, 1.0)]]
    try:
        expected = [engine.sharpen(rgb, sigma) for rgb, sigma in jobs]
        results = [None] * len(jobs)

        def run(i):
            results[i] = engine.sharpen(*jobs[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for got, want in zip(results, expected):
            assert np.allclose(got, want, atol=1e-5)
    finally:
        engine.close()


def test_close_answers_queued_images_at_once_and_finishes_the_batch_in_flight():
    model = GatedModel()
    engine = Engine(model, queue_size=8)
    image = np.zeros((40, 40, 3), np.float32)
    outcomes = {}

    def run(name, sigma):
        try:
            outcomes[name] = engine.sharpen(image, sigma, timeout=60).shape
        except Exception as exc:  # noqa: BLE001 (the test records what each request got)
            outcomes[name] = exc

    in_flight = threading.Thread(target=run, args=("in flight", 1.0))
    in_flight.start()
    assert model.entered.wait(5)
    queued = threading.Thread(target=run, args=("queued", 2.0))
    queued.start()
    while engine.queued_jobs < 2:
        threading.Event().wait(0.01)
    closer = threading.Thread(target=engine.close)
    closer.start()
    queued.join(5)
    assert isinstance(outcomes.get("queued"), ShuttingDown)  # at once, not after its 60 s limit
    assert closer.is_alive() and in_flight.is_alive()  # close() waits for the batch in flight
    model.gate.set()
    closer.join(10)
    in_flight.join(10)
    assert outcomes["in flight"] == (40, 40, 3)
    with pytest.raises(ShuttingDown):
        engine.sharpen(image, 1.0)


def test_model_failure_is_reported_and_the_worker_survives():
    class Exploding(GatedModel):
        def __call__(self, x, sigma=None):
            if x.shape[-1] == 48:
                raise RuntimeError("boom")
            return x

    engine = Engine(Exploding(open_gate=True))
    try:
        with pytest.raises(Exception, match="boom"):
            engine.sharpen(np.zeros((8, 8, 3), np.float32), 1.0)  # padded to 48 wide
        assert engine.sharpen(np.zeros((8, 40, 3), np.float32), 1.0).shape == (8, 40, 3)
    finally:
        engine.close()


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "abc", True])
def test_validate_sigma_rejects(bad):
    with pytest.raises(BadSigma):
        validate_sigma(bad)


def test_sigma_above_the_supported_maximum_is_out_of_range():
    assert validate_sigma(32) == 32.0
    with pytest.raises(SigmaOutOfRange) as caught:
        validate_sigma(32.5)
    assert caught.value.status == 422 and caught.value.details == {"max_sigma": 32.0}
    with pytest.raises(SigmaOutOfRange, match="maximum is 12"):
        validate_sigma(12.5, max_sigma=12)


def test_trained_range_comes_from_the_checkpoint(tmp_path):
    shipped = tmp_path / "shipped.pt"
    save_checkpoint(shipped, build_model("nafunet", width=8))  # no training config: the shipped default
    trained = tmp_path / "trained.pt"
    save_checkpoint(trained, build_model("nafunet", width=8),
                    extra={"train": {"synth_overrides": {"max_sigma": 4.0}}})
    for path, trained_max in ((shipped, 8.0), (trained, 4.0)):
        engine = Engine.from_checkpoint(path, device="cpu")
        try:
            assert engine.sigma_range == {"trained_max": trained_max, "max": 4 * trained_max}
        finally:
            engine.close()


def test_large_sigma_runs_in_scale_space():
    model = GatedModel(open_gate=True)
    engine = Engine(model, trained_max_sigma=8.0)
    rows, cols = np.mgrid[0:90, 0:200].astype(np.float32)
    image = np.repeat(((rows / 90 + cols / 200) / 2)[:, :, None], 3, axis=2)
    try:
        assert np.allclose(engine.sharpen(image, 6.0), image, atol=1e-6)  # in range: the image itself
        assert model.shapes[-1] == (90 + 64 + 6, 200 + 64 + 8)  # 32 px of context a side, to a multiple of 16
        result = engine.sharpen(image, 16.0)
        assert result.shape == image.shape
        assert model.sigmas[-1] == [4.0]  # the model is told the blur of the quarter-size image
        assert model.shapes[-1] == (22 + 32 + 10, 50 + 32 + 14)  # 22x50 with 16 px of context a side
        # The identity model, down and up again: a smooth image comes back nearly unchanged.
        assert np.abs(result[4:-4, 4:-4] - image[4:-4, 4:-4]).max() < 0.01
    finally:
        engine.close()


def test_streamed_tiles_read_the_reflected_canvas():
    views = 0
    for height, width, tile in ((1, 1, 32), (3, 50, 32), (37, 29, 32), (300, 420, 128), (500, 90, 112)):
        rgb = np.random.default_rng(height).random((height, width, 3), dtype=np.float32)
        plan = plan_tiles(height, width, tile=tile, margin=16, multiple=16)
        padded = pad_image(rgb, plan)
        for window in plan.windows:
            r0, r1, c0, c1 = window
            pixels = window_pixels(rgb, plan, window)
            assert np.array_equal(pixels, padded[r0:r1, c0:c1])
            views += np.shares_memory(pixels, rgb)
    assert views > 0  # windows inside the image are read without a copy


def test_auto_precision_resolves_per_device(monkeypatch):
    from models.nets import common
    assert common.resolve_precision("fp32", "cpu") == "fp32"
    assert common.resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.setattr(common, "cpu_has_native_bf16", lambda: True)
    assert common.resolve_precision("auto", "cpu") == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        common.resolve_precision("fp8", "cpu")
    monkeypatch.setattr(common, "cpu_has_native_bf16", lambda: False)
    assert common.resolve_precision("auto", "cpu") == "fp32"
    engine = Engine(tiny_model(), precision="auto")
    try:
        assert engine.describe()["precision"] == "fp32"
    finally:
        engine.close()


def test_free_memory_is_released_when_the_queue_runs_empty():
    released = threading.Event()
    engine = Engine(GatedModel(open_gate=True), release_memory=released.set, release_interval=0)
    try:
        engine.sharpen(np.zeros((20, 20, 3), np.float32), 1.0)
        assert released.wait(5)
    finally:
        engine.close()


def test_memory_is_released_once_idle_not_between_back_to_back_requests():
    releases = []
    engine = Engine(GatedModel(open_gate=True), release_memory=lambda: releases.append(time.monotonic()),
                    release_interval=0.5)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 1.0:  # one second of back-to-back requests
            engine.sharpen(np.zeros((20, 20, 3), np.float32), 1.0)
        last = time.monotonic()
        assert releases == []
        deadline = last + 5
        while not releases and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(releases) == 1 and releases[0] - last >= 0.45
        time.sleep(0.7)
        assert len(releases) == 1  # once per idle spell, not every interval
    finally:
        engine.close()


def test_memory_releaser_of_this_process_runs():
    from server.runtime import memory_releaser

    release = memory_releaser()
    assert release is not None  # glibc here, or tcmalloc when preloaded
    release()
    assert memory_releaser(maps="") is not None or not sys.platform.startswith("linux")


def test_batches_hold_a_power_of_two_tiles():
    model = GatedModel()
    engine = Engine(model, queue_size=16)
    image = np.zeros((40, 40, 3), np.float32)
    try:
        first = threading.Thread(target=engine.sharpen, args=(image, 1.0))
        first.start()
        assert model.entered.wait(5)  # the first tile is inside the model; seven more queue behind it
        waiting = threading.Thread(target=engine.sharpen_many, args=([(image, 1.0)] * 7,))
        waiting.start()
        while engine.queued_jobs < 8:
            threading.Event().wait(0.01)
        model.gate.set()
        first.join(10)
        waiting.join(10)
        assert model.batch_sizes == [1, 4, 2, 1]
    finally:
        model.gate.set()
        engine.close()
