"""Line finding measured against the DOM: recall and precision of a line finder's boxes at
IoU >= 0.5 on the Chromium layouts (``models.data.chromium_layouts``), per sigma / font bucket and
per template family, on the held-out families (test, with tune beside it).

    python -m models.evaluation.line_eval [--layouts runs/layouts] [--pages 500] [--splits tune,test]
        [--out docs/eval/lines] [--detector runs/detector/last.pt]

Pages the layouts folder lacks are rendered first (Chromium). A true line is a DOM line whose
sharp capture holds ink, boxed tightly around that ink (``ink``; the DOM box spans the font's
whole ascent and descent, which no finder of ink should be asked for); the same figures against
the DOM boxes are given beside them. A found box and a true line match one to one, greedily by
IoU, at IoU >= ``MATCH_IOU``. A line's bucket is sigma / its own font size; a found box is
counted in the bucket of the line it matches, or of the line it overlaps most, or (overlapping
none) of the capture's body text.
"""
import argparse
import json
import math
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

from models.data.chromium_layouts import FAMILY_SPLIT, LayoutPages, build_layouts, families_of, line_ratio
from models.data.chromium_devset import RASTER_ARGS
from models.reading.line_detector import LineDetector, missed_lines
from models.reading.line_finder import find_lines, reading_order

MATCH_IOU = 0.5
BUCKETS = (("<=.1", -math.inf, 0.1), (".1-.2", 0.1, 0.2), (".2-.3", 0.2, 0.3), (">.3", 0.3, math.inf))
BUCKET_NAMES = tuple(name for name, _, _ in BUCKETS)
TRUTHS = ("ink", "dom")


def ratio_bucket(ratio):
    """The bucket name of sigma / font size."""
    for name, low, high in BUCKETS:
        if low < ratio <= high:
            return name
    raise ValueError(f"sigma / font {ratio} fits no bucket")


def iou(a, b):
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def match_boxes(truth, found, threshold=MATCH_IOU):
    """One-to-one matches {truth index: found index}, the pair of highest IoU first, only pairs at
    IoU >= ``threshold``."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    matched, used = {}, set()
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    return matched


def capture_outcome(truth, truth_buckets, found, fallback_bucket, threshold=MATCH_IOU):
    """Per bucket {"lines", "recalled", "boxes", "correct"} of one capture."""
    matched = match_boxes(truth, found, threshold)
    counts = {name: {"lines": 0, "recalled": 0, "boxes": 0, "correct": 0} for name in BUCKET_NAMES}
    for i, bucket in enumerate(truth_buckets):
        counts[bucket]["lines"] += 1
        counts[bucket]["recalled"] += i in matched
    owner = {j: i for i, j in matched.items()}
    for j, box in enumerate(found):
        if j in owner:
            bucket = truth_buckets[owner[j]]
        else:
            overlaps = [iou(t, box) for t in truth]
            best = max(range(len(truth)), key=overlaps.__getitem__) if truth else None
            bucket = truth_buckets[best] if best is not None and overlaps[best] > 0 else fallback_bucket
        counts[bucket]["boxes"] += 1
        counts[bucket]["correct"] += j in owner
    return counts


MISS_KINDS = ("not found", "merged", "oversized", "split", "misplaced")


def _area(box):
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _cover(found, line):
    """The share of ``line``'s area that ``found`` covers."""
    width = min(found[2], line[2]) - max(found[0], line[0])
    height = min(found[3], line[3]) - max(found[1], line[1])
    return max(0.0, width) * max(0.0, height) / max(_area(line), 1e-9)


def miss_kind(line, found, others=()):
    """Why a true line matched no found box: "not found" (under 30 % of it covered by any box);
    "merged" (most of it inside a box over twice its area that also covers most of one of the
    ``others``, its neighbouring lines); "oversized" (such a box, holding no other line: a rule, a
    border, a fill or the blur's spread taken in); "split" (two or more boxes cover parts of it);
    "misplaced" (a box overlaps it, too loosely)."""
    covers = [(_cover(box, line), box) for box in found]
    if not covers or max(c for c, _ in covers) < 0.3:
        return "not found"
    large = [box for c, box in covers if c >= 0.5 and _area(box) >= 2 * _area(line)]
    if any(_cover(box, other) >= 0.5 for box in large for other in others):
        return "merged"
    if large:
        return "oversized"
    parts = [c for c, _ in covers if c >= 0.15]
    if len(parts) >= 2 and sum(parts) >= 0.5:
        return "split"
    return "misplaced"


def capture_misses(truth, found, threshold=MATCH_IOU):
    """The ``miss_kind`` of every true line no found box matched."""
    matched = match_boxes(truth, found, threshold)
    return [miss_kind(line, found, truth[:i] + truth[i + 1:]) for i, line in enumerate(truth) if i not in matched]


def add_counts(total, counts):
    for bucket, entry in counts.items():
        slot = total.setdefault(bucket, {"lines": 0, "recalled": 0, "boxes": 0, "correct": 0})
        for key, value in entry.items():
            slot[key] += value
    return total


def rates(entry):
    """(recall, precision) of pooled counts; None where nothing was there to count."""
    recall = entry["recalled"] / entry["lines"] if entry["lines"] else None
    precision = entry["correct"] / entry["boxes"] if entry["boxes"] else None
    return recall, precision


def pooled(counts):
    """The counts of every bucket added together."""
    total = {"lines": 0, "recalled": 0, "boxes": 0, "correct": 0}
    for entry in counts.values():
        for key in total:
            total[key] += entry[key]
    return total


def truth_boxes(page, capture, truth):
    """(boxes in the capture's px, buckets) of a page's lines that hold ink."""
    boxes, buckets = [], []
    for line in page["lines"]:
        if line["ink"] is None:
            continue
        box = line["ink"] if truth == "ink" else line["box"]
        boxes.append([v * capture["scale"] for v in box])
        buckets.append(ratio_bucket(line_ratio(line, page, capture)))
    return boxes, buckets


def evaluate_pages(pages, finder=find_lines, splits=("tune", "test"), log=print):
    """Per-capture records: page id, family, split, mode, dpr, and per truth kind the bucket counts."""
    records, started = [], time.time()
    chosen = [page for page in pages.pages if page["split"] in splits]
    for number, page in enumerate(chosen, start=1):
        for k, capture in enumerate(page["captures"]):
            found = [[b.x, b.y, b.x + b.w, b.y + b.h] for b in finder(pages.image(capture["image"]))]
            fallback = ratio_bucket(capture["ratio"])
            record = {"page": page["id"], "family": page["family"], "split": page["split"], "capture": k,
                      "mode": capture["mode"], "dpr": page["dpr"], "lang": page["lang"], "found": len(found)}
            for truth in TRUTHS:
                boxes, buckets = truth_boxes(page, capture, truth)
                record[truth] = capture_outcome(boxes, buckets, found, fallback)
            boxes, _ = truth_boxes(page, capture, "ink")
            record["misses"] = capture_misses(boxes, found)
            records.append(record)
        if number % 20 == 0 or number == len(chosen):
            log(f"{number}/{len(chosen)} pages, {(time.time() - started) / 60:.1f} min")
    return records


def summarize(records, truth="ink", key=lambda record: record["split"]):
    """group -> bucket -> pooled counts, plus "all"."""
    groups = defaultdict(dict)
    for record in records:
        group = groups[key(record)]
        add_counts(group, record[truth])
    for group in groups.values():
        group["all"] = pooled({b: group[b] for b in BUCKET_NAMES if b in group})
    return dict(groups)


def _cell(value):
    return "–" if value is None else f"{value:.3f}"


def bucket_table(summary, groups, label):
    """Markdown rows: per group, recall and precision in every bucket and all."""
    columns = list(BUCKET_NAMES) + ["all"]
    lines = [f"| {label} | | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for group in groups:
        if group not in summary:
            continue
        entries = [summary[group].get(c, {"lines": 0, "recalled": 0, "boxes": 0, "correct": 0}) for c in columns]
        pairs = [rates(e) for e in entries]
        lines.append(f"| {group} | recall | " + " | ".join(f"{_cell(r)} ({e['lines']})" for (r, _), e in zip(pairs, entries)) + " |")
        lines.append("| | precision | " + " | ".join(f"{_cell(p)} ({e['boxes']})" for (_, p), e in zip(pairs, entries)) + " |")
    return lines


def markdown(records, splits, header):
    out = [header, ""]
    by_split = summarize(records)
    out += ["### By split (ink boxes)", "", "Recall (true lines) and precision (found boxes), per sigma / font bucket.", ""]
    out += bucket_table(by_split, splits, "split") + [""]
    dom = summarize(records, "dom")
    out += ["### The same against the DOM boxes", ""] + bucket_table(dom, splits, "split") + [""]
    for split in splits:
        families = summarize([r for r in records if r["split"] == split], key=lambda r: r["family"])
        out += [f"### {split} families (ink boxes)", ""] + bucket_table(families, sorted(families), "family") + [""]
    out += ["### Why lines are missed (ink boxes)", "",
            "Of the true lines no box matched, the share not found (under 30 % of the line covered), merged "
            "(mostly inside a box over twice its area that holds another line too), oversized (such a box "
            "holding no other line: a rule, a border, a fill or the blur's spread taken in), split (two or more "
            "boxes cover parts of it) or misplaced (a box overlaps it, too loosely).", ""]
    out += misses_table(records, splits) + [""]
    views = summarize(records, key=lambda r: f"{r['split']}, {'picture' if r['mode'] == 'picture' else 'CSS blur'}, DPR {r['dpr']}")
    out += ["### By capture kind (ink boxes)", ""] + bucket_table(views, sorted(views), "split, kind") + [""]
    return "\n".join(out)


def misses_table(records, splits):
    """Markdown rows: per split and family, how many true lines were missed and why."""
    lines = ["| split | family | lines | missed | " + " | ".join(MISS_KINDS) + " |", "|---|---|---|---|" + "---|" * len(MISS_KINDS)]
    for split in splits:
        chosen = [r for r in records if r["split"] == split]
        for family in sorted({r["family"] for r in chosen}):
            own = [r for r in chosen if r["family"] == family]
            total = sum(pooled(r["ink"])["lines"] for r in own)
            kinds = [kind for r in own for kind in r["misses"]]
            shares = [f"{kinds.count(kind) / len(kinds):.2f}" if kinds else "–" for kind in MISS_KINDS]
            lines.append(f"| {split} | {family} | {total} | {len(kinds)} | " + " | ".join(shares) + " |")
    return lines


def rendered_splits(folder, splits):
    """The splits to render into ``folder``: those it was built with where they hold ``splits`` (a
    folder of tune and test pages serves a tune-only run), else ``splits``."""
    settings = Path(folder) / "layouts.json"
    if settings.is_file():
        saved = tuple(json.loads(settings.read_text())["splits"])
        if set(splits) <= set(saved):
            return saved
    return splits


def with_missed_lines(detector, image):
    """The detector's lines and those ``find_lines`` finds that it missed, in reading order."""
    detected = detector(image)
    return reading_order(detected + missed_lines(find_lines(image), detected))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", default="runs/layouts", help="layouts folder (pages it lacks are rendered)")
    parser.add_argument("--pages", type=int, default=500, help="page ids 0..N-1 (those of the chosen splits)")
    parser.add_argument("--splits", default="tune,test", help="comma-separated, of train,tune,test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/eval/lines", help="folder for lines.md and lines.json")
    parser.add_argument("--detector", default="", help="a line detector checkpoint to measure instead of find_lines")
    parser.add_argument("--rules-too", action="store_true",
                        help="with --detector: also find_lines' lines the detector missed (as /v1/read finds lines)")
    args = parser.parse_args(argv)
    finder, finder_name = find_lines, "`models.reading.line_finder.find_lines`"
    if args.detector:
        detector = LineDetector(args.detector, precision="auto")
        finder, finder_name = detector, f"the learned line detector `{args.detector}`"
        if args.rules_too:
            finder = partial(with_missed_lines, detector)
            finder_name += " with `find_lines`' lines it missed (`missed_lines`, as `/v1/read`)"
    splits = tuple(s for s in args.splits.split(",") if s)
    started = time.time()
    built = build_layouts(args.layouts, args.pages, rendered_splits(args.layouts, splits), args.seed,
                          rasters=tuple(RASTER_ARGS))
    render_minutes = (time.time() - started) / 60
    pages = LayoutPages(args.layouts)
    pages.pages = [p for p in pages.pages if p["id"] < args.pages]
    records = evaluate_pages(pages, finder=finder, splits=splits)
    counts = defaultdict(int)
    for page in pages.pages:
        counts[page["split"]] += page["split"] in splits
    header = (f"Line finding ({finder_name}) on the Chromium layouts "
              f"(`models.data.chromium_layouts`, seed {args.seed}, page ids < {args.pages}: "
              + ", ".join(f"{counts[s]} {s} pages ({', '.join(families_of(s))})" for s in splits)
              + f", {len(records)} captures). Match: one to one at IoU >= {MATCH_IOU}; bucket: sigma / the line's "
              f"font size; counts in brackets. This run rendered {built['rendered']} pages ({render_minutes:.1f} min) "
              f"and found lines in {(time.time() - started) / 60 - render_minutes:.1f} min.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lines.md").write_text(markdown(records, splits, header) + "\n", encoding="utf-8")
    (out / "lines.json").write_text(json.dumps({"header": header, "family_split": FAMILY_SPLIT,
                                                "summary": summarize(records), "records": records}) + "\n")
    print(markdown(records, splits, header))


if __name__ == "__main__":
    main()
