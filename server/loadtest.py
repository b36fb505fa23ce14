"""Load script: concurrent clients with mixed image sizes against a server on loopback.

    python -m server.loadtest [--clients 8] [--requests 200] [--checkpoint PATH]
    python -m server.loadtest --url http://127.0.0.1:8765 [--pid PID]
    python -m server.loadtest --peak 3000x3000      # peak memory of one large image on a fresh server

Without --url it starts its own `python -m server serve` on a free loopback port (with the
shipped checkpoint, or random weights of the default architecture when there is none) and
reads that process's resident memory. Prints errors, latency percentiles and memory; the
exit status is 1 when any request failed. Bounded: at most 32 clients x 1000 requests.
"""
import argparse
import base64
import io
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import requests
from PIL import Image

from . import resolve_checkpoint

# (width, height) of typical element captures, with how often each occurs.
SIZES = [((96, 32), 30), ((240, 60), 25), ((400, 120), 20), ((640, 200), 12), ((800, 600), 8), ((1200, 400), 5)]
SIGMAS = [None, 1.0, 2.0, 3.5]
FORMS = ("multipart", "raw", "json")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WARMUP_REQUESTS = 10  # per client, not counted in the figures
REPO = Path(__file__).resolve().parent.parent


def rss_mib(pid, field="VmRSS"):
    """Resident memory of a process in MiB (VmHWM: its peak so far), None when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def text_png(width, height, seed=0):
    """PNG bytes of dark strokes on a light background, like a capture of text."""
    rng = np.random.default_rng(seed)
    pixels = np.full((height, width, 3), 240, np.uint8)
    for _ in range(width * height // 300):
        y, x = rng.integers(0, height), rng.integers(0, width)
        pixels[y:y + rng.integers(2, 10), x:x + rng.integers(1, 4)] = 20
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def settled_rss(url, pid, payload):
    """Resident memory once the server is idle: a request after a pause lets the engine hand its free
    pages back (it does so when its queue runs empty, at most once a second), then RSS is read."""
    if not pid:
        return None
    time.sleep(1.5)
    with requests.Session() as session:
        send(session, url, (96, 32), payload, 2.0, "raw")
    time.sleep(0.3)
    return rss_mib(pid)


def make_payloads(seed=0):
    return {(width, height): text_png(width, height, seed + i) for i, ((width, height), _) in enumerate(SIZES)}


def send(session, url, size, data, sigma, form):
    if form == "multipart":
        fields = {} if sigma is None else {"sigma": str(sigma)}
        response = session.post(url + "/v1/sharpen", files={"image": ("a.png", data, "image/png")}, data=fields,
                                timeout=120)
    elif form == "raw":
        query = "" if sigma is None else f"?sigma={sigma}"
        response = session.post(url + "/v1/sharpen" + query, data=data, headers={"Content-Type": "image/png"},
                                timeout=120)
    else:
        response = session.post(url + "/v1/sharpen", json={"image": base64.b64encode(data).decode(), "sigma": sigma},
                                timeout=120)
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if form == "json":
        body = response.json()
        got = (body["width"], body["height"])
    else:
        got = Image.open(io.BytesIO(response.content)).size
    return None if got == size else f"wrong size {got} for {size}"


def run_client(url, payloads, count, seed):
    rng = random.Random(seed)
    sizes, weights = zip(*SIZES)
    latencies, errors = [], []
    with requests.Session() as session:
        for _ in range(count):
            size = rng.choices(sizes, weights)[0]
            started = time.perf_counter()
            try:
                error = send(session, url, size, payloads[size], rng.choice(SIGMAS), rng.choice(FORMS))
            except requests.RequestException as exc:
                error = type(exc).__name__
            latencies.append(time.perf_counter() - started)
            if error:
                errors.append(error)
    return latencies, errors


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(checkpoint, workdir, torch_threads=None, command=None, cwd=REPO):
    """Start ``command`` (default: this Python's ``-m server``) ``serve`` on a free loopback port;
    returns (process, url, log path) once /healthz answers."""
    path = Path(resolve_checkpoint(checkpoint))
    if not path.is_file():
        from models import DEFAULT_MODEL, build_model, save_checkpoint

        print(f"no checkpoint at {path}: serving random weights of the default {DEFAULT_MODEL!r} architecture "
              f"(speed and memory do not depend on the weights)")
        path = Path(workdir) / "random.pt"
        save_checkpoint(path, build_model(DEFAULT_MODEL))
    port = free_port()
    log_path = Path(workdir) / f"serve-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([*(command or [sys.executable, "-m", "server"]), "serve", "--checkpoint", str(path),
                                    "--port", str(port),
                                    *(["--torch-threads", str(torch_threads)] if torch_threads else [])],
                                   cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log_path.read_text()}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return process, url, log_path
        except requests.ConnectionError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("server did not start within 120 s")


def measure_peak(args, width, height):
    """Peak resident memory of a fresh server (after a small warm-up request) serving one large image."""
    data = text_png(width, height, args.seed)
    with tempfile.TemporaryDirectory() as workdir:
        process, url, _ = start_server(args.checkpoint, workdir, args.torch_threads)
        try:
            with requests.Session() as session:
                send(session, url, (96, 32), text_png(96, 32), 2.0, "raw")
                before = rss_mib(process.pid, "VmHWM")
                started = time.perf_counter()
                error = send(session, url, (width, height), data, 2.0, "raw")
                elapsed = time.perf_counter() - started
            peak, now = rss_mib(process.pid, "VmHWM"), rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    print(f"one {width}x{height} image ({len(data) / 2**20:.1f} MiB PNG, sigma 2): "
          f"{'ok' if error is None else error} in {elapsed:.1f} s; server peak RSS {before:.0f} MiB before, "
          f"{peak:.0f} MiB with it ({peak - before:+.0f} MiB); {now:.0f} MiB after")
    return 0 if error is None else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server.loadtest", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running server on loopback (default: start one)")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, to read its memory")
    parser.add_argument("--checkpoint", help="without --url: checkpoint to serve")
    parser.add_argument("--torch-threads", type=int, help="without --url: the server's CPU threads")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="requests per client")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peak", metavar="WxH", help="instead: one image of this size, and the server's peak memory")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 32 or not 1 <= args.requests <= 1000:
        parser.error("bounded: 1-32 clients and 1-1000 requests per client")
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("loopback only: --url must be http://127.0.0.1:PORT, localhost or [::1]")

    if args.peak:
        width, _, height = args.peak.lower().partition("x")
        return measure_peak(args, int(width), int(height))
    with tempfile.TemporaryDirectory() as workdir:
        process = None
        if args.url:
            url, pid = args.url.rstrip("/"), args.pid
        else:
            process, url, _ = start_server(args.checkpoint, workdir, args.torch_threads)
            pid = process.pid
        try:
            payloads = make_payloads(args.seed)
            rss_start = rss_mib(pid) if pid else None
            with ThreadPoolExecutor(args.clients) as pool:
                # Warm-up round at full concurrency, so the allocator and kernel caches reach their working
                # set (largest batches included) before "before" is read: growth after it means a leak.
                warmup = list(pool.map(lambda i: run_client(url, payloads, WARMUP_REQUESTS, -1 - i),
                                       range(args.clients)))
                rss_before = settled_rss(url, pid, payloads[(96, 32)])
                started = time.perf_counter()
                results = list(pool.map(lambda i: run_client(url, payloads, args.requests, args.seed * 1000 + i),
                                        range(args.clients)))
                wall = time.perf_counter() - started
            peak = rss_mib(pid, "VmHWM") if pid else None
            rss_after = settled_rss(url, pid, payloads[(96, 32)])
        finally:
            if process is not None:
                process.terminate()
                process.wait(30)

    warmup_errors = sum(len(errs) for _, errs in warmup)
    if warmup_errors:
        print(f"warm-up errors: {warmup_errors}")
    latencies = sorted(t for lat, _ in results for t in lat)
    errors = [e for _, errs in results for e in errs]
    total = len(latencies)
    print(f"{args.clients} clients x {args.requests} requests = {total} requests in {wall:.1f} s "
          f"({total / wall:.1f} req/s); sizes {', '.join(f'{w}x{h}' for (w, h), _ in SIZES)}")
    print(f"errors: {len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else ""))
    print(f"latency: p50 {np.percentile(latencies, 50) * 1000:.0f} ms, p95 {np.percentile(latencies, 95) * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")
    if rss_before is not None and rss_after is not None:
        growth = (rss_after - rss_before) / rss_before * 100
        print(f"server RSS (idle): {rss_start:.0f} MiB at start, {rss_before:.0f} MiB after warm-up, "
              f"{rss_after:.0f} MiB after the run ({growth:+.1f}% since warm-up; target < 10%); "
              f"peak {peak:.0f} MiB")
    else:
        print("server RSS: unknown (pass --pid with --url)")
    print(f"load average now: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (shared machine: latencies include "
          f"other work)")
    return 1 if errors or warmup_errors else 0


if __name__ == "__main__":
    sys.exit(main())
