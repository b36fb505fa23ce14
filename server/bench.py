"""Speed bench: megapixels per second by image size and precision, and end-to-end request latency.

    python -m server.bench [--checkpoint PATH] [--seconds 3] [--sizes 256x256,512x512] [--device auto]

Uses the shipped checkpoint when there is one, else the default architecture with random
weights (speed does not depend on the weight values). Prints figures; asserts nothing.
"""
import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import torch
from PIL import Image, ImageDraw, ImageFont

from models import DEFAULT_MODEL, build_model, load_checkpoint
from models.data.blur import gaussian_blur

from . import create_app, resolve_checkpoint, runtime
from .engine import PRECISIONS, Engine, cpu_count, resolve_device, resolve_precision
from .errors import ServerError
from .live import LiveServer
from .reading import ReadService, resolve_detector, resolve_korean_svtr, resolve_reader, resolve_svtr

BENCH_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

DEFAULT_SIZES = "256x256,512x512,1024x1024,2048x1024"
CONFIGS = {  # name -> Engine options
    "fp32": {"precision": "fp32", "channels_last": False},
    "fp32+channels_last": {"precision": "fp32", "channels_last": True},
    "bf16+channels_last": {"precision": "bf16", "channels_last": True},
}


def load_model(checkpoint, device):
    path = Path(resolve_checkpoint(checkpoint))
    if path.is_file():
        print(f"model: {path}")
        return load_checkpoint(path, device=device)
    print(f"model: no checkpoint at {path}; random weights of the default {DEFAULT_MODEL!r} architecture "
          f"(speed does not depend on the weights)")
    return build_model(DEFAULT_MODEL).to(device).eval()


def text_like_image(width, height, seed=0):
    """Dark strokes on a light background, blurred: closer to real captures than white noise."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 0.95, np.float32)
    for _ in range(width * height // 400):
        y, x = rng.integers(0, height), rng.integers(0, width)
        image[y:y + rng.integers(1, 12), x:x + rng.integers(1, 4)] = 0.1
    return image


def time_call(fn, seconds, min_reps=2):
    fn()  # warm-up: the first call of a shape builds kernels
    times = []
    started = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - started < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def bench_throughput(model, device, sizes, configs, seconds):
    print("\nengine throughput (sigma=2, tiles and context margins included), median of >= 2 runs:")
    header = f"{'size':>10}  " + "  ".join(f"{name:>20}" for name in configs)
    print(header + "\n" + "-" * len(header))
    for width, height in sizes:
        image = text_like_image(width, height)
        cells = []
        for name in configs:
            engine = Engine(model, device=device, **CONFIGS[name])
            try:
                median, _ = time_call(lambda: engine.sharpen(image, 2.0), seconds)
            finally:
                engine.close()
            cells.append(f"{width * height / median / 1e6:8.2f} MP/s {median * 1000:6.0f}ms")
        print(f"{width:>5}x{height:<4}  " + "  ".join(f"{c:>20}" for c in cells), flush=True)


def bench_end_to_end(model, device, seconds, precision):
    engine = Engine(model, device=device, precision=precision)
    out = io.BytesIO()
    Image.fromarray((text_like_image(1200, 400) * 255).astype(np.uint8)).save(out, "PNG")
    data = out.getvalue()
    try:
        with LiveServer(create_app({"ENGINE": engine})) as server, requests.Session() as session:
            def post():
                response = session.post(server.url + "/v1/sharpen", files={"image": ("a.png", data, "image/png")},
                                        data={"sigma": "2"}, timeout=120)
                response.raise_for_status()

            median, times = time_call(post, seconds, min_reps=5)
    finally:
        engine.close()
    precision = engine.precision
    p95 = float(np.percentile(times, 95))
    print(f"\nend to end, 1200x400 PNG over loopback HTTP (multipart, sigma=2, {precision}): "
          f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms over {len(times)} requests")


def text_capture(width=1200, height=400, sigma=2.0):
    """A 600 x 200 CSS px element at DPR 2: eight lines of 22 px text, Gaussian-blurred by ``sigma``."""
    font = ImageFont.truetype(BENCH_FONT, 22)
    image = Image.new("RGB", (width, height), (250, 250, 246))
    draw = ImageDraw.Draw(image)
    for row in range(8):
        draw.text((40, 20 + row * 46), "Your order has shipped and will arrive on Tuesday morning.", font=font,
                  fill=(30, 30, 40))
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None].float() / 255
    blurred = gaussian_blur(x, sigma)[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    out = io.BytesIO()
    Image.fromarray(blurred).save(out, "PNG")
    return out.getvalue()


def bench_read(model, device, reader_checkpoint, seconds, svtr=None, detector=None, korean_svtr=None):
    """POST /v1/read of a 1200 x 400 capture over loopback HTTP, sigma given and blind."""
    reader_path = resolve_reader(reader_checkpoint)
    reader = ReadService(reader_path, device=device, svtr=resolve_svtr(svtr, reader_path),
                         detector=resolve_detector(detector), korean_svtr=resolve_korean_svtr(korean_svtr, reader_path))
    try:
        reader.load()
    except ServerError as exc:
        print(f"\n/v1/read: skipped ({exc.message})")
        return
    networks = reader.describe()
    print(f"\n/v1/read with the reader {networks['checkpoint']}"
          + (f" and the SVTR {networks['svtr']} for lines without Hangul" if networks["svtr"] else " alone")
          + (f", the Korean SVTR {networks['korean_svtr']} for Korean lines" if networks["korean_svtr"] else "")
          + f"; lines found by {networks['detector'] or 'find_lines'}")
    engine = Engine(model, device=device)
    try:
        with LiveServer(create_app({"ENGINE": engine, "READER": reader})) as server, requests.Session() as session:
            for sigma in ("2", ""):
                data = text_capture(sigma=float(sigma or 2))

                def post():
                    response = session.post(server.url + "/v1/read", files={"image": ("a.png", data, "image/png")},
                                            data={"sigma": sigma}, timeout=120)
                    response.raise_for_status()

                median, times = time_call(post, seconds, min_reps=5)
                print(f"\n/v1/read, 1200x400 PNG (8 lines, sigma 2 px, {'given' if sigma else 'blind'}) over loopback HTTP: "
                      f"median {median * 1000:.0f} ms, p95 {float(np.percentile(times, 95)) * 1000:.0f} ms "
                      f"over {len(times)} requests")
    finally:
        engine.close()
        reader.close()


def bench_model_alone(model, device, precision, seconds, sizes=(768, 1024)):
    """Forward passes over whole size x size images: no tiles, no margins, no HTTP."""
    model = model.to(memory_format=torch.channels_last)
    sigma = torch.tensor([2.0], device=device)
    cells = []
    for size in sizes:
        x = torch.from_numpy(text_like_image(size, size)).permute(2, 0, 1)[None].contiguous(
            memory_format=torch.channels_last).to(device)

        def forward():
            with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
                model(x, sigma)

        median, _ = time_call(forward, seconds)
        cells.append(f"{size}x{size} {size * size / median / 1e6:.2f} MP/s ({median * 1000:.0f} ms)")
    print(f"\nmodel alone, one forward pass ({precision}): " + ", ".join(cells))


def imported_package(command, cwd):
    """The `server` package directory that ``command`` would import when started in ``cwd``, or None.

    `python -m` puts ``cwd`` first on the path; a console script puts its own directory there."""
    module = command[1:2] == ["-m"]
    python = command[0]
    if not module:  # a console script: its interpreter is on its shebang line
        first = Path(command[0]).read_text(errors="replace").splitlines()[:1]
        python = first[0][2:].strip() if first and first[0].startswith("#!") else sys.executable
    code = "import server; print(server.__file__)" if module else \
        "import sys; sys.path.pop(0); import server; print(server.__file__)"
    found = subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True)
    return Path(found.stdout.strip()).resolve().parent if found.returncode == 0 else None


def launchers(names=("script", "module")):
    """How the server gets started: the installed command (make run) and `python -m server` (the service units)."""
    found = {}
    script = Path(sys.executable).with_name("anti-aging")
    if "script" in names and script.exists():
        found["anti-aging serve (make run)"] = [str(script)]
    if "module" in names:
        found["python -m server serve (direct start, login services)"] = [sys.executable, "-m", "server"]
    return found


def bench_launch_paths(checkpoint, seconds, torch_threads, names=("script", "module")):
    """POST /v1/sharpen at 1024x1024 (sigma 2 and blind) and 1200x400 (sigma 2), raw PNG, against a server
    started each way, from a directory outside the checkout when that still runs this checkout's code.
    A launcher that would run another copy of the package (e.g. an editable install of another
    worktree) is reported and skipped: its figures would not be this code's."""
    from .loadtest import REPO, start_server, text_png

    here = Path(__file__).resolve().parent
    payloads = {size: text_png(*size) for size in ((1024, 1024), (1200, 400))}
    print("\nthrough POST /v1/sharpen over loopback (raw PNG), by how the server was started:")
    for name, command in launchers(names).items():
        with tempfile.TemporaryDirectory() as workdir:
            cwd = next((d for d in (workdir, REPO) if imported_package(command, d) == here), None)
            if cwd is None:
                print(f"  {name}: skipped, it runs {imported_package(command, workdir)}, not {here}", flush=True)
                continue
            process, url, log = start_server(checkpoint, workdir, torch_threads, command, cwd=cwd)
            load = os.getloadavg()[0]
            try:
                with requests.Session() as session:
                    def post(size, sigma="2"):
                        response = session.post(url + f"/v1/sharpen?sigma={sigma}", data=payloads[size],
                                                headers={"Content-Type": "image/png"}, timeout=300)
                        response.raise_for_status()

                    big, _ = time_call(lambda: post((1024, 1024)), seconds)
                    blind, _ = time_call(lambda: post((1024, 1024), ""), seconds)
                    wide, _ = time_call(lambda: post((1200, 400)), seconds, min_reps=5)
            finally:
                process.terminate()
                process.wait(30)
            start = next((line for line in log.read_text().splitlines() if line.startswith("anti-aging:")), "")
            setup = start.split("; device ")[-1].split("; serving")[0]
        print(f"  {name}: 1024x1024 sigma 2 {1024 * 1024 / big / 1e6:.2f} MP/s ({big * 1000:.0f} ms), "
              f"blind {1024 * 1024 / blind / 1e6:.2f} MP/s ({blind * 1000:.0f} ms); 1200x400 sigma 2 median "
              f"{wide * 1000:.0f} ms  [device {setup}; load {load:.2f} -> {os.getloadavg()[0]:.2f}; "
              f"started in {'the checkout' if cwd == REPO else 'a directory outside the checkout'}]", flush=True)


def psnr(image, reference):
    return float(10 * np.log10(1.0 / np.mean((np.clip(image, 0, 1) - reference) ** 2)))


def bench_sigma_range(model, device, count, size, sigmas=(4, 8, 12, 16, 24, 32)):
    """PSNR against the sharp text of: the blurred input, the engine's answer (scale space above
    the trained range), and the network told the true sigma at full size (what the engine avoids)."""
    from models.data.synth import render_sharp

    engine = Engine(model, device=device, precision="fp32")
    sharps = [render_sharp(np.random.default_rng(seed), size)[0].astype(np.float32) / 255 for seed in range(count)]
    print(f"\nsigma range ({count} synthetic text images of {size}x{size}, Gaussian blur; PSNR in dB against "
          f"the sharp text; trained to sigma {engine.sigma_range['trained_max']:g}, served to "
          f"{engine.sigma_range['max']:g}):")
    print(f"{'sigma':>6}  {'input':>7}  {'engine':>7}  {'net told sigma':>14}")
    try:
        for sigma in sigmas:
            scores = []
            for sharp in sharps:
                blurred = gaussian_blur(torch.from_numpy(sharp).permute(2, 0, 1)[None], sigma)
                with torch.inference_mode():
                    direct = model(blurred.to(device), torch.tensor([float(sigma)], device=device))
                blurred = blurred[0].permute(1, 2, 0).numpy()
                scores.append((psnr(blurred, sharp), psnr(engine.sharpen(blurred, sigma), sharp),
                               psnr(direct[0].permute(1, 2, 0).float().cpu().numpy(), sharp)))
            given, served, told = np.mean(scores, axis=0)
            print(f"{sigma:>6g}  {given:7.2f}  {served:7.2f}  {told:14.2f}", flush=True)
    finally:
        engine.close()


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        width, _, height = item.lower().partition("x")
        sizes.append((int(width), int(height)))
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="default: $ANTI_AGING_CHECKPOINT or the shipped checkpoint")
    parser.add_argument("--reader", help="reader checkpoint for /v1/read (default: $ANTI_AGING_READER or the shipped one)")
    parser.add_argument("--svtr", help="SVTR-LCNet checkpoint for lines without Hangul ('none': the reader alone; "
                                       "default: $ANTI_AGING_SVTR, else the shipped one beside the shipped reader)")
    parser.add_argument("--korean-svtr", help="SVTR-LCNet checkpoint for the Korean lines it is surer of than the reader "
                                              "('none': the reader; default: $ANTI_AGING_KOREAN_SVTR, else the shipped one)")
    parser.add_argument("--detector", help="line detector checkpoint ('none': find_lines; default: "
                                           "$ANTI_AGING_DETECTOR, else the shipped one where there is one)")
    parser.add_argument("--only-read", action="store_true", help="only the /v1/read figure")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated WxH (default {DEFAULT_SIZES})")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ", ".join(CONFIGS))
    parser.add_argument("--torch-threads", type=int, default=cpu_count(), help="CPU threads (default: all cores)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement")
    parser.add_argument("--e2e-precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--no-e2e", action="store_true", help="skip the HTTP measurements (in-process and launched)")
    parser.add_argument("--launchers", default="script,module",
                        help="which launch paths to measure: script (anti-aging serve), module (python -m server)")
    parser.add_argument("--only-http", action="store_true", help="only the launched servers' HTTP figures")
    parser.add_argument("--sigma-images", type=int, default=4,
                        help="synthetic text images for the sigma-range PSNR table (0: skip it)")
    parser.add_argument("--sigma-size", type=int, default=384, help="their side in pixels")
    args = parser.parse_args(argv)
    if argv is None:  # run as a program: the same allocator as `anti-aging serve`
        runtime.ensure_fast_allocator()

    device = resolve_device(args.device)
    if device == "cpu":
        torch.set_num_threads(max(1, args.torch_threads))
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}")
    print(f"device: {device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else
                                 f", {cpu_count()} cores, torch threads {torch.get_num_threads()}"))
    print(f"allocator: {runtime.allocator_in_use()}; "
          f"load average before start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"(other work on the machine slows every figure)")
    launch_names = [name.strip() for name in args.launchers.split(",") if name.strip()]
    if args.only_http:
        bench_launch_paths(args.checkpoint, args.seconds, args.torch_threads, launch_names)
        return
    model = load_model(args.checkpoint, device)
    if args.only_read:
        bench_read(model, device, args.reader, args.seconds, args.svtr, args.detector, args.korean_svtr)
        return
    bench_throughput(model, device, parse_sizes(args.sizes), configs, args.seconds)
    bench_model_alone(model, device, resolve_precision("auto", device), args.seconds)
    if not args.no_e2e:
        bench_end_to_end(model, device, args.seconds, args.e2e_precision)
        bench_read(model, device, args.reader, args.seconds, args.svtr, args.detector, args.korean_svtr)
        bench_launch_paths(args.checkpoint, args.seconds, args.torch_threads, launch_names)
    if args.sigma_images:
        bench_sigma_range(model, device, args.sigma_images, args.sigma_size)


if __name__ == "__main__":
    main()
