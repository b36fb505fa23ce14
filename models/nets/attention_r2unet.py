"""Attention R2U-Net, the seed project's Model 1, in the anti-aging model contract.

Recurrent residual convolution blocks (RRCNN: a shared conv-BN-ReLU applied t + 1 times,
feeding its own output back in) on every level, and attention gates that weight each skip
connection by the decoder features before concatenation (Alom et al. 2018, R2U-Net;
Oktay et al. 2018, Attention U-Net). Blocks first, network last.

Differences from the literature net, all for this task and CPU budget: it works at half
resolution after a lossless pixel-unshuffle (as nafunet does), it predicts a correction
added to the input (global residual, head zero-initialised so the untrained net is the
identity), and with ``sigma_input`` it takes two constant planes [sigma / 4, known] next to
the image, both zero when sigma is unknown (blind mode).
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.nets.common import pad_to_multiple, sigma_features, sigma_vector


@dataclass
class AttentionR2UNetConfig:
    name: str = "attention_r2unet"
    base: int = 28  # channels of the first level; each level below doubles them
    depth: int = 3  # number of 2x downsamplings
    t: int = 2  # recurrent steps per recurrent block
    unshuffle: int = 2
    sigma_input: bool = True


def sigma_planes(sigma, x):
    """(N, 2, H, W) planes [sigma / scale, known] for x; sigma None or negative entries mean unknown."""
    n, _, h, w = x.shape
    feats = sigma_features(sigma_vector(sigma, n, x.device)).to(x.dtype)
    return feats[:, :, None, None].expand(n, 2, h, w)


def unshuffled_input(inp, sigma, unshuffle, with_sigma):
    """The padded image pixel-unshuffled, with the sigma planes appended when the net takes them."""
    y = F.pixel_unshuffle(inp, unshuffle)
    return torch.cat([y, sigma_planes(sigma, y)], dim=1) if with_sigma else y


def conv_bn_relu(c_in, c_out, kernel_size=3):
    # no conv bias: the BatchNorm that follows subtracts it again
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class RecurrentBlock(nn.Module):
    """One conv-BN-ReLU applied t + 1 times: y0 = f(x), y_k = f(x + y_{k-1})."""

    def __init__(self, channels, t):
        super().__init__()
        self.t = t
        self.conv = conv_bn_relu(channels, channels)

    def forward(self, x):
        y = self.conv(x)
        for _ in range(self.t):
            y = self.conv(x + y)
        return y


class RRCNNBlock(nn.Module):
    """Recurrent residual block: 1x1 projection, two recurrent blocks, residual addition."""

    def __init__(self, c_in, c_out, t):
        super().__init__()
        self.project = nn.Conv2d(c_in, c_out, 1)
        self.body = nn.Sequential(RecurrentBlock(c_out, t), RecurrentBlock(c_out, t))

    def forward(self, x):
        x = self.project(x)
        return x + self.body(x)


class AttentionGate(nn.Module):
    """Weights the skip features x by a per-pixel gate in [0, 1] computed from x and the decoder features g."""

    def __init__(self, channels, inner):
        super().__init__()
        self.w_g = nn.Sequential(nn.Conv2d(channels, inner, 1, bias=False), nn.BatchNorm2d(inner))
        self.w_x = nn.Sequential(nn.Conv2d(channels, inner, 1, bias=False), nn.BatchNorm2d(inner))
        self.psi = nn.Sequential(nn.Conv2d(inner, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, g, x):
        return x * self.psi(F.relu(self.w_g(g) + self.w_x(x)))


class UpConv(nn.Module):
    """2x nearest upsampling followed by conv-BN-ReLU."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = conv_bn_relu(c_in, c_out)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class AttentionR2UNet(nn.Module):
    def __init__(self, config: AttentionR2UNetConfig):
        super().__init__()
        self.config = config
        r = config.unshuffle
        widths = tuple(config.base * 2**i for i in range(config.depth + 1))
        c_in = 3 * r * r + (2 if config.sigma_input else 0)
        self.encoders = nn.ModuleList()
        for c_out in widths:
            self.encoders.append(RRCNNBlock(c_in, c_out, config.t))
            c_in = c_out
        self.ups = nn.ModuleList()
        self.gates = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for c_out in reversed(widths[:-1]):
            self.ups.append(UpConv(c_in, c_out))
            self.gates.append(AttentionGate(c_out, max(1, c_out // 2)))
            self.decoders.append(RRCNNBlock(2 * c_out, c_out, config.t))
            c_in = c_out
        self.head = nn.Conv2d(widths[0], 3 * r * r, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def size_multiple(self):
        return self.config.unshuffle * 2**self.config.depth

    def forward(self, x, sigma=None):
        h, w = x.shape[-2:]
        inp = pad_to_multiple(x, self.size_multiple)
        y = unshuffled_input(inp, sigma, self.config.unshuffle, self.config.sigma_input)
        skips = []
        for i, encoder in enumerate(self.encoders):
            y = encoder(y if i == 0 else F.max_pool2d(y, 2))
            skips.append(y)
        skips.pop()  # the deepest level feeds the decoder directly
        for up, gate, decoder, skip in zip(self.ups, self.gates, self.decoders, reversed(skips)):
            g = up(y)
            y = decoder(torch.cat([gate(g, skip), g], dim=1))
        y = F.pixel_shuffle(self.head(y), self.config.unshuffle) + inp
        return y[:, :, :h, :w]
