"""Command line: ``anti-aging serve | sharpen | read | install-service | uninstall-service``
(or ``python -m server ...``)."""
import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from models import REGISTRY, CheckpointError

from . import DEFAULT_HOST, DEFAULT_PORT, create_app, resolve_checkpoint, runtime, service
from .engine import PRECISIONS, Engine, cpu_count, resolve_device, validate_sigma
from .errors import ReaderUnavailable, ServerError
from .imaging import DEFAULT_MAX_PIXELS
from .reading import (DETECTOR_ENV, KOREAN_SVTR_ENV, READER_ENV, SVTR_ENV, ReadService, read_with_line_colours,
                      reader_pixels, resolve_detector, resolve_korean_svtr, resolve_reader, resolve_svtr)

TOKEN_ENV = "ANTI_AGING_TOKEN"


def add_engine_options(parser):
    parser.add_argument("--model", choices=sorted(REGISTRY), help="model name (default: the checkpoint's)")
    parser.add_argument("--checkpoint", help="checkpoint file (default: $ANTI_AGING_CHECKPOINT, "
                                             "else models/checkpoints/<model>.pt)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: bf16 autocast on GPUs and CPUs with native bf16 (AVX512-BF16/AMX), "
                             "else fp32")
    parser.add_argument("--torch-threads", type=int, default=cpu_count(),
                        help="CPU threads per forward pass (default: all cores; fewer when the machine is busy)")


def add_reader_option(parser):
    parser.add_argument("--reader", metavar="CKPT", help=f"reader checkpoint for reading text (default: ${READER_ENV}, "
                                                         "else models/checkpoints/reader.pt)")
    parser.add_argument("--svtr", metavar="CKPT",
                        help=f"SVTR-LCNet checkpoint that reads the lines without Hangul ('none': the reader reads "
                             f"all; default: ${SVTR_ENV}, else models/checkpoints/svtr_reader.pt beside the "
                             "shipped reader)")
    parser.add_argument("--korean-svtr", metavar="CKPT",
                        help=f"SVTR-LCNet checkpoint whose head has Hangul, that reads the Korean lines it is surer "
                             f"of than the reader ('none': the reader reads them; default: ${KOREAN_SVTR_ENV}, else "
                             "models/checkpoints/svtr_korean.pt beside the shipped reader)")
    parser.add_argument("--detector", metavar="CKPT",
                        help=f"line detector checkpoint that finds the lines ('none': the rule-based finder; default: "
                             f"${DETECTOR_ENV}, else models/checkpoints/line_detector.pt where it is shipped)")


def read_service(args, device, **options):
    reader = resolve_reader(args.reader)
    return ReadService(reader, device=device, svtr=resolve_svtr(args.svtr, reader),
                       detector=resolve_detector(args.detector),
                       korean_svtr=resolve_korean_svtr(args.korean_svtr, reader), **options)


def add_serve_options(parser):
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    add_engine_options(parser)
    add_reader_option(parser)
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                        help=f"require 'Authorization: Bearer TOKEN' on /v1/* (or set ${TOKEN_ENV})")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="allow this Origin, e.g. chrome-extension://<id> or moz-extension://<uuid> (pins extensions to the listed ones); "
                             "repeatable")
    parser.add_argument("--threads", type=int, default=8, help="request threads (inference itself is serialized)")
    parser.add_argument("--queue-size", type=int, default=64, help="images waiting at most, beyond that 503")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request before 503")
    parser.add_argument("--log-file", help="append the start line and the request log to this file (default: stdout)")


def build_parser():
    parser = argparse.ArgumentParser(prog="anti-aging", description="anti-aging local sharpening server")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server (waitress)")
    add_serve_options(serve)

    sharpen = commands.add_parser("sharpen", help="sharpen image files")
    sharpen.add_argument("inputs", nargs="+", metavar="IN", help="PNG, JPEG, WebP, BMP or GIF files")
    where = sharpen.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="output PNG (one input only)")
    where.add_argument("--out-dir", help="directory for the outputs (default: beside each input, NAME.sharp.png)")
    sharpen.add_argument("--sigma", type=float, help="blur sigma in image pixels (default: blind)")
    sharpen.add_argument("--max-pixels", type=int, default=4 * DEFAULT_MAX_PIXELS)
    sharpen.add_argument("--overwrite", action="store_true",
                         help="replace existing output files (inputs are never replaced)")
    add_engine_options(sharpen)

    read = commands.add_parser(
        "read", help="read the text of image files: printed with its verdict and uncertain characters in "
                     "[brackets], or as JSON; writes no file")
    read.add_argument("inputs", nargs="+", metavar="FILE", help="PNG, JPEG, WebP, BMP or GIF files")
    read.add_argument("--sigma", type=float, help="blur sigma in image pixels (default: blind)")
    read.add_argument("--json", action="store_true",
                      help="one JSON object per file and line: what POST /v1/read answers, with its \"file\"")
    add_reader_option(read)
    read.add_argument("--max-pixels", type=int, default=4 * DEFAULT_MAX_PIXELS)
    read.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    read.add_argument("--torch-threads", type=int, default=cpu_count(),
                      help="CPU threads (default: all cores; fewer when the machine is busy)")

    install = commands.add_parser(
        "install-service", help="run `serve` at login: a systemd user unit (Linux), a launchd agent (macOS) "
                                "or a Task Scheduler logon task (Windows)")
    add_serve_options(install)
    install.add_argument("--enable", action="store_true", help="also start it now (and enable it, on Linux)")

    commands.add_parser("uninstall-service", help="stop and remove what install-service set up")
    return parser


def load_engine(args, **options):
    checkpoint = Path(resolve_checkpoint(args.checkpoint, args.model or "nafunet"))
    if not checkpoint.is_file():
        raise SystemExit(
            f"error: checkpoint not found: {checkpoint}\n"
            f"Train one (make train), or pass --checkpoint PATH, or set ANTI_AGING_CHECKPOINT.")
    try:
        engine = Engine.from_checkpoint(checkpoint, device=args.device, precision=args.precision, **options)
    except (CheckpointError, ServerError) as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.model and engine.name != args.model:
        engine.close()
        raise SystemExit(f"error: {checkpoint} holds a {engine.name!r} model, not {args.model!r}")
    if engine.device == "cpu":
        import torch

        torch.set_num_threads(max(1, args.torch_threads))
    return engine


def load_reader(args, device, **options):
    """The ReadService for `serve`, loaded and warmed up. A reader checkpoint named by --reader or
    $ANTI_AGING_READER must load; without one, and the shipped reader.pt missing or unusable, the
    server still sharpens and /v1/read answers 503 reader_unavailable."""
    service = read_service(args, device, **options)
    try:
        service.warmup()
    except ReaderUnavailable as exc:
        if any((args.reader, os.environ.get(READER_ENV), args.svtr, os.environ.get(SVTR_ENV), args.detector,
                os.environ.get(DETECTOR_ENV), args.korean_svtr, os.environ.get(KOREAN_SVTR_ENV))):
            raise SystemExit(f"error: {exc.message}") from None
    return service


def bound_url(server):
    """The address the server really listens on, e.g. http://127.0.0.1:8765/ or http://[::1]:8765/."""
    host = server.effective_host
    return f"http://{f'[{host}]' if ':' in host else host}:{server.effective_port}/"


def start_line(info, server, torch_threads, reader):
    """The one line `serve` prints at start: what runs, how fast it can be, and where."""
    threads = (f"{torch_threads} torch threads (OpenMP wait {os.environ.get('OMP_WAIT_POLICY', 'default').lower()})"
               if info["device"] == "cpu" else "GPU")
    helper = f" with {reader['svtr']} for lines without Hangul" if reader["svtr"] else ""
    if reader.get("korean_svtr"):
        helper += f" and {reader['korean_svtr']} for Korean lines"
    reading = (f"reader from {reader['checkpoint']}{helper}" if reader["loaded"]
               else f"no reader ({reader['checkpoint']} not loaded: /v1/read answers 503)")
    return (f"anti-aging: {info['model']} from {info['checkpoint']}; device {info['device']}, "
            f"precision {info['precision']}, {threads}, allocator {runtime.allocator_in_use()}; "
            f"{reading}; serving {bound_url(server)}")


STOP_SIGNALS = ("SIGINT", "SIGTERM")


def stop_on_signals():
    """Make SIGINT and SIGTERM stop `serve` gracefully, whatever the process inherited; returns a list
    that receives the name of the signal that stopped it.

    A job started in the background of a non-interactive shell (a script's `cmd &`, a CI step, a test
    run in the background) inherits SIGINT *ignored*, and Python then never installs its
    KeyboardInterrupt handler: such a server ignored SIGINT for good (the rare 30 s hang of
    test_serve_runs_waitress_and_logs_each_request). SIGTERM (systemd, launchd, kill) killed it
    without closing anything. Now both raise KeyboardInterrupt in the main thread: waitress lets the
    requests in flight finish (up to 5 s), then the engine stops. The first signal puts the default
    actions back, so a second one stops the process at once.
    """
    received = []

    def stop(signum, frame):
        for name in STOP_SIGNALS:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), stop)
    return received


def serve(args):
    from .wsgi import create_server

    if args.log_file:
        sys.stdout = sys.stderr = open(args.log_file, "a", buffering=1, encoding="utf-8")
    engine = load_engine(args, queue_size=args.queue_size, release_memory=runtime.memory_releaser())
    engine.warmup()
    try:
        reader = load_reader(args, engine.device, queue_size=args.queue_size)
    except SystemExit:
        engine.close()
        raise
    app = create_app({
        "ENGINE": engine, "READER": reader, "HOST": args.host, "PORT": args.port, "TOKEN": args.token,
        "ALLOWED_ORIGINS": args.allow_origin, "REQUEST_TIMEOUT": args.timeout,
    })
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        server = create_server(app, args.host, args.port, threads=args.threads)
    except OSError as exc:
        raise SystemExit(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    import torch

    received = stop_on_signals()
    print(start_line(engine.describe(), server, torch.get_num_threads(), reader.describe()), flush=True)
    try:
        server.run()  # returns when waitress caught KeyboardInterrupt (and let requests in flight finish)
    except KeyboardInterrupt:
        pass
    finally:
        engine.close()  # images not yet started answer 503 at once
        reader.close()
        # Waitress gave its request threads 5 s; give those still answering as long again, so that no
        # daemon thread is writing a response or a log line while the interpreter finalizes.
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
    print(f"anti-aging: stopped ({received[0] if received else 'KeyboardInterrupt'})", flush=True)
    return 0


class OutputCollision(Exception):
    """An output would replace an input, or (without --overwrite) an existing file."""


def plan_outputs(inputs, output=None, out_dir=None, overwrite=False, exists=os.path.exists):
    """[(input, output, renamed)] for every distinct input, decided before anything is written.

    Inputs are never replaced, even with ``overwrite``. Two inputs that would share an output
    name (x.png and x.jpg in one --out-dir) get distinct names: the first keeps ``x.png``, the
    next gets ``x.jpg.png``, then ``x-2.png``... Without ``overwrite`` an existing file is
    never a target: OutputCollision names it. ``exists`` is injectable for tests.
    """
    sources = list(dict.fromkeys(Path(name) for name in inputs))
    taken = {source.resolve() for source in sources}
    plan = []
    for source in sources:
        if output:
            candidates = [Path(output)]
        else:
            directory = Path(out_dir) if out_dir else source.parent
            stem = source.stem if out_dir else f"{source.stem}.sharp"
            candidates = [directory / f"{stem}.png", directory / f"{stem}{source.suffix}.png",
                          *(directory / f"{stem}-{n}.png" for n in range(2, len(sources) + 3))]
        target = next((c for c in candidates if c.resolve() not in taken), None)
        if target is None:
            raise OutputCollision(f"{output} is an input; choose another -o/--output")
        if not overwrite and exists(target):
            raise OutputCollision(f"{target} already exists; pass --overwrite to replace it")
        taken.add(target.resolve())
        plan.append((source, target, target != candidates[0]))
    return plan


def write_new(path, data, overwrite):
    """Write ``data`` to ``path``; without ``overwrite`` only when no file is there (checked atomically)."""
    if overwrite:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)
        return
    with open(path, "xb") as out:
        out.write(data)


def sharpen(args):
    from tqdm import tqdm

    from .imaging import decode_image, encode_png

    if args.output and len(set(args.inputs)) > 1:
        raise SystemExit("error: -o/--output takes one input; use --out-dir for several")
    try:
        plan = plan_outputs(args.inputs, args.output, args.out_dir, args.overwrite)
    except OutputCollision as exc:
        raise SystemExit(f"error: {exc}") from None
    engine = load_engine(args)
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    failures = 0
    try:
        for source, target, renamed in tqdm(plan, unit="image", desc="sharpening"):
            if renamed:
                tqdm.write(f"{source} -> {target} (another input already writes that name)", file=sys.stderr)
            try:
                rgb, alpha = decode_image(source.read_bytes(), max_pixels=args.max_pixels)
                result = engine.sharpen(rgb, args.sigma)
                write_new(target, encode_png(result, alpha), args.overwrite)
            except FileExistsError:
                failures += 1
                tqdm.write(f"{source}: {target} appeared meanwhile; not replaced (pass --overwrite)", file=sys.stderr)
            except (OSError, ServerError) as exc:
                failures += 1
                tqdm.write(f"{source}: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
    finally:
        engine.close()
    return 1 if failures else 0


def mark_uncertain(text, confidences, confident):
    """``text`` with each run of characters read with confidence below ``confident`` wrapped in [ ];
    a bracket or backslash the reader read is escaped with a backslash, so the marks stay unambiguous."""
    out, open_run = [], False
    for ch, confidence in zip(text, confidences):
        uncertain = confidence < confident
        if uncertain != open_run:
            out.append("[" if uncertain else "]")
            open_run = uncertain
        out.append("\\" + ch if ch in "[]\\" else ch)
    return "".join(out) + ("]" if open_run else "")


def format_reading(source, reading, confident):
    """What `read` prints for one file: a line with the verdict, then the text; for an unreadable
    image only the verdict, never the letters the reader would have invented."""
    if reading["verdict"] == "unreadable":
        return f"{source}: unreadable: this cannot be read"
    lines = reading["lines"]
    share = f"{reading['confident_share']:.0%} of the characters read with confidence"
    uncertain = any(c < confident for line in lines for c in line["confidence"])
    legend = "; [brackets] mark the uncertain ones, \\[ and \\] are brackets read" if uncertain else ""
    verdict = "readable" if reading["verdict"] == "readable" else "partly readable"
    return "\n".join([f"{source}: {verdict} ({share}{legend})",
                      *(mark_uncertain(line["text"], line["confidence"], confident) for line in lines)])


def read(args):
    from models.reading.pipeline import CONFIDENT

    from .imaging import decode_image

    try:
        sigma = validate_sigma(args.sigma)
        device = resolve_device(args.device)
        reader = read_service(args, device).load()
    except ServerError as exc:
        raise SystemExit(f"error: {exc.message}") from None
    if device == "cpu":
        import torch

        torch.set_num_threads(max(1, args.torch_threads))
    failures = 0
    for index, source in enumerate(dict.fromkeys(args.inputs)):
        try:
            rgb, alpha = decode_image(Path(source).read_bytes(), max_pixels=args.max_pixels)
            reading = read_with_line_colours(reader, reader_pixels(rgb, alpha), sigma)
        except OSError as exc:
            failures += 1
            report_failure(source, "cannot_open", f"cannot open: {exc.strerror or exc}", args.json)
            continue
        except ServerError as exc:
            failures += 1
            report_failure(source, exc.code, exc.message, args.json)
            continue
        if args.json:
            print(json.dumps({"file": source, **reading, "sigma": sigma}, ensure_ascii=False), flush=True)
        else:
            print(("\n" if index else "") + format_reading(source, reading, CONFIDENT), flush=True)
    return 1 if failures else 0


def report_failure(source, code, message, as_json):
    print(f"{source}: {message}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps({"file": source, "error": {"code": code, "message": message}}), flush=True)


def serve_argv(args):
    """The `serve` options given to install-service, as argv for the unit's ExecStart."""
    argv = ["--host", args.host, "--port", str(args.port), "--device", args.device, "--precision", args.precision,
            "--torch-threads", str(args.torch_threads)]
    if args.model:
        argv += ["--model", args.model]
    if args.checkpoint:
        argv += ["--checkpoint", str(Path(args.checkpoint).resolve())]
    if args.reader:
        argv += ["--reader", str(Path(args.reader).resolve())]
    if args.svtr:
        argv += ["--svtr", args.svtr if args.svtr == "none" else str(Path(args.svtr).resolve())]
    if args.korean_svtr:
        argv += ["--korean-svtr",
                 args.korean_svtr if args.korean_svtr == "none" else str(Path(args.korean_svtr).resolve())]
    if args.detector:
        argv += ["--detector", args.detector if args.detector == "none" else str(Path(args.detector).resolve())]
    if args.token:
        argv += ["--token", args.token]
    for origin in args.allow_origin:
        argv += ["--allow-origin", origin]
    if args.log_file:
        argv += ["--log-file", str(Path(args.log_file).resolve())]
    return argv + ["--threads", str(args.threads), "--queue-size", str(args.queue_size),
                   "--timeout", f"{args.timeout:g}"]


def main(argv=None, runner=subprocess.run, platform=sys.platform):
    args = build_parser().parse_args(argv)
    if argv is None and args.command in ("serve", "sharpen", "read"):  # a real command line, not a call from Python
        runtime.ensure_fast_allocator()
    if args.command == "serve":
        return serve(args)
    if args.command == "sharpen":
        return sharpen(args)
    if args.command == "read":
        return read(args)
    if args.command == "install-service":
        return service.install(serve_argv(args), enable=args.enable, runner=runner, platform=platform)
    return service.uninstall(runner=runner, platform=platform)


if __name__ == "__main__":
    sys.exit(main())
