"""A small text recogniser (CRNN + CTC) for single text lines: the network, its charset and its
input normalisation.

Trained on synthetic sharp lines (``python -m models.training.train_recognizer``), it is the judge
behind the deblurring trainer's readability loss (``models.training.readability``). Its checkpoint
has the same payload as the deblurring nets' (config + weights) and is read back by
``load_recognizer``; it is not in models.REGISTRY because it is not a deblurring model.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models import CHECKPOINT_DIR, CheckpointError, fp32_state, read_checkpoint
from models.data.lexicon import reader_characters
from models.data.synth import CHINESE, JAPANESE, KOREAN
from models.reading.line_finder import reading_window

HEIGHT = 32          # the recogniser reads grey lines resized to this height
STRIDE = 4           # input columns per output column
DEFAULT_RECOGNIZER = CHECKPOINT_DIR / "recognizer.pt"
DEFAULT_READER = CHECKPOINT_DIR / "reader.pt"
SIGMA_SCALE = 8.0    # sigma (in the normalised line's px) / this is the sigma plane's value


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
# The reader's: the recogniser's, then the CJK characters of the packaged word lists (appended, so a
# reader warm-started from the recogniser keeps every class it had).
CJK_PUNCTUATION = "、。，・「」（）！？："
# Currency and typography pages print (stage 4 on): appended after the CJK characters, so readers
# trained before them keep every class.
SYMBOLS = "€£¥₩¢·•…–—“”‘’×±→←©®™§"
READER_CHARSET = CHARSET + "".join(dict.fromkeys(ch for ch in CJK_PUNCTUATION + reader_characters() + SYMBOLS
                                                 if ch not in CHARSET))

# The reader's shape (session 9: the stage-5 net widened, ``load_widened``); ``--model-overrides`` changes it
READER_DEFAULTS = {"charset": READER_CHARSET, "sigma_input": True, "channels": (32, 64, 96, 160), "hidden": 128}


@lru_cache(maxsize=8)
def _class_index(charset):
    return {ch: i + 1 for i, ch in enumerate(charset)}


def encode(text, charset=CHARSET):
    """Class indices of ``text``; a character outside the charset raises ValueError."""
    index = _class_index(charset)
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
    sigma_input: bool = False      # the reader: also told the blur sigma (or that it is unknown)


def _conv_bn(c_in, c_out, kernel=3, padding=1):
    return [nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class TextRecognizer(nn.Module):
    """CRNN: convs over a (N, 1, 32, W) normalised grey line, height collapsed to 1, width / 4;
    a BiGRU over the columns; per-column logits over blank + charset -> (N, W // 4, classes).

    With ``sigma_input`` (the reader of blurred lines) ``forward(x, sigma)`` also takes the blur
    sigma of each line in the normalised line's pixels, negative or None where it is unknown; it
    reaches the convs as two constant planes (sigma / SIGMA_SCALE, known)."""

    def __init__(self, config: TextRecognizerConfig):
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.channels
        self.features = nn.Sequential(
            *_conv_bn(3 if config.sigma_input else 1, c1), nn.MaxPool2d(2),  # 16 x W/2
            *_conv_bn(c1, c2), nn.MaxPool2d(2),                        # 8 x W/4
            *_conv_bn(c2, c3), *_conv_bn(c3, c3), nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_conv_bn(c3, c4), nn.MaxPool2d((2, 1)),                   # 2 x W/4
            *_conv_bn(c4, c4, kernel=(2, 3), padding=(0, 1)),          # 1 x W/4
        )
        self.sequence = nn.GRU(c4, config.hidden, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * config.hidden, len(config.charset) + 1)

    def forward(self, x, sigma=None):
        if self.config.sigma_input:
            x = torch.cat([x, *sigma_planes(x, sigma)], dim=1)
        y = self.features(x).squeeze(2).transpose(1, 2)  # (N, T, C)
        y, _ = self.sequence(y)
        return self.classifier(y)


def sigma_planes(x, sigma):
    """The two constant planes that tell the reader each line's sigma: (value, known)."""
    n, _, h, w = x.shape
    if sigma is None:
        sigma = torch.full((n,), -1.0)
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(n, 1, 1, 1)
    known = (sigma >= 0).to(x.dtype)
    return (sigma.clamp(min=0) / SIGMA_SCALE * known).expand(n, 1, h, w), known.expand(n, 1, h, w)


def build_recognizer(**overrides):
    return TextRecognizer(TextRecognizerConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                  for k, v in overrides.items()}))


GRU_GATES = 3      # a GRU stacks its reset, update and new gates along the rows of each weight and bias
GRU_DIRECTIONS = 2  # the classifier reads [forward units | backward units]


def _blocked(tensor, key):
    """``tensor`` viewed as (output blocks, outputs, input blocks, inputs, ...) so that widening
    grows every gate and every direction of the GRU in place. Biases have no input dims."""
    out_blocks = GRU_GATES if key.startswith("sequence.") else 1
    in_blocks = GRU_DIRECTIONS if key == "classifier.weight" else 1
    shape = (out_blocks, tensor.shape[0] // out_blocks)
    if tensor.dim() > 1:
        shape += (in_blocks, tensor.shape[1] // in_blocks, *tensor.shape[2:])
    return tensor.reshape(shape)


def load_widened(model, state):
    """Load a narrower recogniser's ``state`` into ``model`` so that the wider net computes exactly
    what the narrow one did, and its new units can still learn.

    Each tensor keeps the old values in its leading block (per gate and per direction for the
    GRU's). New output units (conv channels, GRU hidden units, classes) keep their own fresh
    initialisation; the weights that carry them into an old unit start at zero, so they change
    nothing until training uses them. (``models.load_grown`` zeroes both sides, which leaves new
    units without a gradient.) Returns the keys that grew."""
    own, merged, grown = model.state_dict(), {}, []
    for key, target in own.items():
        if key not in state:
            raise CheckpointError(f"the checkpoint lacks {key}")
        old = state[key].to(target.dtype) if state[key].is_floating_point() else state[key]
        if old.shape == target.shape:
            merged[key] = old
            continue
        if old.dim() != target.dim() or any(a > b for a, b in zip(old.shape, target.shape)):
            raise CheckpointError(f"{key}: cannot widen {tuple(old.shape)} into {tuple(target.shape)}")
        new, old = _blocked(target.clone(), key), _blocked(old, key)
        if new.dim() > 2:  # a weight: inputs the old units never saw contribute nothing to them
            new[:, :old.shape[1], :, old.shape[3]:] = 0
        new[tuple(slice(0, n) for n in old.shape)] = old
        merged[key] = new.reshape(target.shape)
        grown.append(key)
    model.load_state_dict(merged)
    return grown


def load_recognizer(path=DEFAULT_RECOGNIZER, device="cpu"):
    """Rebuild a recogniser from its checkpoint, in eval mode, fp32."""
    return recognizer_from_payload(read_checkpoint(path), path, device)


def recognizer_from_payload(payload, path, device="cpu"):
    """A recogniser from a checkpoint already read (``path`` names it in errors)."""
    config = dict(payload["config"])
    if config.pop("name", None) != TextRecognizerConfig.name:
        raise CheckpointError(f"{path} is not a text recogniser checkpoint")
    try:
        model = build_recognizer(**config)
        model.load_state_dict(fp32_state(payload["model"]))
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


def line_input(image, box, sigma=None):
    """What the reader sees of one line of a capture (uint8 (H, W, 3)): the normalised crop of
    its reading window and its sigma in that crop's pixels (-1 when unknown)."""
    top, bottom, left, right = reading_window(box, image.shape, sigma)
    crop = torch.from_numpy(np.array(image[top:bottom, left:right, :3])).permute(2, 0, 1).float().div(255)
    return normalize_line(crop), (sigma * HEIGHT / (bottom - top) if sigma is not None and sigma >= 0 else -1.0)


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
