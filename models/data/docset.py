"""Blurred document previews: our own paragraphs, rendered by Chromium, degraded as document sites serve them.

    python -m models.data.docset --out models/docset [--pages 24] [--seed 0]

A page (a heading and a paragraph) is rendered sharp by Debian chromium at DPR 2, the "original"
page image. Each preview is that image downscaled by 0.35-1x (the served size), Gaussian-blurred
at the served size with sigma 1-5 px and saved as JPEG quality 70-90, which is what sites that
sell documents serve and what nobody can read. The reference is the page at the served size,
unblurred. No sigma is known for such images, so the interesting rows are the blind ones. The
manifest uses the dev set's sample keys, so ``python -m models.evaluation.evaluate --devset models/docset``
scores it (raster ``document``; ``sigma_px`` is the blur at the served size).
"""
import argparse
import html
import io
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.data.blur import gaussian_blur
from models.data.chromium_devset import CHROMIUM, SENTENCES, chromium_version, launch, save_png, to_tensor, to_uint8
from models.data.synth import jpeg_round_trip

RENDER_DPR = 2
HEADINGS = ("Chapter 4: Cash flow", "Solution", "Lab report", "Terms of service", "Exercise 12",
            "Meeting notes", "Summary", "Appendix B", "Answer key", "Method")
KOREAN_PARAGRAPHS = (
    "이 문서는 회원 전용입니다. 전체 내용을 보려면 로그인하세요. 가격은 지역에 따라 다릅니다.",
    "다음 문제의 정답과 해설을 확인하세요. 계산 과정은 아래 표에 정리되어 있습니다.",
)
DOC_FONTS = ("DejaVu Serif", "Liberation Serif", "Noto Serif", "Liberation Sans", "DejaVu Sans")


def make_pages(count, seed=0):
    """``count`` page specs (text, font, size) and their degradations, deterministic under ``seed``."""
    rng = random.Random(seed)
    pages = []
    for index in range(count):
        korean = index % 6 == 5
        body = rng.choice(KOREAN_PARAGRAPHS) if korean else " ".join(rng.sample(SENTENCES, 3))
        pages.append({
            "id": index, "lang": "ko" if korean else "en", "heading": rng.choice(HEADINGS), "body": body,
            "font": "Noto Serif CJK KR" if korean else rng.choice(DOC_FONTS), "size_css": rng.choice((13, 14, 15, 16, 18)),
            "scale": round(rng.uniform(0.35, 1.0), 3), "sigma": round(rng.uniform(1.0, 5.0), 2),
            "quality": rng.randint(70, 90),
        })
    return pages


def page_html(page):
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><style>body{margin:0;background:#fff}"
            f"#doc{{width:400px;padding:18px 22px;color:#111;font-family:'{page['font']}';"
            f"font-size:{page['size_css']}px;line-height:1.45}} h3{{margin:0 0 6px;font-size:1.25em}} p{{margin:0}}"
            f"</style></head><body><div id=\"doc\" lang=\"{page['lang']}\"><h3>{html.escape(page['heading'])}</h3>"
            f"<p>{html.escape(page['body'])}</p></div></body></html>")


def degrade(original, scale, sigma, quality):
    """(served sharp uint8 array, served blurred JPEG-decoded uint8 array, its JPEG bytes) from a sharp page image."""
    height, width = original.shape[:2]
    size = (max(8, round(height * scale)), max(8, round(width * scale)))
    served = torch.nn.functional.interpolate(to_tensor(original), size=size, mode="bilinear", antialias=True,
                                             align_corners=False)
    blurred, jpeg = jpeg_round_trip(to_uint8(gaussian_blur(served, sigma)), quality)
    return to_uint8(served), blurred, jpeg


def build_docset(out, count, seed=0, log=print):
    from playwright.sync_api import sync_playwright

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.png"), *out.glob("*.jpg")]:
        old.unlink()
    pages, samples = make_pages(count, seed), []
    with sync_playwright() as playwright:
        browser = launch(playwright, "software")
        try:
            view = browser.new_page(viewport={"width": 640, "height": 480}, device_scale_factor=RENDER_DPR)
            for page in pages:
                view.set_content(page_html(page))
                view.evaluate("document.fonts.ready.then(() => true)")
                shot = view.locator("#doc").screenshot()
                original = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))
                sharp, blurred, jpeg = degrade(original, page["scale"], page["sigma"], page["quality"])
                stem = f"doc{page['id']:03d}"
                save_png(sharp, out / f"{stem}_sharp.png")
                (out / f"{stem}_served.jpg").write_bytes(jpeg)
                samples.append({
                    "id": stem, "element": page["id"], "sharp": f"{stem}_sharp.png", "blurred": f"{stem}_served.jpg",
                    "text": f"{page['heading']}\n{page['body']}", "lang": page["lang"], "kind": "paragraph",
                    # the text's pixel size at the served size, for the OCR upscale
                    "size_css": page["size_css"] * RENDER_DPR * page["scale"], "dpr": 1,
                    "blur_css": page["sigma"], "sigma_px": page["sigma"], "raster": "document",
                    "scale": page["scale"], "jpeg_quality": page["quality"],
                    "width": int(sharp.shape[1]), "height": int(sharp.shape[0]),
                })
            log(f"{len(samples)} document previews")
        finally:
            browser.close()
    manifest = {"version": 1, "seed": seed, "chromium": chromium_version(), "render_dpr": RENDER_DPR,
                "pages": pages, "samples": samples}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="models/docset", help="output folder (its images are replaced)")
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: install Debian chromium (make system-deps)")
    manifest = build_docset(args.out, args.pages, args.seed)
    size = sum(p.stat().st_size for p in Path(args.out).iterdir())
    print(f"{len(manifest['samples'])} samples, {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
