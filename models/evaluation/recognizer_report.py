"""Is the recogniser a fair judge of Chromium text? Its CER on the dev set's single-line crops,
beside Tesseract's.

    python -m models.evaluation.recognizer_report
"""
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from models.data.chromium_devset import read_manifest
from models.data.lines import to_tensor
from models.evaluation.evaluate import ocr_settings
from models.evaluation.ocr import cer, read_text
from models.reading.recognizer import load_recognizer, read_lines


def _ink_box(grey):
    """(top, bottom, left, right) of the pixels at least 30% of the largest contrast away from the
    median, in blobs that do not touch the border; None where there are none."""
    contrast = np.abs(grey - np.median(grey))
    blobs, _ = ndimage.label(contrast > max(12.0, 0.3 * contrast.max()))
    border = np.unique(np.concatenate([blobs[0], blobs[-1], blobs[:, 0], blobs[:, -1]]))
    ink = (blobs > 0) & ~np.isin(blobs, border)
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if len(rows) else None


def ink_crop(image, pad=0.25):
    """The part of a rendered element crop (uint8 H x W x 3) where its text's ink lies, plus
    ``pad`` x the ink's height on every side: dev-set crops carry wide page margins that a line
    box does not. A button's pill is found first; its label is then found inside it (the pill's
    rounded corners touch that box's border, so they do not count)."""
    grey = np.asarray(Image.fromarray(image).convert("L"), dtype=np.float32)
    box = _ink_box(grey)
    if box is None:
        return image
    top, bottom, left, right = box
    if abs(np.median(grey[top:bottom, left:right]) - np.median(grey)) > 12:  # a filled box: a pill
        inner = _ink_box(grey[top:bottom, left:right])
        if inner is not None:
            top, bottom, left, right = top + inner[0], top + inner[1], left + inner[2], left + inner[3]
    margin = int(round(pad * (bottom - top)))
    return image[max(0, top - margin):bottom + margin, max(0, left - margin):right + margin]


def devset_report(model, devset="models/devset", tesseract=False):
    """Mean CER per language on the sharp captures of the dev set's single-line elements (each
    sharp file once): the recogniser on ink crops, and Tesseract as models.evaluation.evaluate runs it."""
    devset = Path(devset)
    samples = {s["sharp"]: s for s in read_manifest(devset)["samples"] if s["kind"] != "paragraph"}
    scores = {}
    for name, sample in samples.items():
        image = np.asarray(Image.open(devset / name).convert("RGB"))
        reading = read_lines(model, [to_tensor(ink_crop(image))])[0]
        scores.setdefault(("recognizer", sample["lang"]), []).append(cer(reading, sample["text"], sample["lang"]))
        if tesseract:
            reading = read_text(image, **ocr_settings(sample))
            scores.setdefault(("tesseract", sample["lang"]), []).append(cer(reading, sample["text"], sample["lang"]))
    report = {}
    for (reader, lang), values in sorted(scores.items()):
        report.setdefault(reader, {})[lang] = round(float(np.mean(values)), 4)
    for reader in report:
        report[reader]["all"] = round(float(np.mean([v for (r, _), vs in scores.items() if r == reader for v in vs])), 4)
    report["crops"] = len(samples)
    return report


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(devset_report(load_recognizer(), tesseract="--tesseract" in sys.argv[1:]), indent=1))
