"""Chromium-rendered training corpus: the dev set's machinery on thousands of random elements.

    python -m models.data.chromium_corpus --elements 1500 --out runs/corpus [--seed 0] [--shard-size 50]
    python -m models.training.train ... --corpus runs/corpus --corpus-share 0.25

Element ``i`` is a pure function of (seed, i): text from the training generator's pools
(``models.data.synth``; the dev set's own texts stay held out), in the styles the model reads worst:
small text (half the elements 11-16 CSS px, the rest 9-40), low contrast, light on dark, Korean,
Chinese and Japanese beside Latin, serif/sans/mono, bold, buttons and links, single lines and
short paragraphs. Chromium renders each one alone on its constant background (``models.data.chromium_devset``)
on both raster paths at DPR 1 and 2: a sharp full-page screenshot, then ``PASSES`` more with every
element under its own ``filter: blur(r)``, r = sigma / DPR, sigma drawn per (element, path, DPR):
the first pass sigma 0 (``P_IDENTITY`` of the time) or 0.5-2 device px, the others one in each
third of 2-8.

Shards hold whole groups of elements: ``shard-<first id>-<count>.npy`` (PNG-encoded crops
back to back, memory-mapped by the trainer) and ``.json`` (per crop its byte range and shape; per
pair sharp and blurred crop, sigma, raster, dpr, lang, kind; the element specs). The ``.json``
is written last, so a shard with one is complete; a rerun renders only the elements no shard
holds yet, so a larger ``--elements`` adds shards. The folder belongs under ``runs/`` (git-ignored).
"""
import argparse
import io
import json
import math
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from models.data.chromium_devset import (CJK_FONTS, FONTS, RASTER_ARGS, VIEWPORT_WIDTH, browser_rasters, capture_page,
                                    chromium_version, crop_box, crop_margin, launch)
from models.data.synth import make_sample, random_text, stack_samples

VERSION = 1
DPRS = (1, 2)
MAX_SIGMA = 8.0           # device px
PASSES = 4                # blurred screenshots per (page, raster path, DPR)
P_IDENTITY = 0.2          # share of first passes at sigma 0: the browser's blur(0px) against no filter
PAD = 40                  # CSS px of wrapper background: >= the crop margin at DPR 1 (3 x 8 + 8 device px)
ELEMENTS_PER_PAGE = 16
LANGS = ("en", "ko", "zh", "ja")
LANG_WEIGHTS = (0.55, 0.15, 0.15, 0.15)
SCHEMES = ("dark_on_light", "light_on_dark", "low_contrast", "colored", "button", "link")
SCHEME_WEIGHTS = (0.25, 0.2, 0.2, 0.1, 0.15, 0.1)


def _hex(rgb):
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def _scheme_colors(rng, scheme):
    """(page background, text colour, button background or None) as CSS hex colours."""
    def pick(lo, hi):
        return rng.integers(lo, hi, size=3)
    if scheme == "light_on_dark":
        return _hex(pick(0, 60)), _hex(pick(185, 256)), None
    if scheme == "low_contrast":  # grey on grey, 35-80 levels apart, either way round
        base = int(rng.integers(40, 236))
        delta = int(rng.integers(35, 81)) * (1 if base < 140 else -1)
        bg = np.clip(base + rng.integers(-6, 7, size=3), 0, 255)
        return _hex(bg), _hex(np.clip(bg + delta, 0, 255)), None
    if scheme == "colored":
        bg = pick(0, 256)
        light = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] < 140
        return _hex(bg), _hex((255, 255, 255) if light else pick(0, 50)), None
    page_bg = _hex(pick(225, 256))
    if scheme == "button":
        button = pick(0, 200)
        return page_bg, "#ffffff", _hex(button)
    if scheme == "link":
        return page_bg, _hex((rng.integers(0, 40), rng.integers(40, 110), rng.integers(160, 240))), None
    return page_bg, _hex(pick(0, 90)), None


def _fit(text, lang, size, room):
    """``text`` shortened (by words, or characters for zh/ja) until one line of it fits ``room`` CSS px."""
    em = 1.0 if lang != "en" else 0.75  # generous: capitals and bold run wider than 0.6 em
    while len(text) * em * size > room and len(text) > 1:
        text = text.rsplit(" ", 1)[0] if " " in text.strip() else text[:-1]
    return text


def make_element(seed, index):
    """Element ``index`` of the corpus (a pure function of seed and index), in the dev set's
    element format (``models.data.chromium_devset.element_css``)."""
    rng = np.random.default_rng((seed, index, 0xC0))
    lang = str(rng.choice(LANGS, p=LANG_WEIGHTS))
    scheme = str(rng.choice(SCHEMES, p=SCHEME_WEIGHTS))
    paragraph = scheme not in ("button", "link") and rng.random() < 0.25
    # Small text at DPR 1 is where the model fails most: half the elements are 11-16 CSS px.
    size = float(rng.uniform(11, 16)) if rng.random() < 0.5 else math.exp(rng.uniform(math.log(9), math.log(40)))
    size = round(min(size, 18) if paragraph else size, 1)
    pool_lang = "latin" if lang == "en" else lang
    text, is_code = random_text(rng, pool_lang)
    if paragraph:
        text = " ".join([text] + [random_text(rng, pool_lang)[0] for _ in range(int(rng.integers(2, 6)))])
        kind = "paragraph"
    else:
        kind = "code" if is_code else ("ui" if scheme == "button" else "line")
        text = _fit(text, lang, size, VIEWPORT_WIDTH - 4 * PAD)
    if lang == "en":
        font_class = "mono" if is_code or rng.random() < 0.12 else str(rng.choice(("sans", "serif"), p=(0.6, 0.4)))
        family = str(rng.choice(FONTS[font_class]))
    else:
        font_class = str(rng.choice(("sans", "serif"), p=(0.65, 0.35)))
        family = CJK_FONTS[lang][font_class]
    page_bg, color, button = _scheme_colors(rng, scheme)
    element = {
        "id": int(index), "kind": kind, "lang": lang, "text": text, "font": family, "font_class": font_class,
        "size_css": size, "bold": scheme == "button" or bool(rng.random() < 0.25),
        "italic": lang == "en" and not is_code and bool(rng.random() < 0.15), "scheme": scheme,
        "subpixel_x": round(float(rng.random()), 2), "page_bg": page_bg, "color": color,
    }
    if button:
        element.update(background=button, radius=int(rng.integers(2, 16)))
    return element


def element_sigmas(seed, element_id, raster, dpr, passes=PASSES, p_identity=P_IDENTITY):
    """Device-px sigma of each blurred pass for one (element, raster path, DPR): the first 0 or
    0.5-2, the others one in each equal slice of 2-8 (stratified, so never twice the same);
    rounded so that the CSS radius sigma / DPR has two decimals."""
    rng = np.random.default_rng((seed, element_id, sorted(RASTER_ARGS).index(raster), dpr, 0x51))
    identity, mild = rng.random() < p_identity, rng.uniform(0.5, 2.0)
    width = (MAX_SIGMA - 2.0) / (passes - 1)
    sigmas = [0.0 if identity else mild] + [2.0 + (k + rng.random()) * width for k in range(passes - 1)]
    return [float(round(s / dpr, 2) * dpr) for s in sigmas]


def encode_png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def render_shard(browsers, elements, seed, dprs=DPRS, passes=PASSES, p_identity=P_IDENTITY):
    """(crops, pairs, skipped): PNG bytes of every crop, the pairs that index them, and the ids
    of elements whose blur margin would overflow their wrapper (left out)."""
    crops, pairs, skipped = [], [], set()
    for raster, browser in browsers.items():
        for dpr in dprs:
            margin = crop_margin(dpr, MAX_SIGMA / dpr)
            for first in range(0, len(elements), ELEMENTS_PER_PAGE):
                page = elements[first:first + ELEMENTS_PER_PAGE]
                sigmas = [element_sigmas(seed, e["id"], raster, dpr, passes, p_identity) for e in page]
                radii = [[round(s[k] / dpr, 2) for s in sigmas] for k in range(passes)]
                rects, shots = capture_page(browser, page, dpr, radii, pad=PAD)
                for element, rect, element_sigma in zip(page, rects, sigmas):
                    box = crop_box(rect, dpr, margin)
                    if box is None:
                        skipped.add(element["id"])
                        continue
                    sharp = len(crops)
                    crops.append(shots[0][box])
                    for k, sigma in enumerate(element_sigma):
                        pairs.append({"element": element["id"], "raster": raster, "dpr": dpr, "sigma": sigma,
                                      "blur_css": round(sigma / dpr, 2), "lang": element["lang"],
                                      "kind": element["kind"], "sharp": sharp, "blurred": len(crops)})
                        crops.append(shots[k + 1][box])
    return crops, pairs, skipped


def shard_paths(out, first, count):
    stem = Path(out) / f"shard-{first:06d}-{count:04d}"
    return stem.with_suffix(".npy"), stem.with_suffix(".json")


def write_shard(out, elements, crops, pairs, seed):
    """The shard's blob, then its index (so an index names a complete shard); returns bytes written."""
    blob_path, index_path = shard_paths(out, elements[0]["id"], len(elements))
    encoded = [encode_png(crop) for crop in crops]
    offsets = np.cumsum([0] + [len(e) for e in encoded]).tolist()
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    tmp = blob_path.with_suffix(".tmp.npy")
    np.save(tmp, blob)
    os.replace(tmp, blob_path)
    index = {
        "version": VERSION, "seed": seed, "blob": blob_path.name,
        "crops": [{"offset": offsets[i], "length": offsets[i + 1] - offsets[i], "shape": list(crop.shape)}
                  for i, crop in enumerate(crops)],
        "pairs": pairs, "elements": elements,
    }
    tmp = index_path.with_suffix(".tmp.json")
    tmp.write_text(json.dumps(index, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, index_path)
    return blob_path.stat().st_size + index_path.stat().st_size


def shard_indexes(folder):
    return sorted(Path(folder).glob("shard-*[0-9].json"))


def covered_elements(folder):
    """Element ids the complete shards in ``folder`` hold (rendered or skipped)."""
    ids = set()
    for path in shard_indexes(folder):
        first, count = (int(part) for part in path.stem.split("-")[1:3])
        ids.update(range(first, first + count))
    return ids


def build_corpus(out, count, seed=0, shard_size=50, rasters=tuple(RASTER_ARGS), dprs=DPRS, passes=PASSES,
                 p_identity=P_IDENTITY, log=print):
    """Render elements 0..count-1 into shards under ``out``, skipping those a shard already holds.
    Returns a summary dict."""
    from playwright.sync_api import sync_playwright

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"version": VERSION, "seed": seed, "rasters": list(rasters), "dprs": list(dprs), "passes": passes,
                "p_identity": p_identity, "max_sigma": MAX_SIGMA, "pad_css": PAD}
    meta_path = out / "corpus.json"
    if meta_path.is_file():
        saved = json.loads(meta_path.read_text())
        differs = {k: (saved.get(k), v) for k, v in settings.items() if saved.get(k) != v}
        if differs:
            raise SystemExit(f"{out} holds a corpus built with other settings {differs}: use another --out")
    else:
        meta_path.write_text(json.dumps({**settings, "chromium": chromium_version()}, indent=1) + "\n")
    todo = [i for i in range(count) if i not in covered_elements(out)]
    groups = [todo[i:i + shard_size] for i in range(0, len(todo), shard_size)]
    # a shard holds consecutive ids, so its name (first id, count) says which it covers
    groups = [run for group in groups for run in _consecutive(group)]
    log(f"{count - len(todo)} of {count} elements already in {out}; rendering {len(todo)} in {len(groups)} shards")
    started, done, written, pairs_total, skipped_total = time.time(), 0, 0, 0, 0
    if groups:
        with sync_playwright() as playwright:
            browsers = {raster: launch(playwright, raster) for raster in rasters}
            try:
                for group in groups:
                    elements = [make_element(seed, i) for i in group]
                    crops, pairs, skipped = render_shard(browsers, elements, seed, dprs, passes, p_identity)
                    written += write_shard(out, elements, crops, pairs, seed)
                    done += len(elements)
                    pairs_total += len(pairs)
                    skipped_total += len(skipped)
                    minutes = (time.time() - started) / 60
                    log(f"elements {done}/{len(todo)}, pairs {pairs_total}, {written / 1e6:.1f} MB, "
                        f"{done / minutes:.1f} elements/min" + (f", {len(skipped)} skipped (overflow)" if skipped else ""))
            finally:
                for browser in browsers.values():
                    browser.close()
    minutes = (time.time() - started) / 60
    corpus = CorpusPairs(out)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    summary = {"elements_rendered": done, "skipped": skipped_total, "pairs_written": pairs_total,
               "minutes": round(minutes, 2), "pairs_total": len(corpus), "shards": len(shard_indexes(out)),
               "bytes": size}
    log(f"done: {done} elements in {minutes:.1f} min ({done / max(minutes, 1e-9):.1f}/min), {pairs_total} pairs written; "
        f"corpus {len(corpus)} pairs in {summary['shards']} shards, {size / 1e6:.1f} MB")
    return summary


def _consecutive(ids):
    runs = []
    for i in ids:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


# ---------------------------------------------------------------- training side

class CorpusPairs:
    """The pairs of a corpus folder: indexes read at once, blobs memory-mapped on first use
    (so a DataLoader worker opens its own maps)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.crops, self.pairs, self.blob_names = [], [], []
        for index_path in shard_indexes(self.folder):
            index = json.loads(index_path.read_text(encoding="utf-8"))
            shard = len(self.blob_names)
            self.blob_names.append(index["blob"])
            base = len(self.crops)
            self.crops += [(shard, c["offset"], c["length"]) for c in index["crops"]]
            self.pairs += [{**p, "sharp": base + p["sharp"], "blurred": base + p["blurred"]} for p in index["pairs"]]
        self._blobs = {}

    def __len__(self):
        return len(self.pairs)

    def __getstate__(self):
        return {**self.__dict__, "_blobs": {}}

    def crop(self, number):
        shard, offset, length = self.crops[number]
        if shard not in self._blobs:
            self._blobs[shard] = np.load(self.folder / self.blob_names[shard], mmap_mode="r")
        return decode_png(self._blobs[shard][offset:offset + length].tobytes())

    def pair(self, number):
        """(sharp, blurred) uint8 HxWx3 arrays, the same size, and the pair's metadata."""
        meta = self.pairs[number]
        return self.crop(meta["sharp"]), self.crop(meta["blurred"]), meta


def patch_of(rng, arrays, patch):
    """The same random ``patch`` x ``patch`` window of each array; a side shorter than the patch
    is padded with the arrays' own edge (the element's background), the crop placed at random."""
    height, width = arrays[0].shape[:2]
    top = int(rng.integers(0, max(0, height - patch) + 1))
    left = int(rng.integers(0, max(0, width - patch) + 1))
    pad_top = int(rng.integers(0, max(0, patch - height) + 1))
    pad_left = int(rng.integers(0, max(0, patch - width) + 1))
    out = []
    for array in arrays:
        window = array[top:top + patch, left:left + patch]
        pads = ((pad_top, patch - window.shape[0] - pad_top), (pad_left, patch - window.shape[1] - pad_left), (0, 0))
        out.append(np.pad(window, pads, mode="edge") if any(sum(p) for p in pads) else np.ascontiguousarray(window))
    return out


def corpus_sample(corpus, seed, index, patch):
    """(blurred, sharp, sigma, kind) like ``models.data.synth.make_sample``, from a random corpus pair:
    a pure function of (seed, index) for a given corpus."""
    rng = np.random.default_rng((seed, index, 0xC0C0))
    sharp, blurred, meta = corpus.pair(int(rng.integers(len(corpus))))
    blurred, sharp = patch_of(rng, (blurred, sharp), patch)
    return blurred, sharp, float(meta["sigma"]), "box3" if meta["raster"] == "software" else "gaussian"


def corpus_count(batch_size, share):
    """How many of a batch's samples come from the corpus."""
    return int(round(batch_size * share))


def mixed_batch(seed, step, batch_size, synth, corpus, share):
    """``models.data.synth.make_batch`` with its last ``corpus_count`` samples drawn from ``corpus``
    instead; the Pillow samples keep their indices, so they are the ones make_batch draws."""
    n_corpus = corpus_count(batch_size, share)
    samples = [make_sample(seed, step * batch_size + i, synth) for i in range(batch_size - n_corpus)]
    samples += [corpus_sample(corpus, seed, step * batch_size + i, synth.patch)
                for i in range(batch_size - n_corpus, batch_size)]
    return stack_samples(samples)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", type=int, required=True, help="elements 0..N-1 (each on both paths, DPR 1 and 2)")
    parser.add_argument("--out", default="runs/corpus", help="corpus folder (keep it under runs/: never committed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-size", type=int, default=50, help="elements per shard")
    parser.add_argument("--rasters", default=",".join(RASTER_ARGS), help="comma-separated: software,gpu")
    args = parser.parse_args(argv)
    rasters = browser_rasters(parser, args.rasters)
    build_corpus(args.out, args.elements, args.seed, args.shard_size, rasters)


if __name__ == "__main__":
    main()
