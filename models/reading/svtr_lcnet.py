"""SVTR-LCNet: PP-OCRv6 small's text-line recogniser (PaddleOCR's PPLCNetV4 backbone, a light SVTR
neck, a CTC head) as plain PyTorch modules, so a fine-tuned copy needs nothing but torch to run.

Its pretrained weights (Apache-2.0, shipped as ONNX inside PyPI ``rapidocr``'s wheel) are copied
into these modules by ``models.training.port_ppocr``; the head is pruned to the classes we read.
The net reads an RGB line resized to height 48 (``line_input``), one output column per 8 input
columns. It takes each line's width: padding is held at zero after every layer that could spread
it and left out of the squeeze-excite means and of attention, so a line reads the same whatever
it is batched with.

    model = build_svtr_lcnet(charset="abc...")
    logits = model(batch, lengths)   # batch (N, 3, 48, W) in [-1, 1], W a multiple of 8 -> (N, W // 8, classes)
"""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.reading.line_finder import reading_window

HEIGHT = 48
STRIDE = 8         # input columns per output column
MIN_WIDTH = 32     # a crop narrower than this is padded: the backbone needs a few columns per side


@dataclass
class SvtrLcnetConfig:
    name: str = "svtr_lcnet"
    charset: str = ""
    stem: tuple = (48, 24, 96)                 # first conv, the stem's narrow branch, its output
    # per stage: (width, squeeze-excite per block); a stage after the first opens with a block that
    # halves the height and widens to ``width``
    stages: tuple = ((96, (1, 0, 0)), (192, (1, 0, 1, 0, 1, 0)), (384, (1, 0)))
    expansion: int = 2                         # the blocks' channel-mixer widening
    neck_dim: int = 120
    neck_depth: int = 2
    heads: int = 8
    neck_mlp: int = 2
    local_kernel: int = 7


def column_mask(lengths, width, scale, like):
    """(N, 1, 1, width) ones over each line's own columns (``lengths`` output columns, ``scale``
    columns each at this resolution), zeros over its padding."""
    columns = torch.arange(width, device=like.device)
    return (columns[None, :] < lengths[:, None] * scale).to(like.dtype)[:, None, None, :]


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduction=4):
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // reduction, 1)
        self.expand = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x, mask):
        """``x`` is zero outside ``mask``: its mean over the line's own pixels."""
        mean = x.sum((2, 3), keepdim=True) / (mask.sum((2, 3), keepdim=True) * x.shape[-2])
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(mean))))


class Stem(nn.Module):
    """Two stride-2 convs with a pooled and a convolved branch between them (height and width / 4)."""

    def __init__(self, c_first, c_branch, c_out):
        super().__init__()
        self.first = nn.Conv2d(3, c_first, 3, stride=2, padding=1)
        self.branch_a = nn.Conv2d(c_first, c_branch, 2)
        self.branch_b = nn.Conv2d(c_branch, c_first, 2)
        self.merge = nn.Conv2d(2 * c_first, c_first, 3, stride=2, padding=1)
        self.out = nn.Conv2d(c_first, c_out, 1)

    @staticmethod
    def _same(x):  # a 2x2 window at stride 1 keeps the size: one extra row and column after (ONNX SAME_UPPER)
        return F.pad(x, (0, 1, 0, 1))

    def forward(self, x, half, quarter):
        """``half`` and ``quarter``: the column masks at 1/2 and 1/4 of the input width."""
        x = F.relu(self.first(x)) * half
        branch = F.relu(self.branch_a(self._same(x))) * half
        branch = F.relu(self.branch_b(self._same(branch))) * half
        pooled = F.max_pool2d(self._same(x), 2, stride=1) * half  # after a ReLU, zero padding is max-neutral
        x = F.relu(self.merge(torch.cat([pooled, branch], 1))) * quarter
        return F.relu(self.out(x)) * quarter


class LCBlock(nn.Module):
    """A depthwise 3x3 token mixer (with optional squeeze-excite), then a 1x1 channel mixer; a
    residual around the channel mixer unless the block changes the shape."""

    def __init__(self, c_in, c_out, expansion, squeeze_excite, stride=1):
        super().__init__()
        self.token = nn.Conv2d(c_in, c_in, 3, stride=(stride, 1), padding=1, groups=c_in)
        self.se = SqueezeExcite(c_in) if squeeze_excite else None
        hidden = c_out if c_in != c_out else c_in * expansion
        self.widen = nn.Conv2d(c_in, hidden, 1)
        self.narrow = nn.Conv2d(hidden, c_out, 1)
        self.residual = c_in == c_out and stride == 1

    def forward(self, x, mask):
        x = self.token(x) * mask
        if self.se is not None:
            x = self.se(x, mask)
        y = self.narrow(F.gelu(self.widen(x)))
        return (x + y if self.residual else y) * mask


class ConvBnSwish(nn.Sequential):
    def __init__(self, c_in, c_out, kernel=1, groups=1):
        padding = (0, kernel // 2)
        super().__init__(nn.Conv2d(c_in, c_out, (1, kernel), padding=padding, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.SiLU())


class NeckBlock(nn.Module):
    """Pre-norm transformer block over the columns: global attention, then a Swish MLP."""

    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.fc1 = nn.Linear(dim, mlp * dim)
        self.fc2 = nn.Linear(mlp * dim, dim)

    def forward(self, x, mask):
        n, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(attended.transpose(1, 2).reshape(n, t, c))
        return x + self.fc2(F.silu(self.fc1(self.norm2(x))))


class SvtrLcnet(nn.Module):
    """(N, 3, 48, W) line in [-1, 1], W a multiple of 8, and each line's own width -> (N, W / 8, classes)."""

    def __init__(self, config: SvtrLcnetConfig):
        super().__init__()
        self.config = config
        self.stem = Stem(*config.stem)
        blocks, width = [], config.stem[-1]
        for index, (stage_width, squeeze) in enumerate(config.stages):
            if index:
                blocks.append(LCBlock(width, stage_width, config.expansion, False, stride=2))
            blocks += [LCBlock(stage_width, stage_width, config.expansion, bool(se)) for se in squeeze]
            width = stage_width
        self.blocks = nn.ModuleList(blocks)
        dim = config.neck_dim
        self.shortcut = ConvBnSwish(width, dim)
        self.reduce = ConvBnSwish(width, dim)
        self.local = ConvBnSwish(dim, dim, config.local_kernel, groups=dim)
        self.neck = nn.ModuleList(NeckBlock(dim, config.heads, config.neck_mlp) for _ in range(config.neck_depth))
        self.norm = nn.LayerNorm(dim, eps=1e-5)
        self.classifier = nn.Linear(dim, len(config.charset) + 1)

    def forward(self, x, lengths=None):
        """``lengths``: each line's own output columns (``collate_lines``'); None: the whole width."""
        n, _, height, width = x.shape
        if height != HEIGHT or width % STRIDE:
            raise ValueError(f"expected lines of height {HEIGHT} and a width that is a multiple of {STRIDE}, "
                             f"got {(height, width)}")
        steps = width // STRIDE
        lengths = torch.full((n,), steps, device=x.device) if lengths is None else torch.as_tensor(lengths).to(x.device)
        quarter = column_mask(lengths, width // 4, 2, x)
        x = self.stem(x, column_mask(lengths, width // 2, 4, x), quarter)
        for block in self.blocks:
            x = block(x, quarter)
        x = F.avg_pool2d(x, (x.shape[-2], 2))                      # (N, C, 1, W / 8)
        shortcut = self.shortcut(x)
        x = self.reduce(x) * column_mask(lengths, steps, 1, x)
        x = x + self.local(x)
        tokens = x.squeeze(2).transpose(1, 2)                      # (N, T, dim)
        attend = column_mask(lengths, steps, 1, x).bool()          # each line attends to its own columns
        for block in self.neck:
            tokens = block(tokens, attend)
        tokens = self.norm(tokens) + shortcut.squeeze(2).transpose(1, 2)
        return self.classifier(tokens)


def build_svtr_lcnet(**overrides):
    return SvtrLcnet(SvtrLcnetConfig(**{k: tuple(tuple(s) if isinstance(s, list) else s for s in v)
                                        if isinstance(v, list) else v for k, v in overrides.items()}))


# --- input: any RGB line crop -> the height-48 line the net reads ---

def normalize_line(rgb):
    """One line (3, H, W) sRGB in [0, 1] -> (3, 48, W') in [-1, 1], W' = W * 48 / H (at least MIN_WIDTH)."""
    h, w = rgb.shape[-2:]
    width = max(MIN_WIDTH, round(w * HEIGHT / h))
    resized = F.interpolate(rgb.float()[None], size=(HEIGHT, width), mode="bilinear", antialias=True,
                            align_corners=False)[0]
    return resized.clamp(0, 1) * 2 - 1


def line_input(image, box, sigma=None):
    """What the net sees of one line of a capture (uint8 (H, W, 3)): its reading window, normalised."""
    top, bottom, left, right = reading_window(box, image.shape, sigma)
    crop = torch.from_numpy(np.array(image[top:bottom, left:right, :3])).permute(2, 0, 1).float().div(255)
    return normalize_line(crop)


def collate_lines(lines):
    """Normalised lines of various widths -> (N, 3, 48, W) padded to a multiple of STRIDE with the
    middle grey the pretrained net was padded with, and the output columns each line owns."""
    width = -(-max(line.shape[-1] for line in lines) // STRIDE) * STRIDE
    batch = torch.stack([F.pad(line, (0, width - line.shape[-1])) for line in lines])
    lengths = torch.tensor([-(-line.shape[-1] // STRIDE) for line in lines], dtype=torch.long)
    return batch, lengths
