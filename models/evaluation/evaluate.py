"""Evaluate deblurring on the Chromium dev set: PSNR, SSIM and Tesseract CER per sigma bucket.

    python -m models.evaluation.evaluate [--devset models/devset] [--models nafunet,...]
                              [--checkpoint LABEL=PATH ...] [--out docs/eval] [--limit N]

Methods: the blurred input, unsharp mask, Richardson-Lucy and Wiener with the exact sigma,
each model whose checkpoint exists run blind (sigma=None) and with sigma given, and the sharp
capture as the upper bound. Every output is clamped and rounded to 8 bits, as the server
returns it. Writes results.json, results.md and examples.png to --out and prints the tables.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from skimage.metrics import structural_similarity

from models import REGISTRY, CheckpointError, default_checkpoint, load_checkpoint
from models.evaluation.baselines import richardson_lucy, unsharp_mask, wiener
from models.data.chromium_devset import load_pair, psnr_uint8, read_manifest
from models.data.splits import by_split, split_of, split_sections
from models.evaluation.ocr import cer, ocr_scale, read_text

BUCKETS = (("<=1", -math.inf, 1.0), ("1-2", 1.0, 2.0), ("2-4", 2.0, 4.0), (">4", 4.0, math.inf))
PSNR_CAP = 60.0  # identical 8-bit images have infinite PSNR; beyond 60 dB only rounding differs
DEFAULT_CACHE = Path.home() / ".cache" / "anti-aging" / "ocr.json"
OCR_SAVE_EVERY = 200
LABEL_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def sigma_bucket(sigma):
    for name, low, high in BUCKETS:
        if low < sigma <= high:
            return name
    raise ValueError(f"sigma {sigma} fits no bucket")


def capped_psnr(a, b):
    return min(PSNR_CAP, psnr_uint8(a, b))


def ssim(a, b):
    side = min(a.shape[0], a.shape[1])
    window = min(7, side if side % 2 else side - 1)
    return float(structural_similarity(a, b, channel_axis=2, data_range=255, win_size=window))


def to_float(image):
    return image.astype(np.float64) / 255.0


def to_uint8(image):
    return (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)


# ---------------------------------------------------------------- methods

CLASSICAL = ("unsharp_mask", "richardson_lucy", "wiener")


def baseline_methods(classical=CLASSICAL):
    """name -> fn(blurred uint8, sharp uint8, sigma) -> uint8, in table order (models go between):
    the input, then the ``classical`` restorations asked for."""
    methods = {
        "input": lambda blurred, sharp, sigma: blurred,
        "unsharp_mask": lambda blurred, sharp, sigma: to_uint8(unsharp_mask(to_float(blurred), sigma)),
        "richardson_lucy": lambda blurred, sharp, sigma: to_uint8(richardson_lucy(to_float(blurred), sigma)),
        "wiener": lambda blurred, sharp, sigma: to_uint8(wiener(to_float(blurred), sigma)),
    }
    return {name: fn for name, fn in methods.items() if name == "input" or name in classical}


def model_method(model, blind):
    def run(blurred, sharp, sigma):
        x = torch.from_numpy(np.array(blurred)).permute(2, 0, 1)[None].float() / 255.0
        with torch.inference_mode():
            y = model(x, sigma=None if blind else torch.tensor([float(sigma)]))
        return (y[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return run


def parse_checkpoints(items):
    checkpoints = {}
    for item in items or ():
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"--checkpoint expects LABEL=PATH, got {item!r}")
        checkpoints[label] = Path(path)
    return checkpoints


def load_models(names, checkpoints, log=print):
    """label -> model for each requested label whose checkpoint exists (explicit paths must exist)."""
    models = {}
    for label in dict.fromkeys(list(names) + list(checkpoints)):
        path = checkpoints.get(label)
        if path is None:
            if label not in REGISTRY:
                raise ValueError(f"unknown model {label!r}: registered {sorted(REGISTRY)}, or pass --checkpoint {label}=PATH")
            path = default_checkpoint(label)
            if not path.is_file():
                log(f"skipping {label}: no checkpoint at {path}")
                continue
        try:
            models[label] = load_checkpoint(path)
        except CheckpointError as exc:
            raise ValueError(str(exc)) from exc
    return models


def all_methods(models, classical=CLASSICAL):
    methods = baseline_methods(classical)
    for label, model in models.items():
        methods[f"{label}/blind"] = model_method(model, blind=True)
        methods[f"{label}/sigma"] = model_method(model, blind=False)
    methods["sharp"] = lambda blurred, sharp, sigma: sharp
    return methods


# ---------------------------------------------------------------- OCR

class OcrCache:
    """Tesseract readings keyed by image content and OCR settings, kept on disk between runs."""

    def __init__(self, path):
        self.path = Path(path) if path else None
        self.entries = {}
        if self.path and self.path.is_file():
            try:
                self.entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.entries = {}

    @staticmethod
    def key(image, lang, single_line, scale):
        digest = hashlib.sha1(image.tobytes() + str(image.shape).encode()).hexdigest()
        return f"{digest}:{lang}:{int(single_line)}:{scale:.3f}"

    def save(self):
        """Write the readings, merged with whatever another evaluation saved meanwhile (runs may share the file)."""
        if self.path:
            self.entries = {**OcrCache(self.path).entries, **self.entries}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.path)


def ocr_settings(sample):
    """Tesseract's settings for a sample: one line unless a paragraph or several lines (pixset)."""
    single_line = sample["kind"] != "paragraph" and len(sample.get("lines", ())) <= 1
    return {"lang": sample["lang"], "single_line": single_line,
            "scale": ocr_scale(sample["size_css"] * sample["dpr"])}


# ---------------------------------------------------------------- evaluation

def evaluate(devset, models, limit=None, workers=2, cache=None, log=print, classical=CLASSICAL):
    """Per-sample metrics and the outputs kept for the example picture."""
    devset = Path(devset)
    manifest = read_manifest(devset)
    samples = manifest["samples"]
    if limit and limit < len(samples):  # evenly spaced, so a quick run still spans paths, DPRs and sigmas
        samples = [samples[i] for i in np.linspace(0, len(samples) - 1, limit).round().astype(int)]
    if not samples:
        raise ValueError(f"{devset}: no samples to evaluate")
    methods = all_methods(models, classical)
    cache = cache or OcrCache(None)
    compute_seconds = dict.fromkeys(methods, 0.0)
    records, jobs, outputs = [], {}, {}
    started = time.time()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # Tesseract runs as a subprocess: threads suffice
        for index, sample in enumerate(samples):
            sharp, blurred = load_pair(devset, sample)
            sigma = float(sample["sigma_px"])
            settings = ocr_settings(sample)
            record = {key: sample[key] for key in ("id", "text", "lang", "kind", "raster", "dpr", "blur_css", "sigma_px")}
            record.update(element=sample.get("element", sample["id"]), bucket=sigma_bucket(sigma), split=split_of(sample),
                          methods={})
            for name, method in methods.items():
                tick = time.perf_counter()
                out = method(blurred, sharp, sigma)
                compute_seconds[name] += time.perf_counter() - tick
                metrics = {"psnr": capped_psnr(out, sharp), "ssim": ssim(out, sharp)}
                if sigma == 0 and name != "sharp":
                    metrics["identity_psnr"] = capped_psnr(out, blurred)
                record["methods"][name] = metrics
                key = cache.key(out, **settings)
                if key not in cache.entries and key not in jobs:
                    jobs[key] = pool.submit(read_text, out, **settings)
                metrics["ocr_key"] = key
                outputs[(sample["id"], name)] = out
            records.append(record)
            if (index + 1) % 20 == 0:
                log(f"outputs for {index + 1}/{len(samples)} samples, {len(jobs)} readings queued ({time.time() - started:.0f}s)")
        for done, (key, job) in enumerate(jobs.items(), start=1):
            cache.entries[key] = job.result()
            if done % OCR_SAVE_EVERY == 0 or done == len(jobs):  # an interrupted run keeps what it read
                cache.save()
                log(f"Tesseract {done}/{len(jobs)} readings ({time.time() - started:.0f}s)")
    for record in records:
        for metrics in record["methods"].values():
            metrics["ocr"] = cache.entries[metrics.pop("ocr_key")]
            metrics["cer"] = cer(metrics["ocr"], record["text"], record["lang"])
    cache.save()
    timing = {
        "wall_seconds": round(time.time() - started, 2), "samples": len(records), "ocr_calls": len(jobs),
        "compute_seconds_per_sample": {name: round(s / len(records), 4) for name, s in compute_seconds.items()},
    }
    return records, outputs, timing, manifest


def _mean(values):
    return round(float(np.mean(values)), 4) if values else None


def summarize(records, methods, key=None):
    """method -> bucket -> {n, psnr, ssim, cer} (means over samples), plus an 'all' bucket."""
    summary = {}
    for method in methods:
        summary[method] = {}
        for bucket in [name for name, _, _ in BUCKETS] + ["all"]:
            rows = [r["methods"][method] for r in records
                    if (bucket == "all" or r["bucket"] == bucket) and (key is None or key(r))]
            if rows:
                summary[method][bucket] = {"n": len(rows), **{m: _mean([row[m] for row in rows]) for m in ("psnr", "ssim", "cer")}}
    return summary


def by_css_blur(records, methods):
    """method -> CSS blur radius -> DPR -> {n, cer}: how readable each radius leaves the text at each
    pixel density. A radius blurs the same share of a letter at every DPR, so equal rows across DPR
    say the limit is the blur against the text's size, not the number of pixels."""
    cells = {}
    for method in methods:
        cells[method] = {}
        for radius in sorted({r["blur_css"] for r in records}):
            row = {}
            for dpr in sorted({r["dpr"] for r in records}):
                values = [r["methods"][method]["cer"] for r in records if r["blur_css"] == radius and r["dpr"] == dpr]
                if values:
                    row[f"{dpr:g}"] = {"n": len(values), "cer": _mean(values)}
            cells[method][f"{radius:g}"] = row
    return cells


def identity_check(records, methods):
    """PSNR of each method's output against its own input on the unblurred (sigma = 0) samples."""
    result = {}
    for method in methods:
        values = [r["methods"][method]["identity_psnr"] for r in records
                  if r["sigma_px"] == 0 and "identity_psnr" in r["methods"][method]]
        if values:
            result[method] = {"n": len(values), "mean_psnr": _mean(values), "min_psnr": round(min(values), 2)}
    return result


def metric_tables(summary, methods):
    """Markdown lines of the CER, PSNR and SSIM tables of one summary (``summarize``'s)."""
    buckets = [name for name, _, _ in BUCKETS] + ["all"]
    head_summary = summary[methods[0]]
    counts = " | ".join(f"{b} (n={head_summary[b]['n']})" if b in head_summary else b for b in buckets)
    lines = []
    for metric, title, fmt in (("cer", "Tesseract CER (lower is better)", "{:.3f}"),
                               ("psnr", "PSNR dB vs sharp capture", "{:.2f}"),
                               ("ssim", "SSIM vs sharp capture", "{:.3f}")):
        lines += [f"#### {title}", "", f"| method | {counts} |", "|---" * (len(buckets) + 1) + "|"]
        for method in methods:
            cells = [fmt.format(summary[method][b][metric]) if b in summary[method] else "–" for b in buckets]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def markdown(results):
    methods = results["methods"]
    lines = [f"Dev set: {results['devset']} ({results['samples']} samples, {results['chromium']}); "
             f"sigma buckets in device px; PSNR capped at {PSNR_CAP:g} dB. The test split is what the docs "
             f"report; no checkpoint or setting was chosen on it (``models.data.splits``).", ""]
    lines += split_sections(results, lambda summary: metric_tables(summary, methods),
                            lambda summary: summary[methods[0]]["all"]["n"])
    if results["identity"]:
        lines += ["### Unblurred input kept (sigma = 0): PSNR dB of output vs input", "",
                  "| method | n | mean | min |", "|---|---|---|---|"]
        for method, row in results["identity"].items():
            lines.append(f"| {method} | {row['n']} | {row['mean_psnr']:.2f} | {row['min_psnr']:.2f} |")
        lines.append("")
    css = results.get("by_css_blur")
    if css:
        radii = list(css[methods[0]])
        dprs = sorted({dpr for row in css[methods[0]].values() for dpr in row}, key=float)
        lines += [f"### Tesseract CER by CSS blur radius (DPR {' / '.join(dprs)})", "",
                  "| method | " + " | ".join(f"{r} px" for r in radii) + " |", "|---" * (len(radii) + 1) + "|"]
        for method in methods:
            cells = [" / ".join(f"{css[method][r][d]['cer']:.3f}" if d in css[method][r] else "–" for d in dprs)
                     for r in radii]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    timing = results["timing"]
    lines += [f"Run: {timing['samples']} samples, {timing['ocr_calls']} Tesseract calls, {timing['wall_seconds']:.0f} s wall.", ""]
    return "\n".join(lines)


def pick_examples(records, count=4):
    """One visibly blurred Latin sample per bucket, each of a different element when possible."""
    chosen, elements = [], set()
    for bucket, _, _ in BUCKETS:
        candidates = sorted((r for r in records if r["bucket"] == bucket and r["methods"]["input"]["psnr"] < 35),
                            key=lambda r: (r["lang"] != "en" or r["kind"] == "paragraph", r["element"] in elements, r["id"]))
        if candidates:
            chosen.append(candidates[0])
            elements.add(candidates[0]["element"])
    return chosen[:count]


def example_picture(records, outputs, methods, path, max_width=520):
    rows = pick_examples(records)
    columns = ["input"] + (["wiener"] if "wiener" in methods else []) + [m for m in methods if m.endswith("/sigma")] + ["sharp"]
    try:
        font = ImageFont.truetype(LABEL_FONT, 14)
    except OSError:
        font = ImageFont.load_default()

    def fit(image):
        image = Image.fromarray(image)
        if image.width > max_width:
            image = image.resize((max_width, max(1, round(image.height * max_width / image.width))), Image.LANCZOS)
        return image

    cells = [[fit(outputs[(r["id"], c)]) for c in columns] for r in rows]
    col_widths = [max(row[i].width for row in cells) for i in range(len(columns))] if cells else [0] * len(columns)
    label_h, gap = 22, 8
    row_heights = [max(im.height for im in row) + label_h for row in cells]
    canvas = Image.new("RGB", (sum(col_widths) + gap * (len(columns) + 1), label_h + sum(row_heights) + gap * len(rows) + gap), "white")
    draw = ImageDraw.Draw(canvas)
    x = gap
    for name, width in zip(columns, col_widths):
        draw.text((x, 4), name, fill="black", font=font)
        x += width + gap
    y = label_h
    for record, row, height in zip(rows, cells, row_heights):
        draw.text((gap, y + 2), f"sigma {record['sigma_px']:g} px ({record['raster']}, DPR {record['dpr']})", fill="#555", font=font)
        x = gap
        for image, width in zip(row, col_widths):
            canvas.paste(image, (x, y + label_h))
            x += width + gap
        y += height + gap
    canvas.save(path, optimize=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", default="models/devset")
    parser.add_argument("--models", default=None,
                        help="comma-separated registered models (default: every one whose checkpoint exists; '' for none)")
    parser.add_argument("--checkpoint", action="append", metavar="LABEL=PATH",
                        help="evaluate this checkpoint under LABEL (repeatable; overrides the default path of a registered name)")
    parser.add_argument("--out", default="docs/eval")
    parser.add_argument("--limit", type=int, default=None, help="evaluate N evenly spaced samples")
    parser.add_argument("--workers", type=int, default=2, help="parallel Tesseract processes")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (Tesseract workers run alongside on the other cores)")
    parser.add_argument("--ocr-cache", default=str(DEFAULT_CACHE), help="JSON cache of Tesseract readings ('' disables)")
    parser.add_argument("--baselines", default=",".join(CLASSICAL),
                        help="comma-separated classical restorations to score beside the input ('' for none: "
                             "a quicker A/B of checkpoints)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    classical = tuple(name for name in args.baselines.split(",") if name)
    if set(classical) - set(CLASSICAL):
        parser.error(f"--baselines: unknown {sorted(set(classical) - set(CLASSICAL))}; known: {', '.join(CLASSICAL)}")
    torch.set_num_threads(args.threads)
    names = list(REGISTRY) if args.models is None else [n for n in args.models.split(",") if n]
    try:
        checkpoints = parse_checkpoints(args.checkpoint)
        models = load_models(names, checkpoints, log=lambda m: print(m, file=sys.stderr))
        records, outputs, timing, manifest = evaluate(
            args.devset, models, args.limit, args.workers, OcrCache(args.ocr_cache), log=lambda m: print(m, file=sys.stderr),
            classical=classical)
    except (ValueError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")
    methods = list(all_methods(models, classical))
    results = {
        "devset": str(args.devset), "chromium": manifest.get("chromium"), "samples": len(records),
        "buckets": [name for name, _, _ in BUCKETS], "methods": methods,
        "checkpoints": {label: str(checkpoints.get(label, default_checkpoint(label))) for label in models},
        "summary": summarize(records, methods),
        "splits": by_split(records, lambda chosen: summarize(chosen, methods)),
        "by_raster": {raster: summarize(records, methods, key=lambda r, raster=raster: r["raster"] == raster)
                      for raster in sorted({r["raster"] for r in records})},
        "by_css_blur": by_css_blur(records, methods),
        "identity": identity_check(records, methods), "timing": timing, "per_sample": records,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    table = markdown(results)
    (out / "results.md").write_text(table, encoding="utf-8")
    example_picture(records, outputs, methods, out / "examples.png")
    print(table)


if __name__ == "__main__":
    main()
