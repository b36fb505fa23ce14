"""Deblurring networks, a tiny registry, and checkpoint I/O.

Every model takes ``model(x, sigma=None)``: ``x`` is float (N, 3, H, W) sRGB in [0, 1],
any H, W >= 1; ``sigma`` is None (blind) or a tensor (N,) of Gaussian sigmas in image
pixels, where a negative entry means "unknown" for that sample. It returns (N, 3, H, W),
unclamped.
"""
from dataclasses import asdict, fields
from importlib import import_module
from pathlib import Path

import torch

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
DEFAULT_MODEL = "nafunet"

# name -> (module, network class, config class); imported lazily so one broken file doesn't break the rest.
REGISTRY = {
    "nafunet": ("models.nets.nafunet", "NAFUNet", "NAFUNetConfig"),
    "attention_r2unet": ("models.nets.attention_r2unet", "AttentionR2UNet", "AttentionR2UNetConfig"),
    "robust_unet": ("models.nets.robust_unet", "RobustUNet", "RobustUNetConfig"),
}


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, or does not describe a registered model."""


def _classes(name):
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(REGISTRY)}")
    module_name, net_name, config_name = REGISTRY[name]
    module = import_module(module_name)
    return getattr(module, net_name), getattr(module, config_name)


def build_model(name=DEFAULT_MODEL, **overrides):
    net_cls, config_cls = _classes(name)
    known = {f.name for f in fields(config_cls)}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"{name}: unknown config fields {sorted(unknown)}")
    config = config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    return net_cls(config)


def default_checkpoint(name=DEFAULT_MODEL):
    return CHECKPOINT_DIR / f"{name}.pt"


def fp32_state(state):
    """A state dict with its floating tensors in fp32 (shipped checkpoints store fp16)."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def save_checkpoint(path, model, optimizer=None, step=0, extra=None, half=False):
    """Save model weights with the config that rebuilds it; fp16 storage when ``half``."""
    state = model.state_dict()
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {"config": asdict(model.config), "model": state, "step": step, "extra": extra or {}}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash mid-save never leaves a truncated checkpoint


def load_grown(model, state):
    """Load ``state`` into a model that may be a grown version of the one that saved it, so a warm
    start can add to an architecture without losing what it learned.

    Tensors of the same shape are copied. A tensor that grew keeps the old values in its leading
    slice and zeros elsewhere (new input channels of a conv then contribute nothing). Parameters
    the state lacks keep their own initialisation: new branches must start as zero contributions.
    Returns (grown, new) key lists; anything that shrank or is unknown to the model is an error.
    """
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise CheckpointError(f"the checkpoint has weights this model lacks: {unknown[:5]}")
    grown, new, merged = [], [], {}
    for key, target in own.items():
        if key not in state:
            new.append(key)
            merged[key] = target
            continue
        value = state[key].to(target.dtype) if state[key].is_floating_point() else state[key]
        if value.shape == target.shape:
            merged[key] = value
        elif value.dim() == target.dim() and all(a <= b for a, b in zip(value.shape, target.shape)):
            widened = torch.zeros_like(target)
            widened[tuple(slice(0, n) for n in value.shape)] = value
            merged[key] = widened
            grown.append(key)
        else:
            raise CheckpointError(f"{key}: cannot grow {tuple(value.shape)} into {tuple(target.shape)}")
    model.load_state_dict(merged)
    return grown, new


def read_checkpoint(path):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or "config" not in payload or "model" not in payload:
        raise CheckpointError(f"{path} is not an anti-aging checkpoint")
    return payload


def load_checkpoint(path, device="cpu"):
    """Rebuild a model from a checkpoint alone, in eval mode, fp32, on ``device``."""
    payload = read_checkpoint(path)
    config = dict(payload["config"])
    name = config.pop("name", None)
    try:
        model = build_model(name, **config)
        model.load_state_dict(fp32_state(payload["model"]))
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    return model.to(device).eval()
