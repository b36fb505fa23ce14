"""Robust U-Net (RUNet), the seed project's Model 2, ported from Keras to the anti-aging model contract.

The down path is a stack of residual blocks (conv-BN-ReLU-conv-BN, then the block input is
added back and a ReLU follows) between max-pools; the up path is a plain U-Net: concatenate
the skip, two conv-ReLU, and a pixel-shuffle upsampling (Hu et al. 2019, RUNet). A 7x7 stem
opens the net and a widened bottleneck closes the down path. Blocks first, network last.

As in attention_r2unet: half resolution after a lossless pixel-unshuffle, a global residual
with a zero-initialised head (the untrained net is the identity), and with ``sigma_input``
two constant planes [sigma / 4, known] beside the image, both zero in blind mode.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.nets.attention_r2unet import unshuffled_input
from models.nets.common import pad_to_multiple


@dataclass
class RobustUNetConfig:
    name: str = "robust_unet"
    base: int = 16  # channels of the stem; each down stage doubles them
    res_blocks: tuple = (2, 2, 2)  # residual blocks per down stage; its length is the depth
    unshuffle: int = 2
    sigma_input: bool = True


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the input (1x1-projected when the width changes), then ReLU.

    Convs feeding a BatchNorm carry no bias: the norm would subtract it again."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class DownStage(nn.Module):
    """2x max-pool, then residual blocks; the first one widens to c_out."""

    def __init__(self, c_in, c_out, n_blocks):
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualBlock(c_in if i == 0 else c_out, c_out) for i in range(n_blocks)))

    def forward(self, x):
        return self.blocks(F.max_pool2d(x, 2))


class UpStage(nn.Module):
    """Concatenated features -> conv-ReLU x 2 -> 2x pixel-shuffle upsampling to c_out channels."""

    def __init__(self, c_in, c_mid, c_out):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_mid, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_mid, c_mid, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_mid, 4 * c_out, 1),
            nn.PixelShuffle(2),
        )

    def forward(self, x):
        return self.body(x)


class RobustUNet(nn.Module):
    def __init__(self, config: RobustUNetConfig):
        super().__init__()
        self.config = config
        r = config.unshuffle
        widths = tuple(config.base * 2**i for i in range(len(config.res_blocks) + 1))
        c_in = 3 * r * r + (2 if config.sigma_input else 0)
        self.stem = nn.Sequential(nn.Conv2d(c_in, widths[0], 7, padding=3, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        self.downs = nn.ModuleList(
            DownStage(c_prev, c, n_blocks) for c_prev, c, n_blocks in zip(widths, widths[1:], config.res_blocks)
        )
        c = widths[-1]
        self.bottleneck = nn.Sequential(
            nn.Conv2d(c, 2 * c, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * c, c, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        # Each up stage sees [features, skip] at its level and hands the level above as many channels as its skip has.
        self.ups = nn.ModuleList(UpStage(2 * c, c, c_above) for c, c_above in zip(reversed(widths[1:]), reversed(widths[:-1])))
        self.head = nn.Sequential(
            nn.Conv2d(2 * widths[0], widths[0], 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(widths[0], 3 * r * r, 1),
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    @property
    def size_multiple(self):
        return self.config.unshuffle * 2 ** len(self.config.res_blocks)

    def forward(self, x, sigma=None):
        h, w = x.shape[-2:]
        inp = pad_to_multiple(x, self.size_multiple)
        y = unshuffled_input(inp, sigma, self.config.unshuffle, self.config.sigma_input)
        y = self.stem(y)
        skips = [y]
        for down in self.downs:
            y = down(y)
            skips.append(y)
        y = self.bottleneck(y)
        for up, skip in zip(self.ups, reversed(skips[1:])):
            y = up(torch.cat([y, skip], dim=1))
        y = self.head(torch.cat([y, skips[0]], dim=1))
        y = F.pixel_shuffle(y, self.config.unshuffle) + inp
        return y[:, :, :h, :w]
