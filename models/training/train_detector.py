"""Train the learned line detector (``models.nets.line_detector``) on the train families of the
Chromium layouts (``models.data.chromium_layouts``), validated on a few tune pages with the line
benchmark (``models.evaluation.line_eval``).

    python -m models.data.chromium_layouts --pages 330 --splits train --out runs/layouts_train
    python -m models.training.train_detector --layouts runs/layouts_train --out runs/detector
    python -m models.training.train_detector --resume runs/detector/last.pt ...        # continue a run
    python -m models.training.train_detector --init-from models/checkpoints/line_detector.pt ...  # a new stage
    python -m models.training.train_detector --resume runs/detector/last.pt --steps N --export models/checkpoints/line_detector.pt

A batch is tiles cut from the sharp and blurred captures of train pages at a random zoom, with
each line's core (its ink box shrunk, ``models.reading.line_detector.core_box``) and height as
targets; tile ``k`` of step ``s`` is a pure function of (seed, s, k) and the layouts folder(s)
(``--layouts a,b``: their train pages together).
"""
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models import fp32_state, read_checkpoint, save_checkpoint
from models.data.chromium_layouts import LayoutPages
from models.evaluation.line_eval import evaluate_pages, rates, summarize
from models.nets.line_detector import build_line_detector
from models.reading.line_detector import LineDetector, core_box
from models.training.train import lr_at, parse_config


@dataclass
class DetectorTrainConfig:
    steps: int = 12000
    batch_size: int = 12
    tile: int = 256               # px, square (a multiple of the net's 16)
    lr: float = 2e-3
    min_lr: float = 5e-5
    warmup: int = 200
    weight_decay: float = 1e-4
    seed: int = 0
    sharp_share: float = 0.2      # tiles cut from the sharp capture; the rest from the blurred ones
    zoom_min: float = 0.6         # each tile is its page scaled by a factor drawn log-uniformly in this range
    zoom_max: float = 1.6
    on_line: float = 0.85         # share of tiles centred near a line (the rest anywhere on the page)
    grey_share: float = 0.1       # tiles turned grey (a grey capture is read too)
    faint_share: float = 0.0      # tiles whose contrast is cut to 25-70 % (pale grey prices, captions, placeholders)
    crop_share: float = 0.0       # steps of element captures: small tiles around one line (a button, a price, a heading)
    height_weight: float = 1.0    # weight of the height loss beside the core's
    image_cache: int = 600        # decoded captures kept in memory
    layouts: str = "runs/layouts_train"  # train families' shards
    val_layouts: str = "runs/layouts"    # tune families' shards
    val_pages: int = 16           # tune pages validated on (all their blurred captures)
    log_every: int = 250
    threads: int = 2
    max_minutes: float = 0.0      # stop early (and save) after this long
    resume: str = ""              # continue a run: model, optimizer and step from its last.pt
    init_from: str = ""           # warm start: a checkpoint's weights (a shipped fp16 one too), a fresh optimizer from step 0
    out: str = "runs/detector"
    export: str = ""              # when the run ends, an fp16 model-only checkpoint here (what ships)
    model_overrides: dict = field(default_factory=dict)


def train_pages(folder):
    """The train-family pages of a layouts folder (whatever else it holds is left out)."""
    pages = LayoutPages(folder)
    pages.pages = [page for page in pages.pages if page["split"] == "train" and page["lines"]]
    if not pages.pages:
        raise SystemExit(f"{folder} holds no train-family pages: render them with models.data.chromium_layouts --splits train")
    return pages


def cached_images(pages, size):
    """``pages.image`` behind an LRU cache of ``size`` decoded captures (PNG decoding is slow)."""
    return lru_cache(maxsize=size)(pages.image)


def line_targets(boxes, rows, columns, shrink, height_scale):
    """(core mask, log(height / height_scale)) float32 (rows, columns) of ink boxes (x0, y0, x1, y1)
    in tile px; a pixel is in a core if its centre is."""
    core = np.zeros((rows, columns), np.float32)
    log_height = np.zeros((rows, columns), np.float32)
    for box in boxes:
        x0, y0, x1, y1 = core_box(box, shrink)
        left, right = max(0, round(x0)), min(columns, max(round(x0) + 1, round(x1)))
        top, bottom = max(0, round(y0)), min(rows, max(round(y0) + 1, round(y1)))
        if right <= left or bottom <= top:
            continue
        core[top:bottom, left:right] = 1.0
        log_height[top:bottom, left:right] = math.log(max(box[3] - box[1], 1.0) / height_scale)
    return core, log_height


def page_truth(page, capture):
    """Ink boxes (x0, y0, x1, y1) of a page's lines in a capture's px (None: the sharp one)."""
    scale = 1.0 if capture is None else capture["scale"]
    return [[v * scale for v in line["ink"]] for line in page["lines"] if line["ink"] is not None]


def cut_tile(image, boxes, centre, source, tile):
    """The window of ``image`` around ``centre`` (x, y), ``source`` (height, width) px (or a side,
    square), scaled to ``tile`` (height, width) (or a side), padded with the capture's corner
    colour (its page) where it leaves the image -> (float (3, tile h, tile w) in [0, 1], boxes in tile px)."""
    (source_h, source_w), (tile_h, tile_w) = (pair if isinstance(pair, tuple) else (pair, pair) for pair in (source, tile))
    height, width = image.shape[:2]
    left, top = int(round(centre[0] - source_w / 2)), int(round(centre[1] - source_h / 2))
    window = np.empty((source_h, source_w, 3), np.uint8)
    window[:] = image[0, 0, :3]
    y0, y1, x0, x1 = max(0, top), min(height, top + source_h), max(0, left), min(width, left + source_w)
    if y1 > y0 and x1 > x0:
        window[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1, :3]
    tensor = torch.from_numpy(window).permute(2, 0, 1)[None].float() / 255
    if (source_h, source_w) != (tile_h, tile_w):
        tensor = F.interpolate(tensor, size=(tile_h, tile_w), mode="bilinear", antialias=source_h > tile_h,
                               align_corners=False)
    zoom_y, zoom_x = tile_h / source_h, tile_w / source_w
    moved = [[(b[0] - left) * zoom_x, (b[1] - top) * zoom_y, (b[2] - left) * zoom_x, (b[3] - top) * zoom_y] for b in boxes]
    inside = [b for b in moved if b[2] > 0 and b[3] > 0 and b[0] < tile_w and b[1] < tile_h]
    return tensor[0].clamp(0, 1), inside


def element_shape(seed, step):
    """The (height, width) of a step's element-capture tiles, multiples of 16: 32-128 tall, 2-32
    times as wide, at most 256 x 256 px in all."""
    rng = np.random.default_rng((seed, step, 1))
    height = 16 * int(rng.integers(2, 9))
    return height, 16 * int(rng.integers(height // 8, min(32 * height // 16, 4096 // height) + 1))


def element_window(rng, box, shape):
    """(centre, source (height, width)) of an element capture around a line ``box`` (x0, y0, x1,
    y1) for a tile of ``shape``: the line ink 12-50 % of the tile's height (zoom kept in 0.4-2.5),
    anywhere along it, a little off centre."""
    line_height = max(box[3] - box[1], 1.0)
    zoom = min(2.5, max(0.4, rng.uniform(0.12, 0.5) * shape[0] / line_height))
    source = (max(8, int(round(shape[0] / zoom))), max(8, int(round(shape[1] / zoom))))
    centre_x = rng.uniform(box[0], box[2]) if box[2] - box[0] > source[1] else (box[0] + box[2]) / 2
    centre = (centre_x + rng.uniform(-0.15, 0.15) * source[1], (box[1] + box[3]) / 2 + rng.uniform(-0.15, 0.15) * source[0])
    return centre, source


def faded(tensor, contrast):
    """A tile (3, T, T) with its contrast against its background (the corner's colour, as the
    padding) cut to ``contrast``: the same layout in paler ink."""
    background = tensor[:, :1, :1]
    return background + (tensor - background) * contrast


def detector_sample(pages, images, seed, step, index, config, shrink, height_scale, element=None):
    """Tile ``index`` of ``step``: (image (3, H, W), core target (H, W), log height target (H, W));
    a page tile (T x T) or, where ``element`` gives its (H, W), an element capture around one line."""
    rng = np.random.default_rng((seed, step, index))
    page = pages.pages[int(rng.integers(len(pages.pages)))]
    capture = None if rng.random() < config.sharp_share else page["captures"][int(rng.integers(len(page["captures"])))]
    image = images(page["sharp"] if capture is None else capture["image"])
    boxes = page_truth(page, capture)
    zoom = math.exp(rng.uniform(math.log(config.zoom_min), math.log(config.zoom_max)))
    source = max(8, int(round(config.tile / zoom)))
    tile = config.tile if element is None else element
    if element is not None and boxes:
        centre, source = element_window(rng, boxes[int(rng.integers(len(boxes)))], element)
    elif element is not None:
        centre = (rng.uniform(0, image.shape[1]), rng.uniform(0, image.shape[0]))
        source = (max(8, int(round(element[0] / zoom))), max(8, int(round(element[1] / zoom))))
    elif boxes and rng.random() < config.on_line:
        box = boxes[int(rng.integers(len(boxes)))]
        centre = ((box[0] + box[2]) / 2 + rng.uniform(-0.4, 0.4) * source, (box[1] + box[3]) / 2 + rng.uniform(-0.4, 0.4) * source)
    else:
        centre = (rng.uniform(0, image.shape[1]), rng.uniform(0, image.shape[0]))
    tensor, tile_boxes = cut_tile(image, boxes, centre, source, tile)
    if rng.random() < config.faint_share:
        tensor = faded(tensor, rng.uniform(0.25, 0.7))
    if rng.random() < config.grey_share:
        tensor = (tensor * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True).expand(3, -1, -1)
    core, log_height = line_targets(tile_boxes, tensor.shape[1], tensor.shape[2], shrink, height_scale)
    return tensor, torch.from_numpy(core), torch.from_numpy(log_height)


def detector_batch(pages, images, seed, step, config, shrink, height_scale):
    """A step's tiles: page tiles, or for a ``crop_share`` of steps element captures of one shape."""
    element = element_shape(seed, step) if np.random.default_rng((seed, step, 2)).random() < config.crop_share else None
    samples = [detector_sample(pages, images, seed, step, k, config, shrink, height_scale, element)
               for k in range(config.batch_size)]
    return tuple(torch.stack(parts) for parts in zip(*samples))


def detector_loss(maps, core, log_height, height_weight):
    """(total, core part, height part): BCE plus dice on the core (cores are a small share of a
    tile), smooth L1 on the log height over the cores."""
    logits, predicted = maps[:, 0], maps[:, 1]
    probability = torch.sigmoid(logits)
    dice = 1 - (2 * (probability * core).sum() + 1) / (probability.sum() + core.sum() + 1)
    core_loss = F.binary_cross_entropy_with_logits(logits, core) + dice
    height_loss = (F.smooth_l1_loss(predicted, log_height, reduction="none", beta=0.1) * core).sum() / core.sum().clamp(min=1)
    return core_loss + height_weight * height_loss, core_loss, height_loss


def tune_pages(folder, count):
    """The first ``count`` tune-family pages of a layouts folder (by page id), or None where it has none."""
    if not Path(folder).is_dir():
        return None
    pages = LayoutPages(folder)
    pages.pages = sorted((p for p in pages.pages if p["split"] == "tune"), key=lambda p: p["id"])[:count]
    return pages if pages.pages else None


def validate(model, pages):
    """Line recall and precision (ink boxes, IoU >= 0.5) on ``pages``' blurred captures: all, and at sigma / font <= .1."""
    if pages is None:
        return {}
    was_training = model.training
    records = evaluate_pages(pages, finder=LineDetector(model), splits=("tune",), log=lambda *_: None)
    model.train(was_training)
    summary = summarize(records)["tune"]
    report = {}
    for bucket in ("all", "<=.1"):
        if bucket in summary:
            recall, precision = rates(summary[bucket])
            report[f"recall {bucket}"], report[f"precision {bucket}"] = round(recall or 0, 4), round(precision or 0, 4)
    return report


def build_or_resume(config):
    """(model, optimizer, first step, history) from nothing, a run's last.pt or another checkpoint's weights."""
    if config.resume and config.init_from:
        raise SystemExit("--resume continues a run and --init-from starts one: give one of them")
    source = config.resume or config.init_from
    payload = read_checkpoint(source) if source else None
    if payload is not None:
        model = build_line_detector(**{k: v for k, v in payload["config"].items() if k != "name"})
        model.load_state_dict(fp32_state(payload["model"]))
    else:
        model = build_line_detector(**config.model_overrides)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if payload is None:
        return model, optimizer, 0, {}
    history = dict(payload.get("extra", {}).get("history", {}))
    if config.init_from:
        return model, optimizer, 0, history
    optimizer.load_state_dict(payload["optimizer"])
    return model, optimizer, int(payload["step"]), history


def main(argv=None):
    config = parse_config(argv, DetectorTrainConfig, __doc__)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model, optimizer, start_step, history = build_or_resume(config)
    shrink, height_scale = model.config.core_shrink, model.config.height_scale
    pages = train_pages(config.layouts)
    images = cached_images(pages, config.image_cache)
    val = tune_pages(config.val_layouts, config.val_pages)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"line detector {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M params, {len(pages)} train pages, "
          f"{0 if val is None else len(val)} tune pages, steps {start_step}->{config.steps}, batch {config.batch_size} "
          f"x {config.tile}^2, {config.threads} thread(s)", flush=True)
    run = f"{config.out} steps {start_step}-{{}}"

    def save_last(done, report, minutes):
        save_checkpoint(out / "last.pt", model, optimizer, step=done,
                        extra={"train": asdict(config), "val": report, "history": {**history, run.format(done): minutes}})

    model.train()
    started, done = time.time(), start_step
    window = np.zeros(3)
    for step in range(start_step, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        tiles, core, log_height = detector_batch(pages, images, config.seed, step, config, shrink, height_scale)
        losses = detector_loss(model(tiles), core, log_height, config.height_weight)
        optimizer.zero_grad(set_to_none=True)
        losses[0].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        window += [loss.item() for loss in losses]
        done = step + 1
        out_of_time = bool(config.max_minutes) and time.time() - started > config.max_minutes * 60
        if done % config.log_every == 0 or done == config.steps or out_of_time:
            n = (done - 1) % config.log_every + 1
            report = validate(model, val)
            minutes = round((time.time() - started) / 60, 1)
            print(f"step {done} loss {window[0] / n:.4f} core {window[1] / n:.4f} height {window[2] / n:.4f} "
                  f"lr {lr_at(step, config):.2e} {(done - start_step) / (time.time() - started):.2f} step/s "
                  f"{minutes} min val {json.dumps(report)}")
            sys.stdout.flush()  # a log file under nohup is block-buffered
            window[:] = 0
            save_last(done, report, minutes)
        if out_of_time:
            print(f"stopped after {config.max_minutes:g} minutes at step {done}", flush=True)
            break
    if config.export:
        save_checkpoint(config.export, model, step=done, half=True,
                        extra={"train": asdict(config), "history": {**history, **({run.format(done): round(
                            (time.time() - started) / 60, 1)} if done > start_step else {})}})
        print(f"exported {config.export} at step {done}", flush=True)
    return model


if __name__ == "__main__":
    main()
