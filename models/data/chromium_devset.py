"""Chromium-rendered dev set: real HTML text rendered by Debian chromium, sharp and under CSS blur.

    python -m models.data.chromium_devset --out models/devset [--quick] [--seed 0]

Every text element sits alone in a wrapper with a constant background. The page is rendered
at DPR 1 and 2 on two raster paths (the default software raster, and GPU raster on SwiftShader),
once sharp and once per CSS ``filter: blur(r)``. Each element's region, widened by a margin that
holds the whole blur spread, is cut from full-page screenshots taken with the same layout, so the
sharp and blurred crops are pixel-aligned. A stratified subset of blur radii is stored as PNGs
with a ``manifest.json``; every capture (stored or not) is also compared with ``models.data.blur``
and the result written to ``blur_match.json`` (see docs/chromium-blur.md).
"""
import argparse
import html
import io
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.data.blur import box3_blur, gaussian_blur

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-quic"]
GPU_ARGS = ["--enable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
            "--enable-gpu-rasterization", "--ignore-gpu-blocklist"]
RASTER_ARGS = {"software": BASE_ARGS, "gpu": BASE_ARGS + GPU_ARGS}
BLUR_RADII = (0, 0.5, 1, 1.5, 2, 3, 4)  # CSS px
DPRS = (1, 2)
# Per DPR, the stored radii: one drawn from each group; sigma = r * dpr. Two of the three groups
# blur by sigma >= 1.5 device px, where pages blur and where restoring is hardest.
RADIUS_GROUPS = {1: ((0, 0.5, 1), (1.5, 2), (3, 4)), 2: ((0, 0.5, 1), (1.5, 2), (3, 4))}
WRAPPER_PAD = 24  # CSS px of constant background around each element: >= the crop margin below
VIEWPORT_WIDTH = 1280
# Chromium's GPU path sometimes drew the first frame after a filter change a grey level off the
# frames after it (6 of 20 fresh browsers; 1 of 40 once the screenshot waited for two frames)
TWO_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
SETTLE_TRIES = 4  # screenshots of one state at most, until two in a row agree
ELEMENTS_PER_PAGE = 12


def crop_margin(dpr, max_radius=max(BLUR_RADII)):
    """Device px around the element box: 3 sigma of the largest blur plus room for glyph overhang."""
    return math.ceil(3 * max_radius * dpr + 8)


# ---------------------------------------------------------------- content

LATIN_WORDS = (
    "account", "balance", "window", "quarterly", "shipping", "journey", "privacy", "settings",
    "download", "gallery", "weather", "harbour", "keyboard", "feedback", "subscribe", "premium",
    "economy", "pattern", "village", "kitchen", "mountain", "library", "quantum", "vivid",
    "jazz", "oxygen", "zebra", "fjord", "whisky", "puzzle", "network", "velocity", "ambient",
    "breakfast", "dividend", "glimpse", "hexagon", "inquiry", "juncture", "knowledge",
)
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Your order has shipped and will arrive Tuesday.",
    "Sign up today to get unlimited access.",
    "Prices may vary depending on your location.",
    "This content is available to subscribers only.",
    "Read the full story in our weekly newsletter.",
    "We use cookies to improve your experience.",
    "Pack my box with five dozen liquor jugs.",
    "Meeting moved to 3:30 PM in room B-214.",
    "Results are updated every fifteen minutes.",
    "Refunds are processed within five business days.",
    "The museum reopens after a long renovation.",
    "Please verify your email address to continue.",
    "Temperatures will drop sharply overnight.",
    "Jackdaws love my big sphinx of quartz.",
    "Your trial expires in 3 days; upgrade now.",
    "Quarterly revenue rose 12% to $4.7 billion.",
    "Bring a valid photo ID to the front desk.",
    "Comments are closed for this article.",
    "Seats are limited, so book early to avoid delays.",
    "How vexingly quick daft zebras jump!",
    "Call 555-0192 between 9 a.m. and 5 p.m.",
)
UI_LABELS = (
    "Sign in", "Add to cart", "Subscribe", "Learn more", "Continue", "Download PDF",
    "Accept all", "Settings", "Log out", "Buy now", "Next page", "Show answer", "Unlock",
)
CODE = (
    "const total = items.reduce((a, b) => a + b, 0);",
    "def main(argv=None):",
    "SELECT id, name FROM users WHERE age > 21;",
    "git commit -m \"fix: typo\"",
    "print(f\"{x:.3f}\")",
    "export PATH=$HOME/bin:$PATH",
    "if (err != nil) { return err }",
    "<div class=\"card\">",
)
KOREAN = (
    "안녕하세요", "회원 전용 콘텐츠입니다", "지금 구독하고 전체 기사를 읽으세요", "장바구니에 담기",
    "오늘의 날씨는 맑음", "비밀번호를 입력하세요", "정답 보기", "가격은 지역에 따라 다릅니다",
)
CHINESE = (
    "欢迎光临", "会员专享内容", "立即订阅阅读全文", "加入购物车", "今天天气晴朗",
    "请输入密码", "查看答案", "价格因地区而异",
)
JAPANESE = (
    "ようこそ", "会員限定コンテンツです", "今すぐ登録して全文を読む", "カートに入れる",
    "今日は晴れです", "パスワードを入力してください", "答えを見る", "価格は地域によって異なります",
)
FONTS = {
    "serif": ("DejaVu Serif", "Liberation Serif", "Noto Serif"),
    "sans": ("DejaVu Sans", "Liberation Sans", "Noto Sans"),
    "mono": ("DejaVu Sans Mono", "Liberation Mono"),
}
CJK_FONTS = {
    "ko": {"sans": "Noto Sans CJK KR", "serif": "Noto Serif CJK KR"},
    "zh": {"sans": "Noto Sans CJK SC", "serif": "Noto Serif CJK SC"},
    "ja": {"sans": "Noto Sans CJK JP", "serif": "Noto Serif CJK JP"},
}
LIGHT_BG = ("#ffffff", "#f8f9fa", "#fdf6e3", "#f1f3f4")
DARK_TEXT = ("#111111", "#202124", "#333333", "#1a1a2e")
DARK_BG = ("#121212", "#1e1e2e", "#263238", "#000000")
LIGHT_TEXT = ("#ffffff", "#eeeeee", "#cfd8dc")
BUTTON_BG = ("#0a58ca", "#198754", "#dc3545", "#6f42c1", "#fd7e14", "#0d6efd")
SCHEMES = ("dark_on_light", "dark_on_light", "light_on_dark", "low_contrast", "button", "link")
KINDS = ("word", "sentence", "price", "code", "ui", "paragraph", "ko", "zh", "ja", "paragraph")


def _price(rng):
    value = rng.choice((rng.randint(1, 99), rng.randint(100, 9999), rng.randint(10000, 999999)))
    cents = rng.randint(0, 99)
    return rng.choice((
        f"${value:,}.{cents:02d}", f"€ {value},{cents:02d}", f"₩{value * 100:,}", f"£{value}.{cents:02d}",
        f"{value:,} items", f"+{rng.randint(1, 99)}.{rng.randint(0, 9)}%", f"Order #{rng.randint(100000, 999999)}",
    ))


def _text(kind, rng, size):
    # Keep single lines within the page: about 0.6 em per Latin character, 1 em per CJK one.
    if kind == "word":
        return " ".join(rng.sample(LATIN_WORDS, rng.randint(1, 3)))
    if kind == "sentence":
        text = rng.choice(SENTENCES)
        while len(text) * 0.6 * size > VIEWPORT_WIDTH - 3 * WRAPPER_PAD:
            text = text.rsplit(" ", 1)[0]
        return text
    if kind == "price":
        return _price(rng)
    if kind == "code":
        return rng.choice(CODE)
    if kind == "ui":
        return rng.choice(UI_LABELS)
    if kind == "paragraph":
        return " ".join(rng.sample(SENTENCES, 2))
    corpus = {"ko": KOREAN, "zh": CHINESE, "ja": JAPANESE}[kind]
    return rng.choice(corpus)


def make_elements(count, seed=0):
    """``count`` element specs (text and style), deterministic under ``seed``."""
    rng = random.Random(seed)
    elements = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        lang = kind if kind in CJK_FONTS else "en"
        scheme = rng.choice(SCHEMES)
        # Small text is the hard and common case; spread sizes log-uniformly over 9-40 CSS px.
        size = int(round(math.exp(rng.uniform(math.log(9), math.log(40)))))
        if kind == "paragraph":
            size = min(size, 15)
        if kind == "code":
            font_class = "mono"
        elif lang != "en":
            font_class = rng.choice(("sans", "sans", "serif"))
        else:
            font_class = rng.choice(("sans", "sans", "serif", "mono"))
        family = CJK_FONTS[lang][font_class] if lang != "en" else rng.choice(FONTS[font_class])
        element = {
            "id": index, "kind": kind, "lang": lang, "text": _text(kind, rng, size),
            "font": family, "font_class": font_class, "size_css": size,
            "bold": scheme == "button" or rng.random() < 0.25,
            "italic": lang == "en" and kind != "code" and rng.random() < 0.2,
            "scheme": scheme, "subpixel_x": round(rng.random(), 2),
        }
        if scheme == "dark_on_light":
            element.update(page_bg=rng.choice(LIGHT_BG), color=rng.choice(DARK_TEXT))
        elif scheme == "light_on_dark":
            element.update(page_bg=rng.choice(DARK_BG), color=rng.choice(LIGHT_TEXT))
        elif scheme == "low_contrast":
            if rng.random() < 0.7:
                element.update(page_bg=rng.choice(LIGHT_BG), color=rng.choice(("#999999", "#aaaaaa", "#8a8f98")))
            else:
                element.update(page_bg=rng.choice(DARK_BG), color=rng.choice(("#666666", "#5c6370")))
        elif scheme == "button":
            element.update(page_bg=rng.choice(LIGHT_BG), color="#ffffff", background=rng.choice(BUTTON_BG),
                           radius=rng.randint(3, 14))
        else:
            element.update(page_bg=rng.choice(LIGHT_BG), color=rng.choice(("#0645ad", "#1a0dab", "#0b57d0")))
        elements.append(element)
    return elements


def element_css(element):
    rules = [
        "display:inline-block", f"font-family:'{element['font']}'", f"font-size:{element['size_css']}px",
        f"font-weight:{700 if element['bold'] else 400}", f"font-style:{'italic' if element['italic'] else 'normal'}",
        f"color:{element['color']}", f"margin-left:{element['subpixel_x']}px", "line-height:1.3",
    ]
    if element["kind"] == "paragraph":
        rules.append("max-width:300px")
    else:
        rules.append("white-space:nowrap")
    if element["scheme"] == "button":
        rules += [f"background:{element['background']}", f"border-radius:{element['radius']}px", "padding:0.35em 0.9em"]
    if element["scheme"] == "link":
        rules.append("text-decoration:underline")
    return ";".join(rules)


def page_html(elements, pad=WRAPPER_PAD):
    """A page of ``elements``, each alone in a wrapper of ``pad`` CSS px of its own background."""
    rows = []
    for element in elements:
        rows.append(
            f'<div class="wrap" style="background:{element["page_bg"]}">'
            f'<span class="t" id="e{element["id"]}" lang="{element["lang"]}" style="{element_css(element)}">'
            f'{html.escape(element["text"])}</span></div>')
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><style>"
        f"body{{margin:0;background:#fff}} .wrap{{padding:{pad}px;overflow:hidden}}"
        "</style></head><body>" + "".join(rows) + "</body></html>")


# ---------------------------------------------------------------- rendering

def launch(playwright, raster):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=RASTER_ARGS[raster])


def _screenshot(page):
    return np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB"))


def settled_screenshot(page, tries=SETTLE_TRIES):
    """A full-page screenshot of a page that has drawn its last change: Chromium's GPU path
    sometimes draws the first frames after a filter change a grey level off the frames after them,
    so it waits two frames, then retakes the screenshot until two in a row agree (at most ``tries``)."""
    page.evaluate(TWO_FRAMES)
    shot = _screenshot(page)
    for _ in range(tries - 1):
        previous, shot = shot, _screenshot(page)
        if np.array_equal(previous, shot):
            break
    return shot


def capture_page(browser, elements, dpr, passes, pad=WRAPPER_PAD):
    """Render ``elements`` on one page and screenshot it whole: (rects, shots).

    ``rects`` holds, per element, its box and its wrapper's box in CSS px (left, top, right,
    bottom each); ``shots[0]`` is the page without filters and ``shots[k + 1]`` the page with
    element ``i`` under ``filter: blur(passes[k][i] px)``, all with the same layout."""
    page = browser.new_page(viewport={"width": VIEWPORT_WIDTH, "height": 720}, device_scale_factor=dpr)
    try:
        page.set_content(page_html(elements, pad))
        page.evaluate("document.fonts.ready.then(() => true)")
        rects = page.evaluate(
            "() => [...document.querySelectorAll('.t')].map(e => { const r = e.getBoundingClientRect(),"
            " w = e.parentElement.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom,"
            " w.left, w.top, w.right, w.bottom]; })")
        shots = [settled_screenshot(page)]
        for radii in passes:
            page.evaluate("filters => document.querySelectorAll('.t').forEach((e, i) => e.style.filter = filters[i])",
                          [f"blur({radius}px)" for radius in radii])
            shots.append(settled_screenshot(page))
    finally:
        page.close()
    return rects, shots


def crop_box(rect, dpr, margin):
    """(rows, cols) slices of an element's box widened by ``margin`` device px, or None where
    that reaches outside the element's wrapper (the blur spread would be cut)."""
    left, top = math.floor(rect[0] * dpr) - margin, math.floor(rect[1] * dpr) - margin
    right, bottom = math.ceil(rect[2] * dpr) + margin, math.ceil(rect[3] * dpr) + margin
    wrap = [round(v * dpr) for v in rect[4:]]
    if left < wrap[0] or top < wrap[1] or right > wrap[2] or bottom > wrap[3]:
        return None
    return slice(top, bottom), slice(left, right)


def render_captures(browser, elements, dpr, radii=BLUR_RADII):
    """Yield (element, sharp crop, {radius: blurred crop}) for each element, as uint8 HxWx3 arrays.

    radius 0 is a capture under ``filter: blur(0px)`` (the browser's own identity)."""
    rects, shots = capture_page(browser, elements, dpr, [[radius] * len(elements) for radius in radii])
    margin = crop_margin(dpr)
    for element, rect in zip(elements, rects):
        crop = crop_box(rect, dpr, margin)
        if crop is None:
            raise RuntimeError(f"element {element['id']} with its blur margin overflows its wrapper: {element['text']!r}")
        yield element, shots[0][crop], {radius: shot[crop] for radius, shot in zip(radii, shots[1:])}


def chromium_version():
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.strip() or "unknown"


# ---------------------------------------------------------------- kernel match

def to_tensor(image):
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255


def to_uint8(tensor):
    return (tensor[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def psnr_uint8(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


KERNELS = {"identity": lambda x, sigma: x, "gaussian": gaussian_blur, "box3": box3_blur}


def kernel_errors(sharp, blurred, sigma):
    """Per kernel: (squared error sum, pixel count, max abs error in 8-bit levels) of the kernel on ``sharp`` vs ``blurred``."""
    x = to_tensor(sharp)
    result = {}
    for name, kernel in KERNELS.items():
        diff = to_uint8(kernel(x, sigma)).astype(np.int32) - blurred.astype(np.int32)
        result[name] = (float(np.sum(diff.astype(np.float64) ** 2)), diff.size, int(np.abs(diff).max()))
    return result


class KernelMatch:
    """Pools kernel errors per (raster path, sigma) into PSNR over all pixels and the worst pixel."""

    def __init__(self):
        self.groups = {}

    def add(self, raster, sigma, sharp, blurred):
        group = self.groups.setdefault((raster, float(sigma)), {"count": 0})
        group["count"] += 1
        for name, (sq, n, worst) in kernel_errors(sharp, blurred, sigma).items():
            sq0, n0, worst0 = group.get(name, (0.0, 0, 0))
            group[name] = (sq0 + sq, n0 + n, max(worst0, worst))

    def rows(self):
        rows = []
        for (raster, sigma), group in sorted(self.groups.items()):
            row = {"raster": raster, "sigma_px": sigma, "crops": group["count"]}
            for name in KERNELS:
                sq, n, worst = group[name]
                row[f"{name}_psnr"] = round(99.0 if sq == 0 else 10 * math.log10(255.0 ** 2 * n / sq), 2)
                row[f"{name}_max_err"] = worst
            rows.append(row)
        return rows


def kernel_match_markdown(rows):
    lines = ["| raster | sigma (px) | crops | box3 PSNR / max err | gaussian PSNR / max err | unblurred PSNR |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['raster']} | {row['sigma_px']:g} | {row['crops']} | {row['box3_psnr']:.1f} / {row['box3_max_err']} "
                     f"| {row['gaussian_psnr']:.1f} / {row['gaussian_max_err']} | {row['identity_psnr']:.1f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- dev set

def stored_radii(element_id, dpr, seed):
    rng = random.Random(f"{seed}-{element_id}-{dpr}")
    return [rng.choice(group) for group in RADIUS_GROUPS[dpr]]


def radius_tag(radius):
    return f"{radius:g}".replace(".", "p")


def save_png(array, path):
    Image.fromarray(array).save(path, optimize=True)


def build_devset(out, count, seed=0, rasters=tuple(RASTER_ARGS), dprs=DPRS, log=print):
    """Render, store the stratified slice with its manifest, and measure every capture against models.data.blur."""
    from playwright.sync_api import sync_playwright

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    elements = make_elements(count, seed)
    samples, match = [], KernelMatch()
    with sync_playwright() as playwright:
        for raster in rasters:
            browser = launch(playwright, raster)
            try:
                for dpr in dprs:
                    started = time.time()
                    for first in range(0, len(elements), ELEMENTS_PER_PAGE):
                        batch = elements[first:first + ELEMENTS_PER_PAGE]
                        for element, sharp, blurred in render_captures(browser, batch, dpr):
                            for radius, image in blurred.items():
                                match.add(raster, radius * dpr, sharp, image)
                            stem = f"{element['id']:03d}_d{dpr}_{raster}"
                            save_png(sharp, out / f"{stem}_sharp.png")
                            for radius in stored_radii(element["id"], dpr, seed):
                                name = f"{stem}_r{radius_tag(radius)}.png"
                                save_png(blurred[radius], out / name)
                                samples.append({
                                    "id": f"{stem}_r{radius_tag(radius)}", "element": element["id"],
                                    "sharp": f"{stem}_sharp.png", "blurred": name,
                                    "text": element["text"], "lang": element["lang"], "kind": element["kind"],
                                    "font": element["font"], "font_class": element["font_class"],
                                    "bold": element["bold"], "italic": element["italic"], "scheme": element["scheme"],
                                    "size_css": element["size_css"], "dpr": dpr, "blur_css": radius,
                                    "sigma_px": radius * dpr, "raster": raster,
                                    "width": int(sharp.shape[1]), "height": int(sharp.shape[0]),
                                })
                    log(f"{raster} dpr {dpr}: {len(elements)} elements in {time.time() - started:.1f}s")
            finally:
                browser.close()
    manifest = {
        "version": 1, "seed": seed, "chromium": chromium_version(), "blur_radii_css": list(BLUR_RADII),
        "margin_px": {str(d): crop_margin(d) for d in dprs}, "elements": elements, "samples": samples,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    rows = match.rows()
    (out / "blur_match.json").write_text(json.dumps({"chromium": manifest["chromium"], "rows": rows}, indent=1) + "\n")
    return manifest, rows


SAMPLE_KEYS = ("id", "sharp", "blurred", "text", "lang", "kind", "size_css", "dpr", "blur_css", "sigma_px", "raster")


def read_manifest(folder):
    """The dev set's manifest, checked: every sample has its keys and both of its PNGs exist."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no dev set at {folder}: build it with python -m models.data.chromium_devset --out {folder}")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for sample in manifest.get("samples", []):
        missing = [key for key in SAMPLE_KEYS if key not in sample]
        if missing:
            raise ValueError(f"{path}: sample {sample.get('id')!r} lacks {missing}")
        for key in ("sharp", "blurred"):
            if not (folder / sample[key]).is_file():
                raise FileNotFoundError(f"{path}: sample {sample['id']!r} names a missing file {sample[key]}")
    return manifest


def load_pair(folder, sample):
    """(sharp, blurred) uint8 HxWx3 arrays of one manifest sample."""
    folder = Path(folder)
    return tuple(np.asarray(Image.open(folder / sample[key]).convert("RGB")) for key in ("sharp", "blurred"))


def browser_rasters(parser, text):
    """The raster paths of a comma-separated ``--rasters`` value, once Chromium is known to be there."""
    rasters = tuple(r for r in text.split(",") if r)
    unknown = set(rasters) - set(RASTER_ARGS)
    if unknown:
        parser.error(f"unknown raster path(s) {sorted(unknown)}; expected {list(RASTER_ARGS)}")
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: install Debian chromium (make system-deps)")
    return rasters


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="models/devset", help="output folder (its PNGs are replaced)")
    parser.add_argument("--elements", type=int, default=54, help="text elements (each rendered at every DPR and raster path)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="one element per content kind")
    parser.add_argument("--rasters", default=",".join(RASTER_ARGS), help="comma-separated: software,gpu")
    args = parser.parse_args(argv)
    rasters = browser_rasters(parser, args.rasters)
    count = len(KINDS) if args.quick else args.elements
    torch.set_num_threads(1)  # the kernel check runs many small convolutions: one thread is fastest
    manifest, rows = build_devset(args.out, count, args.seed, rasters)
    size = sum(p.stat().st_size for p in Path(args.out).iterdir())
    print(f"{len(manifest['samples'])} samples, {size / 1e6:.2f} MB in {args.out}")
    print(kernel_match_markdown(rows))


if __name__ == "__main__":
    main()
