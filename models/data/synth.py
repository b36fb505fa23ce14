"""Synthetic web text: sharp renderings and their Chromium-style blurs, deterministic under a seed.

A sample is drawn from ``numpy.random.default_rng((seed, index))`` alone, so any sample of any
run can be regenerated without the ones before it (resumable training, reproducible validation).
Text is drawn with FreeType's grayscale anti-aliasing at device resolution (font size = CSS px x
DPR) at sub-pixel positions, on web-like backgrounds; then blurred as Chromium's GPU path
(Gaussian) or software path (three box blurs) would, in sRGB values, and captured as PNG or JPEG.
"""
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from models.data.blur import chromium_blur

# Debian's fonts; a GPU machine without them gets a bundle (models/training/gpu_link.py) named by the variable.
FONT_ROOT = Path(os.environ.get("ANTI_AGING_FONT_ROOT", "/usr/share/fonts"))
LATIN_FONTS = {
    "sans": ["truetype/dejavu/DejaVuSans.ttf", "truetype/dejavu/DejaVuSans-Bold.ttf",
             "truetype/dejavu/DejaVuSans-Oblique.ttf", "truetype/liberation2/LiberationSans-Regular.ttf",
             "truetype/liberation2/LiberationSans-Bold.ttf", "truetype/liberation2/LiberationSans-Italic.ttf",
             "truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf",
             "truetype/noto/NotoSans-Italic.ttf"],
    "serif": ["truetype/dejavu/DejaVuSerif.ttf", "truetype/dejavu/DejaVuSerif-Bold.ttf",
              "truetype/liberation2/LiberationSerif-Regular.ttf", "truetype/liberation2/LiberationSerif-Bold.ttf",
              "truetype/liberation2/LiberationSerif-Italic.ttf", "truetype/noto/NotoSerif-Regular.ttf",
              "truetype/noto/NotoSerif-Italic.ttf"],
    "mono": ["truetype/dejavu/DejaVuSansMono.ttf", "truetype/dejavu/DejaVuSansMono-Bold.ttf",
             "truetype/liberation2/LiberationMono-Regular.ttf", "truetype/liberation2/LiberationMono-Bold.ttf",
             "truetype/liberation2/LiberationMono-Italic.ttf"],
}
CJK_FONTS = ["opentype/noto/NotoSansCJK-Regular.ttc", "opentype/noto/NotoSansCJK-Bold.ttc",
             "opentype/noto/NotoSerifCJK-Regular.ttc", "opentype/noto/NotoSerifCJK-Bold.ttc"]
CJK_FACE_INDEX = {"ja": 0, "ko": 1, "zh": 2}  # face order inside the Noto CJK collections: JP, KR, SC, TC, HK

WORDS = (
    "the of and to in is you that it for was on are with as his they be at one have this from or had by "
    "word but what some we can out other were all there when up use your how said an each she which do "
    "their time if will way about many then them write would like so these her long make thing see him "
    "two has look more day could go come did number sound no most people my over know water than call "
    "first who may down side been now find account password login subscribe premium members only article "
    "continue reading price total checkout shipping address email phone support settings profile message "
    "download upgrade unlock offer limited free trial monthly annual plan invoice order delivery search "
    "results privacy policy terms cookies accept reject confirm cancel submit next previous page home news "
    "sports weather business technology science health travel video photos comments share follow like "
    "Answer Solution Chapter Exercise Question Summary Overview Details Reviews Rating Salary Company"
).split()
CODE_LINES = [
    "def main(argv=None):", "return x + y * 2", "for (let i = 0; i < n; i++) {", "const API_KEY = 'sk-4f9a';",
    "SELECT * FROM users WHERE id = 42;", "if err != nil { return err }", "import numpy as np",
    "print(f\"{total:.2f}\")", "git commit -m \"fix\"", "curl -X POST /v1/sharpen", "x = [i**2 for i in range(9)]",
    "fn main() -> Result<()> {", "#include <stdio.h>", "npm install --save-dev", "}", "});",
]
UI_LABELS = ["Sign in", "Sign up", "Subscribe", "Read more", "Show answer", "Unlock", "Buy now", "Add to cart",
             "Continue", "Download PDF", "Log in to see", "Premium", "Next", "Submit", "OK", "Cancel",
             "Learn more", "View all", "Try free", "Reveal"]
KOREAN = ("안녕하세요 회원 전용 콘텐츠 입니다 로그인 하시면 전체 내용을 보실 수 있습니다 가격 배송 주문 "
          "결제 정답 해설 문제 다음 이전 확인 취소 구독 무료 체험 이메일 비밀번호 검색 결과 뉴스 날씨").split()
CHINESE = list("的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作"
               "里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从"
               "想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头"
               "文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提"
               "立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务"
               "做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像"
               "答案会员登录价格")
JAPANESE = list("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
                "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
                "日本語会員登録価格答問題次前確認")


def _decode_rows(codec, rows, last=None):
    """Every character of a two-byte EUC-style code page's ``rows`` (lead bytes), cells 0xA1-0xFE."""
    chars = []
    for lead in rows:
        for cell in range(0xA1, 0xFF):
            if last and (lead, cell) > last:
                break
            try:
                chars.append(bytes((lead, cell)).decode(codec))
            except UnicodeDecodeError:
                continue
    return chars


@lru_cache(maxsize=None)
def wide_cjk_pools():
    """The common characters of each CJK script, from the national standards Python's codecs carry:
    the 2 350 Hangul syllables of KS X 1001, the 3 755 level-1 hanzi of GB 2312, and the 2 965
    level-1 kanji of JIS X 0208 plus all kana. The small word pools above cover a few hundred, so a
    net trained on them alone sees few of the glyphs real pages use."""
    kana = [chr(c) for c in range(0x3041, 0x3094)] + [chr(c) for c in range(0x30A1, 0x30F7)] + ["ー"]
    return {"ko": _decode_rows("euc_kr", range(0xB0, 0xC9)),
            "zh": _decode_rows("gb2312", range(0xB0, 0xD8), last=(0xD7, 0xF9)),
            "ja": kana + _decode_rows("euc_jp", range(0xB0, 0xD0), last=(0xCF, 0xD3))}


LANGS = ("latin", "ko", "zh", "ja")
LANG_WEIGHTS = (0.62, 0.13, 0.13, 0.12)
DPRS = (1.0, 1.25, 1.5, 2.0)


@dataclass
class SynthConfig:
    patch: int = 128
    max_sigma: float = 8.0        # device px: 4 CSS px at DPR 2
    p_sharp: float = 0.06         # fraction of unblurred samples: sharp text must stay as it is
    p_box3: float = 0.5           # software raster path (three box blurs) vs GPU path (Gaussian)
    p_jpeg: float = 0.15
    p_rescale: float = 0.08
    p_hard: float = 0.0           # extra share of samples with sigma in [2, max_sigma], where CER is worst
    p_document: float = 0.0       # document previews: page downscaled 0.35-1x, Gaussian at the served size, JPEG 50-95
    p_wide_cjk: float = 0.0       # share of CJK canvases drawn from the standards' common characters, not the pools


@lru_cache(maxsize=256)
def _font(path, size, index=0):
    return ImageFont.truetype(str(FONT_ROOT / path), size=size, index=index)


def _latin_text(rng, kind):
    if kind == "code":
        return str(rng.choice(CODE_LINES))
    if kind == "label":
        return str(rng.choice(UI_LABELS))
    if kind == "number":
        forms = [lambda: f"${rng.integers(1, 9999)}.{rng.integers(0, 100):02d}",
                 lambda: f"{rng.integers(1, 999999):,}", lambda: f"{rng.integers(0, 100)}%",
                 lambda: f"{rng.integers(1, 12):02d}/{rng.integers(1, 31):02d}/20{rng.integers(10, 30)}",
                 lambda: f"+1 ({rng.integers(200, 999)}) {rng.integers(100, 999)}-{rng.integers(1000, 9999)}",
                 lambda: "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"), size=rng.integers(6, 12)))]
        return forms[rng.integers(len(forms))]()
    words = list(rng.choice(WORDS, size=rng.integers(2, 9)))
    if rng.random() < 0.3:
        words[0] = words[0].capitalize()
    if rng.random() < 0.15:
        words = [w.upper() for w in words]
    return " ".join(words) + str(rng.choice(["", "", ".", ",", ":", "?", "!"]))


def random_text(rng, lang, wide=False):
    """(text, is_code) of one line; ``wide``: CJK characters from ``wide_cjk_pools`` instead of the pools."""
    if lang == "latin":
        kind = rng.choice(["prose", "prose", "prose", "code", "label", "number"])
        return _latin_text(rng, kind), kind == "code"
    if wide:
        pool = wide_cjk_pools()[lang]
        if lang == "ko":  # words of 1-4 syllables
            return " ".join("".join(rng.choice(pool, size=rng.integers(1, 5))) for _ in range(rng.integers(1, 6))), False
        return "".join(rng.choice(pool, size=rng.integers(2, 14))), False
    if lang == "ko":
        return " ".join(rng.choice(KOREAN, size=rng.integers(1, 6))), False
    pool = CHINESE if lang == "zh" else JAPANESE
    return "".join(rng.choice(pool, size=rng.integers(2, 14))), False


def _color(rng, lo=0, hi=256):
    return tuple(int(c) for c in rng.integers(lo, hi, size=3))


def _luma(c):
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _colors(rng):
    """Background and text colours: dark on light, light on dark, coloured, or low contrast."""
    style = rng.choice(["dark_on_light", "light_on_dark", "colored", "low_contrast"], p=[0.5, 0.2, 0.2, 0.1])
    if style == "dark_on_light":
        return _color(rng, 215, 256), _color(rng, 0, 90)
    if style == "light_on_dark":
        return _color(rng, 0, 70), _color(rng, 190, 256)
    if style == "colored":
        bg = _color(rng)
        fg = (255, 255, 255) if _luma(bg) < 140 else _color(rng, 0, 60)
        return bg, fg
    base = int(rng.integers(90, 230))
    bg = tuple(int(np.clip(base + rng.integers(-8, 9), 0, 255)) for _ in range(3))
    delta = int(rng.integers(45, 90)) * (1 if base < 160 else -1)
    return bg, tuple(int(np.clip(c + delta, 0, 255)) for c in bg)


def _background(rng, size, bg):
    img = Image.new("RGB", (size, size), bg)
    if rng.random() < 0.2:  # gradient
        other = np.array(_color(rng, 0, 256)) * 0.35 + np.array(bg) * 0.65
        t = np.linspace(0, 1, size)[:, None, None] if rng.random() < 0.5 else np.linspace(0, 1, size)[None, :, None]
        arr = np.array(bg)[None, None] * (1 - t) + other[None, None] * t
        img = Image.fromarray(np.broadcast_to(arr, (size, size, 3)).round().astype(np.uint8))
    return img


def render_sharp(rng, size, p_wide_cjk=0.0):
    """One sharp canvas (size x size RGB uint8) of web-like text; returns (array, meta)."""
    bg, fg = _colors(rng)
    img = _background(rng, size, bg)
    draw = ImageDraw.Draw(img)
    dpr = float(rng.choice(DPRS))
    lang = str(rng.choice(LANGS, p=LANG_WEIGHTS))
    # drawn only when asked, so the default stream stays what it was
    wide = lang != "latin" and bool(p_wide_cjk) and rng.random() < p_wide_cjk
    css_size = float(np.clip(rng.lognormal(np.log(15), 0.4), 9, 40))
    px = max(6, int(round(css_size * dpr)))
    y = float(rng.uniform(-px * 0.8, px * 0.6))
    line_gap = px * rng.uniform(1.15, 1.7)
    button = rng.random() < 0.15
    while y < size:
        text, is_code = random_text(rng, lang, wide)
        font = random_font(rng, lang, is_code, px)
        x = float(rng.uniform(-px * 2, size * 0.4))
        if button:  # a coloured pill behind the label
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            pad = px * 0.5
            button_color = _color(rng)
            draw.rounded_rectangle((left - pad, top - pad * 0.6, right + pad, bottom + pad * 0.6),
                                   radius=pad, fill=button_color)
            line_fg = (255, 255, 255) if _luma(button_color) < 140 else (20, 20, 20)
        else:
            line_fg = fg
        draw.text((x, y), text, font=font, fill=line_fg)
        if rng.random() < 0.08:  # underlined link
            left, _, right, bottom = draw.textbbox((x, y), text, font=font)
            draw.line((left, bottom + 1, right, bottom + 1), fill=line_fg, width=max(1, px // 14))
        y += line_gap * (rng.uniform(1.5, 2.5) if button else 1.0)
    return np.asarray(img), {"lang": lang, "dpr": dpr, "css_size": css_size, "wide_cjk": wide}


def _capture(rng, arr, config):
    """JPEG round trip for a fraction of samples; captures are mostly lossless PNG."""
    if rng.random() >= config.p_jpeg:
        return arr
    return jpeg_round_trip(arr, int(rng.integers(80, 96)))[0]


def jpeg_round_trip(arr, quality):
    """(decoded uint8 array, JPEG bytes) of an HxWx3 uint8 array saved at ``quality``."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB")), buf.getvalue()


def _crop_margin(t, margin, size):
    """The size x size centre of an (N, C, H, W) canvas rendered with ``margin`` on every side."""
    return t[:, :, margin:margin + size, margin:margin + size]


def _to_tensor(arr):
    return torch.from_numpy(np.array(arr)).permute(2, 0, 1).float().div(255).unsqueeze(0)


def _to_uint8(t):
    return t.squeeze(0).clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()


def sample_sigma(rng, config):
    if rng.random() < config.p_sharp:
        return 0.0
    if config.p_hard and rng.random() < config.p_hard:
        return float(rng.uniform(2.0, config.max_sigma))
    return float(rng.uniform(0.3, config.max_sigma) if rng.random() < 0.5 else rng.uniform(0.3, 3.0))


def _document_sample(rng, config):
    """A blurred document preview: a page rendered large, served downscaled, Gaussian-blurred at
    the served size and JPEG-compressed, as document sites serve previews nobody may read."""
    sigma = float(rng.uniform(0.5, 5.0))
    scale = float(rng.uniform(0.35, 1.0))
    margin = int(np.ceil(3 * sigma)) + 2
    served = config.patch + 2 * margin
    page_arr, _ = render_sharp(rng, int(np.ceil(served / scale)), config.p_wide_cjk)
    sharp = torch.nn.functional.interpolate(_to_tensor(page_arr), size=(served, served), mode="bilinear",
                                            antialias=True, align_corners=False)
    blurred = _crop_margin(chromium_blur(sharp, sigma, "gaussian"), margin, config.patch)
    served, _ = jpeg_round_trip(_to_uint8(blurred), int(rng.integers(50, 96)))
    return served, _to_uint8(_crop_margin(sharp, margin, config.patch)), sigma, "document"


def make_sample(seed, index, config=SynthConfig()):
    """(blurred, sharp, sigma, kind) for one patch: uint8 HxWx3 arrays, sigma in device px."""
    rng = np.random.default_rng((seed, index))
    if config.p_document and rng.random() < config.p_document:
        return _document_sample(rng, config)
    sigma = sample_sigma(rng, config)
    kind = "box3" if rng.random() < config.p_box3 else "gaussian"
    margin = int(np.ceil(3 * config.max_sigma)) + 2
    canvas = config.patch + 2 * margin
    sharp_arr, _ = render_sharp(rng, canvas, config.p_wide_cjk)
    sharp = _to_tensor(sharp_arr)
    blurred = chromium_blur(sharp, sigma, kind)
    sharp, blurred = _crop_margin(sharp, margin, config.patch), _crop_margin(blurred, margin, config.patch)
    if rng.random() < config.p_rescale:  # page zoom / scaled capture: the same resampling on both
        scale = rng.uniform(0.8, 1.0)
        size = max(8, int(round(config.patch * scale)))
        sharp, blurred = (torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", antialias=True,
                                                          align_corners=False) for t in (sharp, blurred))
        sharp, blurred = (torch.nn.functional.pad(t, (0, config.patch - size, 0, config.patch - size), mode="replicate")
                          for t in (sharp, blurred))
    blurred_arr = _capture(rng, _to_uint8(blurred), config)
    return blurred_arr, _to_uint8(sharp), sigma, kind


def make_batch(seed, step, batch_size, config=SynthConfig()):
    """A training batch as float tensors: blurred (B,3,P,P), sharp (B,3,P,P), sigma (B,)."""
    return stack_samples([make_sample(seed, step * batch_size + i, config) for i in range(batch_size)])


def stack_samples(samples):
    """(blurred, sharp, sigma) tensors of ``make_sample``-like (blurred, sharp, sigma, kind) tuples."""
    blurred = torch.cat([_to_tensor(s[0]) for s in samples])
    sharp = torch.cat([_to_tensor(s[1]) for s in samples])
    sigma = torch.tensor([s[2] for s in samples], dtype=torch.float32)
    return blurred, sharp, sigma


def random_font(rng, lang, is_code, px):
    """A font for a line of ``lang`` text at ``px`` device px: monospace for code (and a tenth of
    the rest), else sans or serif; the Noto CJK face of the language for ko, zh and ja."""
    if lang == "latin":
        family = "mono" if is_code or rng.random() < 0.1 else str(rng.choice(["sans", "serif"], p=[0.65, 0.35]))
        return _font(LATIN_FONTS[family][rng.integers(len(LATIN_FONTS[family]))], px)
    return _font(CJK_FONTS[rng.integers(len(CJK_FONTS))], px, CJK_FACE_INDEX[lang])
