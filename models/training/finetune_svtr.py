"""Fine-tune the ported SVTR-LCNet (``models.training.port_ppocr``) on the reader's blurred lines,
cropped where the line finder finds them, as ``/v1/read`` crops them. The pretrained net has no
Hangul: without it Korean lines are left out and the reader keeps reading them
(``models.reading.routing``); ``--add-hangul`` appends the reader's Hangul syllables to the head
and trains on Korean lines too.

    python -m models.training.finetune_svtr --init-from runs/ppocr/ported.pt --out runs/svtr \
        --export models/checkpoints/svtr_reader.pt
    python -m models.training.finetune_svtr --resume runs/svtr/last.pt ...        # continue a run
    python -m models.training.finetune_svtr --init-from runs/svtr/last.pt --add-hangul --korean-weight 0.3 ...

Lines are located as ``/v1/read`` finds them: with ``--locate-with`` a line detector checkpoint
(the shipped one: ``models/checkpoints/line_detector.pt``), by the detector with the rule finder's
lines it missed (``pipeline.find_text_lines``), each crop grown by the σ told or measured blind;
without it, by the rule finder alone (the shipped SVTR's training).

With ``--layouts`` a share of each batch (``--layout-share``) is lines of the Chromium layouts'
train families (``models.data.chromium_layouts``: real browser renders, CSS-blurred and as pictures,
the DOM's text per line), located the same way; ``--val-layouts`` adds a validation figure on the
tune families' lines. ``--document-share`` of each batch is lines of document-like paragraphs
(small type, lines as long as their column, most shown as pictures).

Every batch is a pure function of (seed, step), the detector and the layouts folder.
"""
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from models import fp32_state, read_checkpoint, save_checkpoint
from models.data.lines import ReadingLineConfig, make_reading_line
from models.evaluation.ocr import cer
from models.reading.hangul import JAMO, from_jamo, is_syllable, spells_jamo, to_jamo
from models.reading.recognizer import READER_CHARSET, decode
from models.reading.routing import is_hangul
from models.reading.svtr_lcnet import build_svtr_lcnet, collate_lines, line_input
from models.training.train import parse_config
from models.training.train_recognizer import (OCR_LANG, RATIO_BUCKETS, VAL_SEED, batch_paragraph_lines, crop_as_read,
                                                language_weights, layout_draws, run_steps, worker_steps)


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
    document_share: float = 0.0   # share of each batch cut from document-like paragraphs (small type, pictures)
    add_hangul: bool = False      # append the reader's Hangul syllables to the head (from --init-from)
    add_jamo: bool = False        # append Hangul's 67 conjoining jamo instead: Korean read letter by letter, composed back
    korean_weight: float = 0.15   # share of Korean lines, when the head has Hangul
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
    locate_with: str = ""         # a line detector checkpoint: lines located as /v1/read finds them ('': find_lines)
    layouts: str = ""             # a Chromium layouts folder: its train families' lines ...
    layout_share: float = 0.0     # ... are this share of each batch
    junk_share: float = 0.0       # this share of the layout lines are found boxes holding no text (rules, borders), read as nothing
    val_layouts: str = ""         # a layouts folder whose tune families' lines are validated on too
    val_layout_lines: int = 240


def layout_batch(folder, split, charset, seed, step, count, sigma_dropout=0.35, locate_with="", junk_share=0.0):
    """``count`` lines of the layouts' ``split`` families (``layout_draws``, ``junk_share`` of them
    boxes holding no text) -> (normalised lines, texts, langs, sigma / font size)."""
    lines, texts, langs, ratios = [], [], [], []
    for image, box, told, text, lang, ratio in layout_draws(folder, split, drawable(charset), seed, step, count,
                                                            sigma_dropout, locate_with, junk_share=junk_share):
        lines.append(line_input(image, box, told))
        texts.append(text)
        langs.append(lang)
        ratios.append(ratio)
    return lines, texts, langs, ratios


def svtr_batch(seed, step, batch_size, charset, sigma_dropout=0.35, paragraph_share=0.0, korean_weight=0.15,
               locate_with="", layouts="", layout_share=0.0, junk_share=0.0, document_share=0.0):
    """Blurred lines cropped where the finder finds them -> (normalised lines, texts, langs,
    sigma / font size); Korean only when ``charset`` has Hangul. ``paragraph_share`` of them are
    lines of blurred paragraphs, cut with their neighbours' blur in them, and ``document_share`` of
    document-like ones (``DocumentParagraphConfig``); ``layout_share`` lines of
    the ``layouts`` folder's train families (``junk_share`` of those boxes holding no text, read as
    nothing). ``locate_with``: a line detector checkpoint, to locate lines as ``/v1/read`` does
    (``found_boxes``)."""
    chars = drawable(charset)
    weights = language_weights(charset, korean_weight)
    line_config = ReadingLineConfig(lang_weights=weights)
    lines, texts, langs, ratios = [], [], [], []

    def add(image, truth, text, lang, sigma, px, index):
        lines.append(line_input(image, *crop_as_read(seed, index, image, truth, sigma, sigma_dropout, locate_with)))
        texts.append(text)
        langs.append(lang)
        ratios.append(sigma / px)

    drawn_paragraphs = batch_paragraph_lines(seed, step, batch_size, chars, weights, paragraph_share, document_share)
    for drawn in drawn_paragraphs:
        add(*drawn)
    from_paragraphs = len(drawn_paragraphs)
    from_layouts = round(batch_size * layout_share) if layouts else 0
    if from_layouts:
        drawn = layout_batch(layouts, "train", charset, seed, step, from_layouts, sigma_dropout, locate_with, junk_share)
        for kept, more in zip((lines, texts, langs, ratios), drawn):
            kept += more
    for i in range(from_paragraphs + from_layouts, batch_size):
        index = step * batch_size + i
        line = make_reading_line(seed, index, chars, line_config)
        add(line.blurred, line.box, line.text, line.lang, line.sigma, line.px, index)
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
        readings += [from_jamo(decode(row[:n], model.config.charset)) for row, n in zip(best, lengths)]
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
        for step in worker_steps(self.first_step, self.config.steps):
            lines, texts, _, _ = svtr_batch(self.config.seed, step, self.config.batch_size, self.charset,
                                            self.config.sigma_dropout, self.config.paragraph_share,
                                            self.config.korean_weight, self.config.locate_with,
                                            self.config.layouts, self.config.layout_share, self.config.junk_share,
                                            self.config.document_share)
            batch, lengths = collate_lines(lines)
            yield (batch, lengths), lengths, targets(texts, self.charset)


def with_classes(model, new):
    """The same net with the characters ``new`` (those it lacks) appended to its head. The known
    classes keep their rows; a new one starts with no weights and the lowest known bias, so it is
    never read before training teaches it (random rows won columns of Chinese lines: val zh 0.30 -> 0.57)."""
    new = "".join(dict.fromkeys(ch for ch in new if ch not in model.config.charset))
    if not new:
        return model
    wider = build_svtr_lcnet(**{**asdict(model.config), "charset": model.config.charset + new})
    state = model.state_dict()
    known = state["classifier.weight"].shape[0]
    fresh = wider.state_dict()
    fresh["classifier.weight"][:known] = state["classifier.weight"]
    fresh["classifier.weight"][known:] = 0.0
    fresh["classifier.bias"][:known] = state["classifier.bias"]
    fresh["classifier.bias"][known:] = state["classifier.bias"].min()
    wider.load_state_dict({**{k: v for k, v in state.items() if not k.startswith("classifier.")},
                           "classifier.weight": fresh["classifier.weight"], "classifier.bias": fresh["classifier.bias"]})
    return wider


def with_hangul(model):
    """The net with the reader's Hangul syllables appended to its head."""
    return with_classes(model, [ch for ch in READER_CHARSET if is_hangul(ch)])


def with_jamo(model):
    """The net with Hangul's conjoining jamo appended to its head (``models.reading.hangul``)."""
    return with_classes(model, JAMO)


def drawable(charset):
    """The characters lines may be drawn in for a head over ``charset``: its own, and the reader's
    Hangul syllables when it spells them as jamo."""
    chars = frozenset(charset)
    return chars | {ch for ch in READER_CHARSET if is_syllable(ch)} if spells_jamo(charset) else chars


def targets(texts, charset):
    """The texts as a head over ``charset`` spells them: syllables as jamo where it reads jamo."""
    return [to_jamo(text) for text in texts] if spells_jamo(charset) else list(texts)


def build_or_resume(config):
    payload = read_checkpoint(config.resume or config.init_from)
    model = build_svtr_lcnet(**{k: v for k, v in payload["config"].items() if k != "name"})
    model.load_state_dict(fp32_state(payload["model"]))
    if config.add_hangul and not config.resume:
        model = with_hangul(model)
    if config.add_jamo and not config.resume:
        model = with_jamo(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.resume:
        optimizer.load_state_dict(payload["optimizer"])
        return model, optimizer, int(payload["step"]), payload["extra"]
    return model, optimizer, 0, payload["extra"]


def main(argv=None):
    config = parse_config(argv, SvtrTrainConfig, __doc__)
    if not (config.init_from or config.resume):
        raise SystemExit("give --init-from (the ported checkpoint) or --resume")
    if config.layout_share and not config.layouts:
        raise SystemExit("--layout-share needs --layouts (a Chromium layouts folder)")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model, optimizer, start_step, extra = build_or_resume(config)
    charset = model.config.charset
    val = svtr_batch(VAL_SEED, 0, config.val_lines, charset, config.sigma_dropout, korean_weight=config.korean_weight,
                     locate_with=config.locate_with)
    val_layout = (layout_batch(config.val_layouts, "tune", charset, VAL_SEED, 0, config.val_layout_lines,
                               config.sigma_dropout, config.locate_with) if config.val_layouts else None)

    def validate():
        report = evaluate_lines(model, *val)
        if val_layout:
            report.update({f"layouts {k}": v for k, v in evaluate_lines(model, *val_layout).items()})
        return report

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"svtr {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M params, {len(charset) + 1} classes, "
          f"steps {start_step}->{config.steps}, batch {config.batch_size}, val {json.dumps(validate())}", flush=True)
    loader = torch.utils.data.DataLoader(StepBatches(config, charset, start_step), batch_size=None,
                                         num_workers=config.workers, prefetch_factor=4 if config.workers else None)
    history = dict(extra.get("history", {}))  # minutes of each run in the chain, by folder and steps
    run = f"{config.out} steps {start_step}-{{}}"

    def save_last(done, report, minutes):
        save_checkpoint(out / "last.pt", model, optimizer, step=done,
                        extra={**extra, "train": asdict(config), "history": {**history, run.format(done): minutes},
                               "val_cer": report})

    done, minutes = run_steps(model, optimizer, loader, config, start_step, validate, save_last)
    export = Path(config.export) if config.export else out / "svtr_reader.pt"
    model.eval()
    history[run.format(done)] = minutes
    save_checkpoint(export, model, step=done, half=True,
                    extra={**extra, "train": asdict(config), "history": history, "val_cer": validate()})
    print(f"exported {export}", flush=True)
    return model


if __name__ == "__main__":
    main()
