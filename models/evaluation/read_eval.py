"""Evaluate reading on a dev set: the reader's text CER per sigma bucket (sigma given and blind),
beside sharpen-then-Tesseract; how often a character marked confident is wrong; how much of the
text is read confidently; and a reliability table and plot (confidence against accuracy).

    python -m models.evaluation.read_eval [--devset models/devset] [--out docs/eval] [--reader PATH] [--svtr PATH]
        [--limit N]

The sharpen-then-Tesseract figures are read from ``<out>/results.json``, which
``models.evaluation.evaluate`` writes for the same set (``make evaluate`` runs both).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from models import CheckpointError
from models.data.chromium_devset import load_pair, read_manifest
from models.data.splits import SPLITS, by_split, split_of, split_sections
from models.evaluation.evaluate import BUCKETS, LABEL_FONT, sigma_bucket
from models.evaluation.ocr import cer, normalize_text
from models.reading.line_detector import DEFAULT_DETECTOR
from models.reading.line_networks import DEFAULT_KOREAN_SVTR, DEFAULT_SVTR
from models.reading.pipeline import CONFIDENT, Reader
from models.reading.recognizer import DEFAULT_READER

MODES = ("sigma", "blind")
RELIABILITY_BINS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001)
SHARPEN_BASELINES = ("input", "nafunet/sigma", "nafunet/blind")


def character_outcomes(prediction, confidences, reference, lang):
    """(confidence, correct) for each non-space character of ``prediction``: correct when the
    edit-distance alignment to ``reference`` matches it to the same character."""
    kept = [(ch, c) for ch, c in zip(prediction, confidences) if not ch.isspace()]
    predicted = normalize_text("".join(ch for ch, _ in kept), lang).replace(" ", "")
    if len(predicted) != len(kept):  # NFKC changed the length: score characters one by one instead
        predicted = "".join(ch for ch, _ in kept)
    truth = normalize_text(reference, lang).replace(" ", "")
    n, m = len(predicted), len(truth)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (predicted[i - 1] != truth[j - 1]))
    correct = [False] * n
    i, j = n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (predicted[i - 1] != truth[j - 1]):
            correct[i - 1] = predicted[i - 1] == truth[j - 1]
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return [(c, ok) for (_, c), ok in zip(kept, correct)]


def read_sample(reader, blurred, sigma):
    reading = reader.read(blurred, sigma)
    text = " ".join(line.text for line in reading.lines)
    confidences = [c for line in reading.lines for c in line.confidence + [1.0]][:-1] if reading.lines else []
    return text, confidences, reading.verdict


def evaluate_reading(devset, reader, limit=None, log=print, split="all"):
    devset = Path(devset)
    manifest = read_manifest(devset)
    samples = [s for s in manifest["samples"] if split == "all" or split_of(s) == split]
    if limit and limit < len(samples):
        samples = [samples[i] for i in np.linspace(0, len(samples) - 1, limit).round().astype(int)]
    records, started = [], time.time()
    for index, sample in enumerate(samples):
        _, blurred = load_pair(devset, sample)
        sigma = float(sample["sigma_px"])
        record = {key: sample.get(key) for key in ("id", "text", "lang", "kind", "raster", "dpr", "sigma_px")}
        record.update(bucket=sigma_bucket(sigma), split=split_of(sample), modes={})
        for mode in MODES:
            tick = time.perf_counter()
            text, confidences, verdict = read_sample(reader, blurred, sigma if mode == "sigma" else None)
            outcomes = character_outcomes(text, confidences, sample["text"], sample["lang"])
            record["modes"][mode] = {
                "text": text, "cer": cer(text, sample["text"], sample["lang"]), "verdict": verdict,
                "seconds": round(time.perf_counter() - tick, 4),
                "outcomes": [[round(c, 4), ok] for c, ok in outcomes],
                "reference_chars": len(normalize_text(sample["text"], sample["lang"]).replace(" ", "")),
            }
        records.append(record)
        if (index + 1) % 50 == 0:
            log(f"read {index + 1}/{len(samples)} samples ({time.time() - started:.0f}s)")
    return records, manifest


def _mean(values):
    return round(float(np.mean(values)), 4) if values else None


def confidence_summary(rows):
    """Confidently-wrong rate (of characters marked >= CONFIDENT, the share wrong) and the share of
    the reference text read confidently and correctly."""
    outcomes = [o for row in rows for o in row["outcomes"]]
    confident = [ok for c, ok in outcomes if c >= CONFIDENT]
    reference = sum(row["reference_chars"] for row in rows)
    return {"confident_chars": len(confident),
            "confident_wrong": round(1 - float(np.mean(confident)), 4) if confident else None,
            "confident_share": round(sum(confident) / reference, 4) if reference else None}


def summarize(records, baselines):
    """mode -> bucket -> {n, cer, sharpen-then-Tesseract CERs, confidence figures}."""
    summary = {}
    for mode in MODES:
        summary[mode] = {}
        for bucket in [name for name, _, _ in BUCKETS] + ["all"]:
            chosen = [r for r in records if bucket == "all" or r["bucket"] == bucket]
            if not chosen:
                continue
            rows = [r["modes"][mode] for r in chosen]
            entry = {"n": len(rows), "cer": _mean([row["cer"] for row in rows]), **confidence_summary(rows),
                     "verdicts": {v: sum(row["verdict"] == v for row in rows) for v in ("readable", "partly", "unreadable")}}
            for name in baselines:
                values = [baselines[name][r["id"]] for r in chosen if r["id"] in baselines[name]]
                if len(values) == len(chosen):
                    entry[f"tesseract:{name}"] = _mean(values)
            summary[mode][bucket] = entry
    return summary


def reliability(records):
    """Per confidence bin: characters, mean confidence, accuracy (both modes together)."""
    outcomes = [o for r in records for mode in MODES for o in r["modes"][mode]["outcomes"]]
    table = []
    for low, high in zip(RELIABILITY_BINS, RELIABILITY_BINS[1:]):
        inside = [(c, ok) for c, ok in outcomes if low <= c < high]
        if inside:
            table.append({"bin": [low, min(high, 1.0)], "n": len(inside), "confidence": _mean([c for c, _ in inside]),
                          "accuracy": _mean([ok for _, ok in inside])})
    return table


def reliability_plot(table, path, title):
    """Accuracy against confidence, one bar per bin (width = the bin), the diagonal for reference."""
    size, margin = 360, 44
    canvas = Image.new("RGB", (size + 2 * margin, size + 2 * margin), "white")
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.truetype(LABEL_FONT, 12)
    except OSError:
        font = ImageFont.load_default()

    def point(x, y):
        return margin + x * size, margin + (1 - y) * size

    for row in table:
        low, high = row["bin"]
        draw.rectangle([point(low, row["accuracy"]), point(high, 0)], fill="#9ab7d8", outline="#36577d")
    draw.line([point(0, 0), point(1, 1)], fill="#c0392b", width=2)
    draw.rectangle([point(0, 1), point(1, 0)], outline="black")
    for tick in (0, 0.5, 0.9, 1.0):
        x, y = point(tick, 0)
        draw.text((x - 8, y + 4), f"{tick:g}", fill="black", font=font)
        x, y = point(0, tick)
        draw.text((x - 28, y - 6), f"{tick:g}", fill="black", font=font)
    draw.text((margin + size / 2 - 60, 12), title, fill="black", font=font)
    draw.text((margin + size / 2 - 40, size + margin + 22), "confidence", fill="black", font=font)
    draw.text((6, margin - 30), "accuracy", fill="black", font=font)
    canvas.save(path, optimize=True)


def load_baselines(results_path):
    """method -> sample id -> Tesseract CER from models.evaluation.evaluate's results.json."""
    if not Path(results_path).is_file():
        return {}
    results = json.loads(Path(results_path).read_text(encoding="utf-8"))
    return {name: {r["id"]: r["methods"][name]["cer"] for r in results["per_sample"] if name in r["methods"]}
            for name in SHARPEN_BASELINES if name in results["methods"]}


def bucket_table(summary):
    """The markdown rows of one summary: CER and confidence figures per sigma bucket, both modes."""
    buckets = [name for name, _, _ in BUCKETS] + ["all"]
    present = [b for b in buckets if b in summary["sigma"]]
    lines = ["| | " + " | ".join(f"{b} (n={summary['sigma'][b]['n']})" for b in present) + " |",
             "|---" * (len(present) + 1) + "|"]

    def row(label, mode, key, fmt="{:.3f}"):
        cells = [summary[mode][b].get(key) for b in present]
        lines.append(f"| {label} | " + " | ".join("–" if c is None else fmt.format(c) for c in cells) + " |")

    for mode in MODES:
        row(f"read, {mode} — CER", mode, "cer")
        row(f"read, {mode} — confidently wrong", mode, "confident_wrong")
        row(f"read, {mode} — read confidently", mode, "confident_share")
    for name in SHARPEN_BASELINES:
        if f"tesseract:{name}" in summary["sigma"]["all"]:
            label = "Tesseract on the input" if name == "input" else f"sharpen ({name}), then Tesseract"
            row(label, "sigma", f"tesseract:{name}")
    return lines


def markdown(results):
    svtr_lines = results.get("svtr_reads", "lines without Hangul")
    networks = results["reader"] + (f" with {results['svtr']} for {svtr_lines}" if results.get("svtr") else "")
    if results.get("korean_svtr"):
        networks += f" and {results['korean_svtr']} for the Korean lines it is surer of than the reader"
    lines = [f"Reading on {results['devset']} ({results['samples']} samples), reader {networks}; "
             f"sigma buckets in device px. CER: text CER (lower is better); confidently wrong: of the characters "
             f"marked >= {CONFIDENT}, the share wrong; read confidently: the share of the reference text read "
             f"correctly at >= {CONFIDENT}.", ""]
    lines += split_sections(results, lambda summary: bucket_table(summary) + [""],
                            lambda summary: summary["sigma"]["all"]["n"])[:-1]
    lines += ["", "Verdicts, all samples (sigma given / blind): " + ", ".join(
        f"{v} {results['summary']['sigma']['all']['verdicts'][v]} / {results['summary']['blind']['all']['verdicts'][v]}"
        for v in ("readable", "partly", "unreadable")), ""]
    lines += ["### Reliability (both modes)", "", "| confidence bin | characters | mean confidence | accuracy |",
              "|---|---|---|---|"]
    for entry in results["reliability"]:
        lines.append(f"| {entry['bin'][0]:g}–{entry['bin'][1]:g} | {entry['n']} | {entry['confidence']:.3f} | "
                     f"{entry['accuracy']:.3f} |")
    timing = results["timing"]
    lines += ["", f"Run: {timing['wall_seconds']:.0f} s wall; median read {timing['median_read_seconds']:.3f} s "
                  f"per crop (1 thread, beside other work).", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", default="models/devset")
    parser.add_argument("--out", default="docs/eval")
    parser.add_argument("--reader", default=str(DEFAULT_READER))
    parser.add_argument("--svtr", default=str(DEFAULT_SVTR) if DEFAULT_SVTR.is_file() else "",
                        help="the SVTR-LCNet that reads the lines without Hangul ('': the reader reads every line)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate N evenly spaced samples")
    parser.add_argument("--split", choices=("all",) + SPLITS, default="all",
                        help="read only this half of the set (models.data.splits); all: both, reported apart")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prior-weight", type=float, default=None, help="override the word prior's weight (0: none)")
    parser.add_argument("--char-prior-weight", type=float, default=None,
                        help="override the CJK character prior's weight (0: none)")
    parser.add_argument("--korean-svtr", default=str(DEFAULT_KOREAN_SVTR) if DEFAULT_KOREAN_SVTR.is_file() else "",
                        help="an SVTR-LCNet with Hangul, for the Korean lines it is surer of than the reader")
    parser.add_argument("--korean-to-reader", action="store_true",
                        help="Korean lines read by the reader even when the SVTR has Hangul")
    parser.add_argument("--no-refine", action="store_true", help="keep the beam's words (no lexicon refinement)")
    parser.add_argument("--detector", default=str(DEFAULT_DETECTOR) if DEFAULT_DETECTOR.is_file() else "",
                        help="find lines with this line detector checkpoint ('': find_lines; default: the shipped one)")
    parser.add_argument("--detector-only", action="store_true",
                        help="with a detector, read only its lines (not find_lines' lines it missed too)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.time()
    try:
        reader = Reader(args.reader, refine=not args.no_refine, svtr=args.svtr or None,
                        korean_to_reader=args.korean_to_reader, detector=args.detector or None,
                        rules_too=not args.detector_only, korean_svtr=args.korean_svtr or None)
        if args.prior_weight is not None:
            reader.prior.words.weight = args.prior_weight
        if args.char_prior_weight is not None:
            reader.prior.characters.weight = args.char_prior_weight
        records, manifest = evaluate_reading(args.devset, reader, args.limit, log=lambda m: print(m, file=sys.stderr),
                                             split=args.split)
    except (ValueError, OSError, CheckpointError) as exc:
        sys.exit(f"error: {exc}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    baselines = load_baselines(out / "results.json")
    results = {
        "devset": str(args.devset), "samples": len(records), "reader": str(args.reader), "svtr": args.svtr or None,
        "korean_svtr": args.korean_svtr or None, "detector": args.detector or None,
        "rules_too": bool(args.detector) and not args.detector_only,
        "svtr_reads": "every line" if reader.svtr_reads_all else "lines without Hangul",
        "prior_weight": reader.prior.words.weight,
        "char_prior_weight": reader.prior.characters.weight, "refine": reader.refine, "confident": CONFIDENT,
        "summary": summarize(records, baselines),
        "splits": by_split(records, lambda chosen: summarize(chosen, baselines)),
        "reliability": reliability(records),
        "timing": {"wall_seconds": round(time.time() - started, 1),
                   "median_read_seconds": float(np.median([r["modes"][m]["seconds"] for r in records for m in MODES]))},
        "per_sample": records,
    }
    (out / "reading.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    table = markdown(results)
    (out / "reading.md").write_text(table, encoding="utf-8")
    reliability_plot(results["reliability"], out / "reliability.png", f"reader on {Path(args.devset).name}")
    print(table)


if __name__ == "__main__":
    main()
