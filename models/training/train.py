"""Train a deblurring model on synthetic web text.

    python -m models.training.train --model nafunet --steps 9000 --out runs/nafunet
    python -m models.training.train --resume runs/nafunet/last.pt           # continue where it stopped
    python -m models.training.train --init-from models/checkpoints/nafunet.pt --lr 3e-4 --out runs/more
                                                                     # warm start: shipped weights, new schedule
    python -m models.training.train ... --ocr-weight 5e-4                     # plus a readability loss on text lines
    python -m models.training.train ... --corpus runs/corpus --corpus-share 0.25  # a quarter of each batch rendered by Chromium
    torchrun --nproc_per_node=N -m models.training.train ...                  # several GPUs (DDP)

Every batch is a pure function of (seed, step, rank), so a resumed run sees the same data as an
uninterrupted one. Checkpoints hold model, optimizer, config and step.
"""
import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import build_model, fp32_state, load_grown, read_checkpoint, save_checkpoint
from models.data.chromium_corpus import CorpusPairs, corpus_count, mixed_batch
from models.data.lines import LineConfig, make_line, to_tensor
from models.data.synth import SynthConfig, make_batch
from models.evaluation.metrics import psnr
from models.nets.common import resolve_precision
from models.reading.recognizer import DEFAULT_RECOGNIZER
from models.training.readability import ReadabilityLoss


@dataclass
class TrainConfig:
    model: str = "nafunet"
    model_overrides: dict = field(default_factory=dict)
    synth_overrides: dict = field(default_factory=dict)  # SynthConfig fields, e.g. {"p_hard": 0.4}
    steps: int = 20000
    batch_size: int = 8
    patch: int = 96
    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup: int = 300
    weight_decay: float = 1e-4
    edge_weight: float = 0.1
    blind_fraction: float = 0.3   # sigma dropout: this share of samples trains the blind mode
    seed: int = 0
    val_samples: int = 48
    log_every: int = 100
    ckpt_every: int = 500
    out: str = "runs/nafunet"
    export: str = ""              # where to write the final fp16 model-only checkpoint
    device: str = "auto"
    threads: int = 0
    precision: str = "auto"       # auto: bf16 autocast + channels_last where bf16 is native, else fp32
    workers: int = 1
    resume: str = ""
    init_from: str = ""           # warm start: weights (and architecture) only; fresh optimizer and schedule
    fresh_lr_scale: float = 1.0   # with --init-from: learning-rate multiple for the tensors the weights lacked (a new branch)
    max_minutes: float = 0.0      # stop cleanly (checkpoint saved) after this long; --resume continues
    ocr_weight: float = 0.0       # > 0: add this times a frozen recogniser's CTC loss on restored text lines
    ocr_lines: int = 4            # blurred text lines per step for that loss
    recognizer: str = ""          # its checkpoint; "" is the shipped models/checkpoints/recognizer.pt
    corpus: str = ""              # a Chromium-rendered corpus folder (python -m models.data.chromium_corpus); "" = Pillow only
    corpus_share: float = 0.25    # with --corpus: this share of every batch's samples are corpus pairs


def lr_at(step, config):
    """Linear warm-up, then cosine decay to min_lr."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))


def charbonnier(a, b, eps=1e-3):
    return torch.sqrt((a - b) ** 2 + eps * eps).mean()


LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def edge_map(x):
    kernel = LAPLACIAN.to(x).view(1, 1, 3, 3).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])


def loss_fn(output, target, edge_weight):
    return charbonnier(output, target) + edge_weight * charbonnier(edge_map(output), edge_map(target))


def drop_sigma(sigma, fraction, generator):
    """Mark a seeded share of samples as 'sigma unknown' (-1) so one net learns both modes."""
    drop = torch.rand(sigma.shape, generator=generator) < fraction
    return torch.where(drop, torch.full_like(sigma, -1.0), sigma)


class SyntheticBatches(torch.utils.data.Dataset):
    """Batch ``i`` of rank ``r`` is generated from the seed alone: resumable and worker-safe.

    With ``ocr_weight`` set, an item also holds ``ocr_lines`` blurred text lines for the
    readability loss: (blurred (1, 3, H, W), sigma after dropout, line box, text) each."""

    def __init__(self, config, rank, start, synth, corpus=None):
        self.config, self.rank, self.start, self.synth, self.corpus = config, rank, start, synth, corpus

    def __len__(self):
        return self.config.steps - self.start

    def __getitem__(self, i):
        step = self.start + i
        seed = self.config.seed * 1000 + self.rank
        if self.corpus is None:
            blurred, sharp, sigma = make_batch(seed, step, self.config.batch_size, self.synth)
        else:
            blurred, sharp, sigma = mixed_batch(seed, step, self.config.batch_size, self.synth, self.corpus,
                                                self.config.corpus_share)
        generator = torch.Generator().manual_seed(seed * 10_000_019 + step)
        sigma = drop_sigma(sigma, self.config.blind_fraction, generator)
        if not self.config.ocr_weight:
            return blurred, sharp, sigma, []
        return blurred, sharp, sigma, text_lines(seed, step, self.config.ocr_lines, self.config.blind_fraction)


OCR_LINE_EMS = 10.0  # lines for the readability loss stay short: every line costs a forward pass of its size


def text_lines(seed, step, count, blind_fraction):
    """Blurred text lines for step ``step``: a pure function of (seed, step), like the patch batches."""
    config = LineConfig(max_ems=OCR_LINE_EMS)
    lines = [make_line(seed, step * count + i, blurred=True, config=config) for i in range(count)]
    generator = torch.Generator().manual_seed(seed * 10_000_019 + step + 1)
    sigmas = drop_sigma(torch.tensor([line.sigma for line in lines]), blind_fraction, generator)
    return [(to_tensor(line.blurred)[None], sigma, line.box, line.text) for line, sigma in zip(lines, sigmas.tolist())]


def restore_lines(model, lines, device, memory_format):
    """Run ``model`` once over the blurred lines (padded to one batch by replication) and crop
    each restored line to its line box."""
    height = max(line[0].shape[-2] for line in lines)
    width = max(line[0].shape[-1] for line in lines)
    batch = torch.cat([F.pad(blurred, (0, width - blurred.shape[-1], 0, height - blurred.shape[-2]), mode="replicate")
                       for blurred, *_ in lines]).to(device, memory_format=memory_format)
    sigma = torch.tensor([line[1] for line in lines], dtype=torch.float32, device=device)
    restored = model(batch, sigma)
    return [out[:, top:bottom, left:right] for out, (_, _, (top, bottom, left, right), _) in zip(restored, lines)]


@torch.no_grad()
def validate(model, val, device):
    """Mean PSNR by sigma bucket on a fixed synthetic set, given sigma and blind."""
    model.eval()
    blurred, sharp, sigma = (t.to(device) for t in val)
    buckets = {"<=1": sigma <= 1, "1-2": (sigma > 1) & (sigma <= 2), "2-4": (sigma > 2) & (sigma <= 4), ">4": sigma > 4}
    report = {}
    for mode, s in (("given", sigma), ("blind", None)):
        out = torch.cat([model(blurred[i:i + 8], None if s is None else s[i:i + 8]) for i in range(0, len(blurred), 8)])
        scores = psnr(out, sharp)
        report[mode] = {k: round(scores[m].mean().item(), 2) for k, m in buckets.items() if m.any()}
    report["input"] = {k: round(psnr(blurred, sharp)[m].mean().item(), 2) for k, m in buckets.items() if m.any()}
    model.train()
    return report


OVERRIDE_HELP = {"model_overrides": 'JSON of model config overrides, e.g. \'{"width": 16}\'',
                 "synth_overrides": 'JSON of SynthConfig overrides, e.g. \'{"p_hard": 0.35}\''}


def param_groups(model, fresh, fresh_lr_scale):
    """AdamW groups: the parameters named in ``fresh`` at ``fresh_lr_scale`` times the learning
    rate, the rest at 1; each group carries its ``lr_scale`` for the schedule."""
    named = dict(model.named_parameters())
    groups = [{"params": [p for n, p in named.items() if n not in fresh], "lr_scale": 1.0}]
    if fresh:
        groups.append({"params": [named[n] for n in fresh], "lr_scale": fresh_lr_scale})
    return groups


def parse_config(argv, config_cls, description):
    """A dataclass of flat fields -> its CLI: one ``--field-name`` per field, dict fields as JSON."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in config_cls.__dataclass_fields__.values():
        if f.name.endswith("_overrides"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=json.loads, default={},
                                help=OVERRIDE_HELP[f.name])
            continue
        default = f.default
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=default)
    return config_cls(**vars(parser.parse_args(argv)))


def parse_args(argv):
    return parse_config(argv, TrainConfig, __doc__)


def setup_distributed():
    """(rank, world_size); initialises the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
        return torch.distributed.get_rank(), world
    return 0, 1


def main(argv=None):
    config = parse_args(argv)
    rank, world = setup_distributed()
    if config.device == "auto":
        config.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(config.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)

    if config.resume and config.init_from:
        raise SystemExit("--resume continues a run; --init-from starts a new one from weights: pick one")
    start_step, payload = 0, None
    if config.resume or config.init_from:
        payload = read_checkpoint(config.resume or config.init_from)
        config.model = payload["config"]["name"]
        saved = {k: v for k, v in payload["config"].items() if k != "name"}
        # a warm start may grow the saved architecture (new branches start as zero contributions)
        config.model_overrides = {**saved, **config.model_overrides} if config.init_from else saved
    if config.resume:
        start_step = payload["step"]
    config.precision = resolve_precision(config.precision, device.type)
    bf16 = config.precision == "bf16"
    memory_format = torch.channels_last if bf16 else torch.contiguous_format
    model = build_model(config.model, **config.model_overrides).to(device, memory_format=memory_format)
    fresh = []  # parameters a warm start added: they may learn faster than the tuned ones
    if config.resume:
        model.load_state_dict(fp32_state(payload["model"]))
        fresh = payload["extra"].get("fresh", [])
    elif payload is not None:
        grown, new = load_grown(model, payload["model"])
        fresh = [name for name, _ in model.named_parameters() if name in new] if config.fresh_lr_scale != 1 else []
        if rank == 0 and (grown or new):
            print(f"warm start grew the net: {len(grown)} tensors widened {grown}, {len(new)} new", flush=True)
    optimizer = torch.optim.AdamW(param_groups(model, fresh, config.fresh_lr_scale), lr=config.lr, betas=(0.9, 0.9),
                                  weight_decay=config.weight_decay)
    if config.resume:
        optimizer.load_state_dict(payload["optimizer"])
    train_model = model
    if world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    synth = SynthConfig(**{"patch": config.patch, **config.synth_overrides})
    val = make_batch(config.seed + 999_983, 0, config.val_samples, SynthConfig(patch=config.patch))
    corpus = CorpusPairs(config.corpus) if config.corpus else None
    if corpus is not None and not len(corpus):
        raise SystemExit(f"--corpus {config.corpus}: no shards there (python -m models.data.chromium_corpus --out ...)")
    loader = torch.utils.data.DataLoader(SyntheticBatches(config, rank, start_step, synth, corpus), batch_size=None,
                                         shuffle=False, num_workers=config.workers,
                                         persistent_workers=config.workers > 0)
    out = Path(config.out)
    is_main = rank == 0
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"model {config.model} {n_params / 1e6:.2f} M params, device {device}, world {world}, "
              f"{config.precision}, steps {start_step}->{config.steps}, batch {config.batch_size}x{config.patch}^2", flush=True)
        if corpus is not None:
            print(f"corpus {config.corpus}: {len(corpus)} pairs, {corpus_count(config.batch_size, config.corpus_share)} "
                  f"of every {config.batch_size} samples", flush=True)

    readability = None
    if config.ocr_weight:
        readability = ReadabilityLoss.from_checkpoint(config.recognizer or DEFAULT_RECOGNIZER, device)

    model.train()
    started, window_loss, window_ctc, done = time.time(), 0.0, 0.0, start_step
    bar = tqdm(total=config.steps, initial=start_step, disable=not is_main, mininterval=5, dynamic_ncols=True)
    for step, (blurred, sharp, sigma, lines) in enumerate(loader, start=start_step):
        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # checkpoints before fresh_lr_scale lack it
        blurred = blurred.to(device, memory_format=memory_format)
        sharp, sigma = sharp.to(device), sigma.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            output = train_model(blurred, sigma)
            restored_lines = restore_lines(train_model, lines, device, memory_format) if readability else []
        pixel_loss = loss = loss_fn(output.float(), sharp, config.edge_weight)
        if readability:
            ctc = readability([line.float() for line in restored_lines], [line[3] for line in lines])
            loss = pixel_loss + config.ocr_weight * ctc
            window_ctc += ctc.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        window_loss += pixel_loss.item()
        bar.update(1)
        done = step + 1
        if is_main and (done % config.log_every == 0 or done == config.steps):
            n = config.log_every if done % config.log_every == 0 else done % config.log_every
            rate = (done - start_step) / (time.time() - started)
            line = f"step {done} loss {window_loss / n:.4f} lr {lr:.2e} {rate:.2f} step/s"
            if readability:
                line += f" ctc {window_ctc / n:.4f}"
            if done % (config.log_every * 10) == 0 or done == config.steps:
                line += f" val {json.dumps(validate(model, val, device))}"
            tqdm.write(line)
            window_loss = window_ctc = 0.0
        out_of_time = bool(config.max_minutes) and time.time() - started > config.max_minutes * 60
        if world > 1 and config.max_minutes:  # every rank must stop at the same step
            flag = torch.tensor([float(out_of_time)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            out_of_time = bool(flag.item())
        if is_main and (done % config.ckpt_every == 0 or done == config.steps or out_of_time):
            save_checkpoint(out / "last.pt", model, optimizer, step=done, extra={"train": asdict(config), "fresh": fresh})
        if out_of_time:
            if is_main:
                tqdm.write(f"stopped after {config.max_minutes:g} minutes at step {done}: --resume {out / 'last.pt'}")
            break
    bar.close()

    if is_main:
        export = Path(config.export) if config.export else out / f"{config.model}.pt"
        save_checkpoint(export, model, step=done, half=True,
                        extra={"train": asdict(config), "minutes": round((time.time() - started) / 60, 1)})
        print(f"exported {export}", flush=True)
    if world > 1:
        torch.distributed.destroy_process_group()
    return model


if __name__ == "__main__":
    main()
