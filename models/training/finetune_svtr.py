"""Fine-tune the ported SVTR-LCNet (``models.training.port_ppocr``) on the reader's blurred lines,
cropped where the line finder finds them, as ``/v1/read`` crops them. Korean lines are left out:
the pretrained net has no Hangul and the reader keeps reading them (``models.reading.routing``).

    python -m models.training.finetune_svtr --init-from runs/ppocr/ported.pt --out runs/svtr \
        --export models/checkpoints/svtr_reader.pt
    python -m models.training.finetune_svtr --resume runs/svtr/last.pt ...        # continue a run

Every batch is a pure function of (seed, step).
"""
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models import read_checkpoint, save_checkpoint
from models.data.lines import (PARAGRAPH_STREAM, READ_LANG_WEIGHTS, READ_LANGS, ParagraphConfig, ReadingLineConfig,
                               make_reading_line, make_reading_paragraph)
from models.evaluation.ocr import cer
from models.reading.recognizer import decode
from models.reading.svtr_lcnet import build_svtr_lcnet, collate_lines, line_input
from models.training.train import lr_at, parse_config
from models.training.train_recognizer import (DROP_STREAM, OCR_LANG, RATIO_BUCKETS, VAL_SEED, ctc_step, located_box,
                                              located_boxes)

WITHOUT_KOREAN = tuple(0.0 if lang == "ko" else w for lang, w in zip(READ_LANGS, READ_LANG_WEIGHTS))
NO_KOREAN = ReadingLineConfig(lang_weights=WITHOUT_KOREAN)
NO_KOREAN_PARAGRAPHS = ParagraphConfig(lang_weights=WITHOUT_KOREAN)


@dataclass
class SvtrTrainConfig:
    steps: int = 3000
    batch_size: int = 16
    lr: float = 2e-4
    min_lr: float = 1e-5
    warmup: int = 100
    weight_decay: float = 1e-4
    seed: int = 0
    sigma_dropout: float = 0.35   # share of lines cropped as a blind read crops them
    paragraph_share: float = 0.0  # share of each batch cut from blurred paragraphs (make_reading_paragraph)
    val_lines: int = 240
    log_every: int = 200
    threads: int = 1
    precision: str = "bf16"       # bf16 autocast of the forward pass
    workers: int = 1              # data worker processes
    max_minutes: float = 0.0      # stop early (and export) after this long
    init_from: str = ""           # the ported checkpoint
    resume: str = ""              # a run's last.pt: model, optimizer and step
    out: str = "runs/svtr"
    export: str = ""              # fp16 model-only checkpoint; default <out>/svtr_reader.pt


def svtr_batch(seed, step, batch_size, charset, sigma_dropout=0.35, paragraph_share=0.0):
    """Blurred non-Korean lines cropped where the finder finds them -> (normalised lines, texts,
    langs, sigma / font size). ``paragraph_share`` of them are lines of blurred paragraphs, cut
    with their neighbours' blur in them."""
    chars = frozenset(charset)
    lines, texts, langs, ratios = [], [], [], []

    def add(image, box, text, lang, sigma, px, index):
        known = np.random.default_rng((seed, index, DROP_STREAM)).random() >= sigma_dropout
        lines.append(line_input(image, box, sigma if known else None))
        texts.append(text)
        langs.append(lang)
        ratios.append(sigma / px)

    from_paragraphs = round(batch_size * paragraph_share)
    paragraph = 0
    while len(lines) < from_paragraphs:
        index = step * batch_size + paragraph
        drawn = make_reading_paragraph(seed, index, chars, NO_KOREAN_PARAGRAPHS)
        for row, (box, text) in enumerate(zip(located_boxes(drawn.blurred, drawn.boxes), drawn.texts)):
            if len(lines) < from_paragraphs:
                add(drawn.blurred, box, text, drawn.lang, drawn.sigma, drawn.px, (index, row, PARAGRAPH_STREAM))
        paragraph += 1
    for i in range(from_paragraphs, batch_size):
        index = step * batch_size + i
        line = make_reading_line(seed, index, chars, NO_KOREAN)
        add(line.blurred, located_box(line), line.text, line.lang, line.sigma, line.px, index)
    return lines, texts, langs, ratios


@torch.no_grad()
def evaluate_lines(model, lines, texts, langs, ratios):
    """Greedy CER per language, per sigma / font size bucket, and over all."""
    was_training = model.training
    model.eval()
    readings = []
    for i in range(0, len(lines), 32):
        batch, lengths = collate_lines(lines[i:i + 32])
        best = model(batch, lengths).argmax(-1)
        readings += [decode(row[:n], model.config.charset) for row, n in zip(best, lengths)]
    model.train(was_training)
    scores = {}
    for reading, text, lang, ratio in zip(readings, texts, langs, ratios):
        score = cer(reading, text, OCR_LANG[lang])
        low, high = next(b for b in RATIO_BUCKETS if b[0] <= ratio < b[1] or b[1] == 0.5)
        for key in (lang, f"r{low:.1f}-{high:.1f}", "all"):
            scores.setdefault(key, []).append(score)
    return {key: round(float(np.mean(v)), 4) for key, v in sorted(scores.items())}


class StepBatches(torch.utils.data.IterableDataset):
    def __init__(self, config, charset, first_step):
        super().__init__()
        self.config, self.charset, self.first_step = config, charset, first_step

    def __iter__(self):
        for step in range(self.first_step, self.config.steps):
            lines, texts, _, _ = svtr_batch(self.config.seed, step, self.config.batch_size, self.charset,
                                            self.config.sigma_dropout, self.config.paragraph_share)
            yield (*collate_lines(lines), texts)


def build_or_resume(config):
    payload = read_checkpoint(config.resume or config.init_from)
    model = build_svtr_lcnet(**{k: v for k, v in payload["config"].items() if k != "name"})
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()})
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.resume:
        optimizer.load_state_dict(payload["optimizer"])
        return model, optimizer, int(payload["step"]), payload["extra"]
    return model, optimizer, 0, payload["extra"]


def main(argv=None):
    config = parse_config(argv, SvtrTrainConfig, __doc__)
    if not (config.init_from or config.resume):
        raise SystemExit("give --init-from (the ported checkpoint) or --resume")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model, optimizer, start_step, extra = build_or_resume(config)
    charset = model.config.charset
    val = svtr_batch(VAL_SEED, 0, config.val_lines, charset, config.sigma_dropout)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"svtr {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M params, {len(charset) + 1} classes, "
          f"steps {start_step}->{config.steps}, batch {config.batch_size}, val {json.dumps(evaluate_lines(model, *val))}",
          flush=True)
    loader = torch.utils.data.DataLoader(StepBatches(config, charset, start_step), batch_size=None,
                                         num_workers=config.workers, prefetch_factor=4 if config.workers else None)
    history = dict(extra.get("history", {}))  # minutes of each run in the chain, by folder and steps
    model.train()
    started, window, done = time.time(), 0.0, start_step
    bar = tqdm(total=config.steps, initial=start_step, mininterval=10, dynamic_ncols=True)
    for step, (batch, lengths, texts) in enumerate(loader, start=start_step):
        window += ctc_step(model, optimizer, lr_at(step, config), config.precision, (batch, lengths), lengths, texts)
        done = step + 1
        bar.update(1)
        out_of_time = bool(config.max_minutes) and time.time() - started > config.max_minutes * 60
        if done % config.log_every == 0 or done == config.steps or out_of_time:
            n = (done - 1) % config.log_every + 1
            rate = (done - start_step) / (time.time() - started)
            report = evaluate_lines(model, *val)
            tqdm.write(f"step {done} ctc {window / n:.4f} lr {lr_at(step, config):.2e} {rate:.2f} step/s "
                       f"val cer {json.dumps(report)}")
            sys.stdout.flush()  # a log file under nohup is block-buffered
            window = 0.0
            run_minutes = {**history, f"{config.out} steps {start_step}-{done}": round((time.time() - started) / 60, 1)}
            save_checkpoint(out / "last.pt", model, optimizer, step=done,
                            extra={**extra, "train": asdict(config), "history": run_minutes, "val_cer": report})
        if out_of_time:
            tqdm.write(f"stopped after {config.max_minutes:g} minutes at step {done}")
            break
    bar.close()
    export = Path(config.export) if config.export else out / "svtr_reader.pt"
    model.eval()
    history[f"{config.out} steps {start_step}-{done}"] = round((time.time() - started) / 60, 1)
    save_checkpoint(export, model, step=done, half=True,
                    extra={**extra, "train": asdict(config), "history": history,
                           "val_cer": evaluate_lines(model, *val)})
    print(f"exported {export}", flush=True)
    return model


if __name__ == "__main__":
    main()
