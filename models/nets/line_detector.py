"""A small DB-style text line detector: a fully-convolutional net that marks each line's core.

Blocks first, network last. The capture (sRGB in [0, 1], any size) enters by 2 x 2 patches (a
strided conv: every pixel seen, at a quarter of the cost), goes down four stages (1/2 to 1/16 of its
size, depthwise-separable residual blocks: wide context at little cost, enough to tell a rule from a
line and to part lines blur ran together), and back up through a light feature pyramid to 1/2, where
a pixel shuffle gives two full-resolution maps:

- ``core``: the logit that a pixel lies in a line's core, its ink box shrunk by ``core_shrink`` of
  the box's height on every side (the cores of neighbouring lines stay apart even where blur
  joins their ink);
- ``height``: the line's ink height there, as log(height / ``height_scale``), read where the core is.

The config travels in every checkpoint (``models.save_checkpoint``), so this file alone rebuilds the
net (``load_line_detector``), and the decoder (``models.reading.line_detector``) unshrinks by the
``core_shrink`` the net was trained with. Not in ``models.REGISTRY``: that registry is of
deblurring nets (image in, image out, told sigma); this net maps an image to line maps.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import CheckpointError, fp32_state, read_checkpoint
from models.nets.common import pad_to_multiple


@dataclass
class LineDetectorConfig:
    name: str = "line_detector"
    in_channels: int = 3
    patch: int = 2                      # the stem sees patch x patch pixels at once (lossless: a strided conv)
    widths: tuple = (16, 32, 64, 128)   # channels of the stages at 1/patch, 1/(2 patch), ... of the input
    depths: tuple = (1, 1, 2, 2)        # residual blocks per stage
    kernels: tuple = (3, 5, 5, 5)       # depthwise kernel per stage
    expand: int = 2                     # pointwise expansion inside a block
    neck: int = 24                      # feature pyramid channels
    core_shrink: float = 0.3            # the core is the ink box less this share of its height on each side
    height_scale: float = 16.0          # px: the height channel is log(height / height_scale)


class SeparableBlock(nn.Module):
    """Depthwise k x k, then a pointwise expansion and projection, added to its input."""

    def __init__(self, channels, kernel, expand):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        self.expand = nn.Conv2d(channels, channels * expand, 1)
        self.project = nn.Conv2d(channels * expand, channels, 1)
        nn.init.zeros_(self.project.weight)  # each block starts as the identity: deep stacks train from step 0
        nn.init.zeros_(self.project.bias)

    def forward(self, x):
        return x + self.project(F.relu(self.expand(self.norm(self.depthwise(x)))))


def down(in_channels, out_channels):
    """A strided 3 x 3 conv that halves the resolution."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class LineDetector(nn.Module):
    """(N, C, H, W) in [0, 1] -> (N, 2, H, W): core logits and log heights, for any H, W >= 1."""

    def __init__(self, config=LineDetectorConfig()):
        super().__init__()
        self.config = config
        widths = config.widths
        if not len(widths) == len(config.depths) == len(config.kernels):
            raise ValueError(f"one depth and one kernel per stage: widths {widths}, depths {config.depths}, "
                             f"kernels {config.kernels}")
        self.stages = nn.ModuleList()
        previous = config.in_channels
        for index, (width, depth, kernel) in enumerate(zip(widths, config.depths, config.kernels)):
            entry = nn.Conv2d(previous, width, config.patch, stride=config.patch) if index == 0 else down(previous, width)
            self.stages.append(nn.Sequential(entry,
                                             *[SeparableBlock(width, kernel, config.expand) for _ in range(depth)]))
            previous = width
        self.laterals = nn.ModuleList(nn.Conv2d(width, config.neck, 1) for width in widths)
        self.fuse = nn.Sequential(nn.Conv2d(config.neck, config.neck, 3, padding=1, groups=config.neck, bias=False),
                                  nn.BatchNorm2d(config.neck), nn.ReLU(inplace=True),
                                  nn.Conv2d(config.neck, config.neck, 1), nn.ReLU(inplace=True))
        # 2 maps x (patch x patch) sub-pixels, shuffled back to full resolution: sharp edges at a coarse cost
        self.head = nn.Conv2d(config.neck, 2 * config.patch ** 2, 1)

    @property
    def multiple(self):
        """Inputs are padded to a multiple of this (the deepest stage's stride)."""
        return self.config.patch * 2 ** (len(self.config.widths) - 1)

    def forward(self, x):
        height, width = x.shape[-2:]
        x = pad_to_multiple(x, self.multiple) - 0.5
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        merged = self.laterals[-1](features[-1])
        for lateral, feature in zip(reversed(self.laterals[:-1]), reversed(features[:-1])):
            merged = lateral(feature) + F.interpolate(merged, size=feature.shape[-2:], mode="nearest")
        maps = F.pixel_shuffle(self.head(self.fuse(merged)), self.config.patch)
        return maps[..., :height, :width]


def build_line_detector(**overrides):
    config = LineDetectorConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    return LineDetector(config)


def load_line_detector(path):
    """Rebuild a detector from its checkpoint alone, in eval mode, fp32, on the CPU."""
    payload = read_checkpoint(path)
    config = dict(payload["config"])
    if config.pop("name", None) != LineDetectorConfig.name:
        raise CheckpointError(f"{path} does not hold a line detector")
    try:
        model = build_line_detector(**config)
        model.load_state_dict(fp32_state(payload["model"]))
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    return model.eval()
