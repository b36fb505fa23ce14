"""A small text recogniser (CRNN + CTC) trained on synthetic sharp lines: a readability judge.

    python -m models.recognizer --out runs/recognizer --export models/checkpoints/recognizer.pt

The labels cost nothing because we render them: ``make_line`` draws one line of synth's web
text (its fonts, colours and word lists) at 11-32 device px, and returns the exact text it drew,
optionally with the Chromium-style blur of it for deblur training. Frozen, the recogniser scores
restored lines through ``ReadabilityLoss`` (its CTC loss), a term the deblurring trainer can add
to the pixel loss. It is not a deblurring model, so it is not in models.REGISTRY; its checkpoint
has the same payload (config + weights) and is read back by ``load_recognizer``.
"""
import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw
from scipy import ndimage
from tqdm import tqdm

from models import CHECKPOINT_DIR, CheckpointError, read_checkpoint, save_checkpoint
from models.blur import chromium_blur
from models.ocr import cer
from models.train import lr_at, parse_config
from models.synth import (CHINESE, JAPANESE, KOREAN, LANG_WEIGHTS, LANGS, SynthConfig, _colors, random_font,
                          random_text, sample_sigma)

HEIGHT = 32          # the recogniser reads grey lines resized to this height
STRIDE = 4           # input columns per output column
DEFAULT_RECOGNIZER = CHECKPOINT_DIR / "recognizer.pt"
OCR_LANG = {"latin": "en", "ko": "ko", "zh": "zh", "ja": "ja"}  # synth's language names -> models.ocr's


def _derive_charset():
    """Printable ASCII, then every character of synth's Korean, Chinese and Japanese pools, once each."""
    chars = [chr(c) for c in range(32, 127)]
    seen = set(chars)
    for pool in (KOREAN, CHINESE, JAPANESE):
        for ch in "".join(pool):
            if ch not in seen and not ch.isspace():
                seen.add(ch)
                chars.append(ch)
    return "".join(chars)


CHARSET = _derive_charset()  # class k >= 1 is CHARSET[k - 1]; class 0 is the CTC blank


def encode(text, charset=CHARSET):
    """Class indices of ``text``; a character outside the charset raises ValueError."""
    index = {ch: i + 1 for i, ch in enumerate(charset)}
    missing = sorted({ch for ch in text if ch not in index})
    if missing:
        raise ValueError(f"characters outside the recogniser's charset: {''.join(missing)!r}")
    return [index[ch] for ch in text]


def decode(indices, charset=CHARSET):
    """Greedy CTC decoding of one column sequence: merge repeats, drop blanks."""
    out, previous = [], 0
    for k in indices:
        k = int(k)
        if k != previous and k != 0:
            out.append(charset[k - 1])
        previous = k
    return "".join(out)


@dataclass
class TextRecognizerConfig:
    name: str = "text_recognizer"
    channels: tuple = (24, 48, 64, 96)
    hidden: int = 64               # per direction of the BiGRU
    charset: str = CHARSET         # stored in the checkpoint: synth's word lists may grow later


def _conv_bn(c_in, c_out, kernel=3, padding=1):
    return [nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class TextRecognizer(nn.Module):
    """CRNN: convs over a (N, 1, 32, W) normalised grey line, height collapsed to 1, width / 4;
    a BiGRU over the columns; per-column logits over blank + charset -> (N, W // 4, classes)."""

    def __init__(self, config: TextRecognizerConfig):
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.channels
        self.features = nn.Sequential(
            *_conv_bn(1, c1), nn.MaxPool2d(2),                         # 16 x W/2
            *_conv_bn(c1, c2), nn.MaxPool2d(2),                        # 8 x W/4
            *_conv_bn(c2, c3), *_conv_bn(c3, c3), nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_conv_bn(c3, c4), nn.MaxPool2d((2, 1)),                   # 2 x W/4
            *_conv_bn(c4, c4, kernel=(2, 3), padding=(0, 1)),          # 1 x W/4
        )
        self.sequence = nn.GRU(c4, config.hidden, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * config.hidden, len(config.charset) + 1)

    def forward(self, x):
        y = self.features(x).squeeze(2).transpose(1, 2)  # (N, T, C)
        y, _ = self.sequence(y)
        return self.classifier(y)


def build_recognizer(**overrides):
    return TextRecognizer(TextRecognizerConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                  for k, v in overrides.items()}))


def load_recognizer(path=DEFAULT_RECOGNIZER, device="cpu"):
    """Rebuild a recogniser from its checkpoint, in eval mode, fp32."""
    payload = read_checkpoint(path)
    config = dict(payload["config"])
    if config.pop("name", None) != TextRecognizerConfig.name:
        raise CheckpointError(f"{path} is not a text recogniser checkpoint")
    try:
        model = build_recognizer(**config)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()})
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    return model.to(device).eval()


# --- input: any RGB line crop -> the normalised grey height-32 line the recogniser reads ---

def to_grey(rgb):
    """(..., 3, H, W) sRGB in [0, 1] -> (..., 1, H, W) luma."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    return (rgb * weights).sum(-3, keepdim=True)


def normalize_line(rgb):
    """One line (3, H, W) in [0, 1] -> (1, 32, W') with W' = W * 32 / H: grey, resized keeping the
    aspect, the background (median) at 0, the text at negative values whatever its polarity, unit
    contrast. Differentiable w.r.t. ``rgb`` (the median and polarity are treated as constants)."""
    grey = to_grey(rgb.float())
    h, w = grey.shape[-2:]
    width = max(STRIDE * 2, round(w * HEIGHT / h))
    grey = F.interpolate(grey[None], size=(HEIGHT, width), mode="bilinear", antialias=True, align_corners=False)[0]
    background = grey.detach().median()
    polarity = 1.0 if background >= 0.5 else -1.0
    centred = (grey - background) * polarity
    return centred / (centred.detach().std() + 0.05)


def collate_lines(lines):
    """Normalised lines of various widths -> (N, 1, 32, W_max) padded with background, and the
    number of output columns each line owns."""
    width = max(line.shape[-1] for line in lines)
    batch = torch.stack([F.pad(line, (0, width - line.shape[-1])) for line in lines])
    lengths = torch.tensor([line.shape[-1] // STRIDE for line in lines], dtype=torch.long)
    return batch, lengths


def ctc_loss(logits, lengths, labels, charset=CHARSET):
    """Mean over the batch of CTC losses, each divided by its label's length."""
    targets = [torch.tensor(encode(text, charset), dtype=torch.long) for text in labels]
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (T, N, C)
    return F.ctc_loss(log_probs, torch.cat(targets).to(logits.device), lengths, torch.tensor([len(t) for t in targets]),
                      blank=0, reduction="mean", zero_infinity=True)


@torch.no_grad()
def read_lines(model, rgb_lines):
    """Greedy readings of RGB line crops, each a float (3, H, W) tensor in [0, 1]."""
    batch, lengths = collate_lines([normalize_line(line) for line in rgb_lines])
    best = model(batch).argmax(-1)
    return [decode(row[:n], model.config.charset) for row, n in zip(best, lengths)]


class ReadabilityLoss(nn.Module):
    """CTC loss of a frozen recogniser on restored line crops: low when the crop reads as its label.

    ``forward(restored, labels)``: ``restored`` is (N, 3, H, W) RGB in [0, 1] or a list of
    (3, H_i, W_i) crops; ``labels`` the N texts. Returns the mean over lines of the per-character
    CTC loss, differentiable w.r.t. ``restored``; the recogniser's weights never change."""

    def __init__(self, recognizer):
        super().__init__()
        self.recognizer = recognizer.eval()
        for parameter in self.recognizer.parameters():
            parameter.requires_grad_(False)

    @classmethod
    def from_checkpoint(cls, path=DEFAULT_RECOGNIZER, device="cpu"):
        return cls(load_recognizer(path, device))

    def train(self, mode=True):
        super().train(mode)
        self.recognizer.eval()  # frozen: batch-norm statistics stay those it was trained with
        return self

    def forward(self, restored, labels):
        if len(restored) != len(labels):
            raise ValueError(f"{len(restored)} line crops but {len(labels)} labels")
        batch, lengths = collate_lines([normalize_line(line.clamp(0, 1)) for line in restored])
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN has no backward in eval mode
            logits = self.recognizer(batch)
        return ctc_loss(logits, lengths, labels, self.recognizer.config.charset)


# --- data: one synthetic line, sharp and optionally blurred, with its exact text ---

@dataclass
class LineConfig:
    min_px: int = 11
    max_px: int = 32
    max_ems: float = 14.0         # longest text, in font sizes; longer texts lose words (CJK characters) from the end
    synth: SynthConfig = field(default_factory=lambda: SynthConfig(p_sharp=0.0, p_hard=0.5))  # sigma draw


@dataclass
class Line:
    sharp: np.ndarray       # uint8 (H, W, 3)
    text: str
    lang: str               # synth's: latin, ko, zh, ja
    px: int                 # font size in device px
    sigma: float            # device px; drawn always, applied only when blurred was asked for
    kind: str               # gaussian (GPU raster) or box3 (software raster)
    box: tuple              # (top, bottom, left, right) of the text line inside the crop
    blurred: np.ndarray = None


def _shorten(text, lang, font, max_width):
    """Drop words (characters for zh/ja) from the end until the line fits ``max_width``."""
    spaced = lang in ("latin", "ko")
    units = text.split(" ") if spaced else list(text)
    while len(units) > 1 and font.getlength((" " if spaced else "").join(units)) > max_width:
        units.pop()
    return (" " if spaced else "").join(units)


LINE_STREAM = 0x11E  # lines draw from a stream of their own: never synth's patch draws under the same seed


def make_line(seed, index, blurred=False, config=LineConfig()):
    """One line of synthetic web text from ``default_rng((seed, index, LINE_STREAM))`` alone.

    Without ``blurred`` the crop is the line box: the text plus a random pad. With it, both
    images also hold ``ceil(2 sigma) + 2`` px of context around that box (what a deblurring
    net needs to see), blurred as Chromium does on a canvas large enough that no border shows;
    ``box`` says where the line box lies. Text, font, colours and position do not depend on
    ``blurred``: the box of the blurred call holds the same pixels as the sharp call's crop."""
    rng = np.random.default_rng((seed, index, LINE_STREAM))
    lang = str(rng.choice(LANGS, p=LANG_WEIGHTS))
    px = int(round(math.exp(rng.uniform(math.log(config.min_px), math.log(config.max_px + 0.5)))))
    text, is_code = random_text(rng, lang)
    font = random_font(rng, lang, is_code, px)
    text = _shorten(text, lang, font, config.max_ems * px)
    bg, fg = _colors(rng)
    pad_top, pad_bottom = (int(round(rng.uniform(0.05, 0.5) * px)) for _ in range(2))
    pad_x = int(round(rng.uniform(0.2, 1.0) * px))
    dx, dy = rng.uniform(0, 1, size=2)
    sigma = sample_sigma(rng, config.synth)  # drawn last: the line does not depend on the blur settings
    kind = "box3" if rng.random() < config.synth.p_box3 else "gaussian"

    ascent, descent = font.getmetrics()
    left, _, right, _ = font.getbbox(text)
    box_h, box_w = pad_top + ascent + descent + pad_bottom, pad_x + (right - left) + 1 + pad_x
    context = int(math.ceil(2 * sigma)) + 2 if blurred else 0
    margin = context + (int(math.ceil(3 * sigma)) + 2 if blurred else 0)
    canvas = Image.new("RGB", (box_w + 2 * margin, box_h + 2 * margin), bg)
    ImageDraw.Draw(canvas).text((margin + pad_x - left + dx, margin + pad_top + dy), text, font=font, fill=fg)
    sharp = torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1)[None].float().div(255)
    crop = (slice(None), slice(None), slice(margin - context, margin + box_h + context),
            slice(margin - context, margin + box_w + context))

    def as_uint8(t):
        return t[crop][0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()

    line = Line(as_uint8(sharp), text, lang, px, sigma, kind, (context, context + box_h, context, context + box_w))
    if blurred:
        line.blurred = as_uint8(chromium_blur(sharp, sigma, kind))
    return line


def to_tensor(image):
    """uint8 (H, W, 3) -> float (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)


# --- the Chromium dev set's single-line crops: is the recogniser a fair judge of Chromium text? ---

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
    sharp file once): the recogniser on ink crops, and Tesseract as models.evaluate runs it."""
    from models.chromium_devset import read_manifest
    from models.evaluate import ocr_settings
    from models.ocr import read_text

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


# --- training ---

@dataclass
class RecognizerTrainConfig:
    steps: int = 2200
    batch_size: int = 24
    lr: float = 2e-3
    min_lr: float = 2e-5
    warmup: int = 200
    weight_decay: float = 1e-4
    seed: int = 0
    val_lines: int = 400
    log_every: int = 250
    threads: int = 1
    max_minutes: float = 0.0      # stop early (and export) after this long
    out: str = "runs/recognizer"
    export: str = ""              # fp16 model-only checkpoint; default <out>/recognizer.pt
    model_overrides: dict = field(default_factory=dict)


VAL_SEED = 7_777_777  # held-out lines: training seeds are small integers


def line_batch(seed, step, batch_size, config=LineConfig()):
    lines = [make_line(seed, step * batch_size + i, config=config) for i in range(batch_size)]
    return [to_tensor(line.sharp) for line in lines], [line.text for line in lines], [line.lang for line in lines]


@torch.no_grad()
def evaluate_lines(model, images, texts, langs):
    """CER (models.ocr.cer, mean over lines) per language and over all."""
    was_training = model.training
    model.eval()
    readings = [r for i in range(0, len(images), 64) for r in read_lines(model, images[i:i + 64])]
    model.train(was_training)
    scores = {}
    for reading, text, lang in zip(readings, texts, langs):
        scores.setdefault(lang, []).append(cer(reading, text, OCR_LANG[lang]))
    report = {lang: round(float(np.mean(v)), 4) for lang, v in sorted(scores.items())}
    report["all"] = round(float(np.mean([s for v in scores.values() for s in v])), 4)
    return report


def main(argv=None):
    config = parse_config(argv, RecognizerTrainConfig, __doc__)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build_recognizer(**config.model_overrides)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    val = line_batch(VAL_SEED, 0, config.val_lines)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"recogniser {n_params / 1e6:.3f} M params, {len(model.config.charset) + 1} classes, "
          f"steps {config.steps}, batch {config.batch_size}, {config.threads} thread(s)", flush=True)

    model.train()
    started, window, done = time.time(), 0.0, 0
    bar = tqdm(total=config.steps, mininterval=5, dynamic_ncols=True)
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        images, texts, _ = line_batch(config.seed, step, config.batch_size)
        batch, lengths = collate_lines([normalize_line(image) for image in images])
        loss = ctc_loss(model(batch), lengths, texts, model.config.charset)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        window += loss.item()
        done = step + 1
        bar.update(1)
        out_of_time = bool(config.max_minutes) and time.time() - started > config.max_minutes * 60
        if done % config.log_every == 0 or done == config.steps or out_of_time:
            n = (done - 1) % config.log_every + 1
            rate = done / (time.time() - started)
            tqdm.write(f"step {done} ctc {window / n:.4f} lr {lr_at(step, config):.2e} {rate:.2f} step/s "
                       f"val cer {json.dumps(evaluate_lines(model, *val))}")
            window = 0.0
            save_checkpoint(out / "last.pt", model, optimizer, step=done, extra={"train": asdict(config)})
        if out_of_time:
            tqdm.write(f"stopped after {config.max_minutes:g} minutes at step {done}")
            break
    bar.close()
    export = Path(config.export) if config.export else out / "recognizer.pt"
    model.eval()
    save_checkpoint(export, model, step=done, half=True,
                    extra={"train": asdict(config), "minutes": round((time.time() - started) / 60, 1),
                           "val_cer": evaluate_lines(load_half(model), *val)})
    print(f"exported {export}", flush=True)
    return model


def load_half(model):
    """A copy of ``model`` with its weights rounded through fp16, as the exported checkpoint holds them."""
    copy = build_recognizer(**{k: v for k, v in asdict(model.config).items() if k != "name"})
    copy.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    return copy.eval()


if __name__ == "__main__":
    main()
