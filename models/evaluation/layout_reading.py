"""End-to-end reading on the Chromium layouts: `/v1/read`'s pipeline on every capture of the
held-out template families, scored line by line against the DOM's text.

    python -m models.evaluation.layout_reading [--layouts runs/layouts] [--splits tune,test]
        [--out docs/eval/layouts_reading] [--svtr PATH] [--detector PATH] [--reader PATH] [--lines]

CSS captures are read with their sigma given (the extension knows it), pictures blind. Each true
line (a DOM line holding ink) is scored against the read line whose box overlaps its ink box most
(IoU >= ``MATCH_IOU``): the edit distance between the two texts, or the whole line when no read line
matches. A read line that matches no true line is invented text and counts its length as errors.
CER is errors over the true lines' characters, per split, sigma / font bucket (the line's own, as in
``line_eval``), capture kind, language and template family. A page's reading order is not scored here (it is
in ``read_eval``); finding, reading and dropping lines are. ``--lines`` also writes each line's
reading (lines.json), to see where a split loses.
"""
import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from models import CheckpointError
from models.data.chromium_layouts import LayoutPages, families_of
from models.evaluation.line_eval import BUCKET_NAMES, iou, ratio_bucket, truth_boxes
from models.evaluation.ocr import edit_distance, normalize_text
from models.reading.line_detector import DEFAULT_DETECTOR
from models.reading.line_networks import DEFAULT_KOREAN_SVTR, DEFAULT_SVTR
from models.reading.pipeline import Reader
from models.reading.recognizer import DEFAULT_READER

MATCH_IOU = 0.3  # looser than line_eval's 0.5: a box cut a little wide still carries its line's text


def match_lines(truth, found, lang):
    """Each true line with the read line over it, and the read lines over none.

    ``truth``: (ink box, text, bucket) of each true line; ``found``: (box, text) of each read line,
    boxes as (x0, y0, x1, y1). -> (per true line {"text", "bucket", "read" (None: missed),
    "errors", "characters"}, per invented line {"read", "errors"})."""
    used, matched = set(), []
    for box, text, bucket in truth:
        overlaps = [(iou(box, found_box), j) for j, (found_box, _) in enumerate(found)]
        best, j = max(overlaps, default=(0.0, None))
        reference = normalize_text(text, lang)
        read = None
        if j is not None and best >= MATCH_IOU:
            used.add(j)
            read = found[j][1]
        matched.append({"text": text, "bucket": bucket, "read": read,
                        "errors": edit_distance(normalize_text(read or "", lang), reference),
                        "characters": len(reference)})
    invented = [{"read": text, "errors": len(normalize_text(text, lang))}
                for j, (_, text) in enumerate(found) if j not in used]
    return matched, invented


def line_errors(truth, found, lang, extra_bucket):
    """Errors and characters per bucket of one capture (``match_lines``' lines pooled) ->
    {bucket: [errors, characters]}; an invented line's errors go to ``extra_bucket``."""
    return pooled_counts(*match_lines(truth, found, lang), extra_bucket)


def pooled_counts(matched, invented, extra_bucket):
    """``match_lines``' lines -> {bucket: [errors, characters]}; invented lines' errors in ``extra_bucket``."""
    counts = defaultdict(lambda: [0, 0])
    for line in matched:
        counts[line["bucket"]][0] += line["errors"]
        counts[line["bucket"]][1] += line["characters"]
    for line in invented:
        counts[extra_bucket][0] += line["errors"]
    return dict(counts)


def read_pages(pages, reader, splits, log=print, keep_lines=False):
    """Per-capture records: split, family, mode, lang and the bucket counts of ``line_errors``;
    with ``keep_lines`` also each line's reading (``match_lines``: "lines" and "invented")."""
    records, started = [], time.time()
    chosen = [page for page in pages.pages if page["split"] in splits]
    for number, page in enumerate(chosen, start=1):
        for capture in page["captures"]:
            sigma = capture["sigma_px"] if capture["mode"] == "css" else None
            reading = reader.read(pages.image(capture["image"]), sigma)
            found = [((line.box.x, line.box.y, line.box.x + line.box.w, line.box.y + line.box.h), line.text)
                     for line in reading.lines]
            boxes, buckets = truth_boxes(page, capture, "ink")
            texts = [line["text"] for line in page["lines"] if line["ink"] is not None]
            matched, invented = match_lines(list(zip(boxes, texts, buckets)), found, page["lang"])
            record = {"page": page["id"], "family": page["family"], "split": page["split"], "mode": capture["mode"],
                      "lang": page["lang"], "image": capture["image"], "ratio": capture["ratio"],
                      "counts": pooled_counts(matched, invented, ratio_bucket(capture["ratio"]))}
            if keep_lines:
                record["lines"], record["invented"] = matched, invented
            records.append(record)
        if number % 20 == 0 or number == len(chosen):
            log(f"{number}/{len(chosen)} pages, {(time.time() - started) / 60:.1f} min")
    return records


def pooled_cer(records, bucket=None):
    """CER over ``records``' true characters, in one bucket or all; None where there were none."""
    errors = characters = 0
    for record in records:
        for name, (e, n) in record["counts"].items():
            if bucket is None or name == bucket:
                errors, characters = errors + e, characters + n
    return round(errors / characters, 4) if characters else None


def summarize(records, key):
    groups = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return {name: {**{b: pooled_cer(chosen, b) for b in BUCKET_NAMES}, "all": pooled_cer(chosen)}
            for name, chosen in sorted(groups.items())}


def summaries(records, splits):
    """The CER tables of ``markdown``: by split, split and capture, split, capture and language, and per
    split by family."""
    return {"by_split": summarize(records, lambda r: r["split"]),
            "by_split_mode": summarize(records, lambda r: f"{r['split']} / {r['mode']}"),
            "by_split_mode_lang": summarize(records, lambda r: f"{r['split']} / {r['mode']} / {r['lang']}"),
            "by_family": {s: summarize([r for r in records if r["split"] == s], lambda r: r["family"]) for s in splits}}


def _cell(value):
    return "–" if value is None else f"{value:.3f}"


def table(summary, label):
    lines = [f"| {label} | " + " | ".join(BUCKET_NAMES) + " | all |", "|---" * (len(BUCKET_NAMES) + 2) + "|"]
    for name, row in summary.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row[b]) for b in BUCKET_NAMES) + f" | {_cell(row['all'])} |")
    return lines


def markdown(results):
    out = [results["header"], "", "### By split", ""] + table(results["by_split"], "split")
    out += ["", "### By split and capture (CSS: sigma given; picture: blind)", ""]
    out += table(results["by_split_mode"], "split / capture")
    out += ["", "### By split, capture and language", ""]
    out += table(results["by_split_mode_lang"], "split / capture / language")
    for split in results["splits"]:
        out += ["", f"### {split} families", ""] + table(results["by_family"][split], "family")
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", default="runs/layouts", help="a layouts folder (models.data.chromium_layouts)")
    parser.add_argument("--pages", type=int, default=500, help="page ids 0..N-1 (those of the chosen splits)")
    parser.add_argument("--splits", default="tune,test", help="comma-separated, of train,tune,test")
    parser.add_argument("--out", default="docs/eval/layouts_reading", help="folder for reading.md and reading.json")
    parser.add_argument("--reader", default=str(DEFAULT_READER))
    parser.add_argument("--svtr", default=str(DEFAULT_SVTR) if DEFAULT_SVTR.is_file() else "")
    parser.add_argument("--detector", default=str(DEFAULT_DETECTOR) if DEFAULT_DETECTOR.is_file() else "")
    parser.add_argument("--korean-svtr", default=str(DEFAULT_KOREAN_SVTR) if DEFAULT_KOREAN_SVTR.is_file() else "",
                        help="an SVTR-LCNet with Hangul, for the Korean lines it is surer of than the reader")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lines", action="store_true",
                        help="also write lines.json: every true line with what was read over it, and the invented lines")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    splits = tuple(s for s in args.splits.split(",") if s)
    started = time.time()
    try:
        pages = LayoutPages(args.layouts)
        reader = Reader(args.reader, svtr=args.svtr or None, detector=args.detector or None,
                        korean_svtr=args.korean_svtr or None)
    except (OSError, ValueError, CheckpointError) as exc:
        sys.exit(f"error: {exc}")
    pages.pages = [page for page in pages.pages if page["id"] < args.pages]
    if not any(page["split"] in splits for page in pages.pages):
        sys.exit(f"error: {args.layouts} holds no {'/'.join(splits)} pages with ids < {args.pages}; "
                 f"render them with python -m models.data.chromium_layouts")
    records = read_pages(pages, reader, splits, log=lambda m: print(m, file=sys.stderr), keep_lines=args.lines)
    lines = None
    if args.lines:  # kept out of reading.json, which stays a summary
        lines = [{**{key: record[key] for key in ("page", "image", "family", "split", "mode", "lang", "ratio")},
                  "lines": record.pop("lines"), "invented": record.pop("invented")} for record in records]
    header = (f"End-to-end reading (`models.evaluation.layout_reading`) of the Chromium layouts in `{args.layouts}` "
              f"(page ids < {args.pages}; " + ", ".join(f"{s}: {', '.join(families_of(s))}" for s in splits)
              + f"; {len(records)} captures), reader `{args.reader}`, SVTR `{args.svtr or 'none'}`, Korean SVTR "
              f"`{args.korean_svtr or 'none'}`, detector "
              f"`{args.detector or 'none (find_lines)'}`. CER of each true line against the read line over it "
              f"(IoU >= {MATCH_IOU}), a missed line counting whole and an invented one by its length; bucket: "
              f"sigma / the line's font size. {(time.time() - started) / 60:.1f} min.")
    results = {
        "header": header, "layouts": args.layouts, "splits": splits, "reader": args.reader, "svtr": args.svtr,
        "korean_svtr": args.korean_svtr, "detector": args.detector,
        **summaries(records, splits), "records": records,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reading.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if lines is not None:
        (out / "lines.json").write_text(json.dumps({"captures": lines}, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
    text = markdown(results)
    (out / "reading.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
