"""Train the text recogniser (sharp lines, the deblurring trainer's judge) or the reader (blurred
lines, told sigma or not: what ``/v1/read`` runs).

    python -m models.training.train_recognizer --out runs/recognizer --export models/checkpoints/recognizer.pt
    python -m models.training.train_recognizer --task reader --init-from models/checkpoints/recognizer.pt \
        --out runs/reader --export models/checkpoints/reader.pt
    python -m models.training.train_recognizer --task reader --resume runs/reader/last.pt ...   # continue

Every batch is a pure function of (seed, step). The reader's lines are cropped where the line
finder finds them, as ``/v1/read`` crops them: the rule finder's boxes, or with ``--locate-with`` a
line detector's (``/v1/read`` runs the shipped one); ``--paragraph-share`` of them cut from blurred
paragraphs and ``--document-share`` from document-like ones (small type, shown as pictures);
``--korean-weight`` the share of Korean lines (the reader reads the lines the SVTR
cannot: Korean). With ``--layouts`` a share of each batch (``--layout-share``) is lines of the
Chromium layouts' train families (real browser renders, Korean among them at ``--korean-weight``),
located the same way; ``--val-layouts`` adds a validation figure on a layouts folder's tune families.
"""
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models import read_checkpoint, save_checkpoint
from models.data.chromium_layouts import LayoutPages, capture_line, line_crops
from models.data.lines import (READ_LANG_WEIGHTS, READ_LANGS, DocumentParagraphConfig, LineConfig, ParagraphConfig,
                               ReadingLineConfig, make_line, make_reading_line, make_reading_paragraph, to_tensor)
from models.evaluation.ocr import cer
from models.reading.line_detector import LineDetector
from models.reading.line_finder import LineBox, find_lines, overlap_area
from models.reading.pipeline import find_text_lines
from models.reading.recognizer import (READER_CHARSET, READER_DEFAULTS, build_recognizer, collate_lines, ctc_loss,
                                       decode, line_input, load_widened, normalize_line)
from models.reading.routing import has_hangul
from models.training.train import lr_at, parse_config

OCR_LANG = {"latin": "en", "ko": "ko", "zh": "zh", "ja": "ja"}  # synth's language names -> models.evaluation.ocr's
RATIO_BUCKETS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.5))  # sigma / font size


@dataclass
class RecognizerTrainConfig:
    task: str = "recognizer"      # recognizer: sharp lines; reader: blurred lines, sigma given or not
    steps: int = 2200
    batch_size: int = 24
    lr: float = 2e-3
    min_lr: float = 2e-5
    warmup: int = 200
    weight_decay: float = 1e-4
    seed: int = 0
    sigma_dropout: float = 0.35   # reader: share of lines read blind
    locate_with: str = ""         # reader: a line detector checkpoint, lines located as /v1/read finds them ('': find_lines)
    paragraph_share: float = 0.0  # reader: share of each batch cut from blurred paragraphs
    document_share: float = 0.0   # reader: share of each batch cut from document-like paragraphs (small type, pictures)
    korean_weight: float = 0.15   # reader: share of Korean lines (READ_LANG_WEIGHTS' own at 0.15)
    layouts: str = ""             # reader: a Chromium layouts folder: its train families' lines ...
    layout_share: float = 0.0     # ... are this share of each batch (Korean among them at korean_weight)
    junk_share: float = 0.0       # reader: this share of the layout lines are found boxes holding no text (rules, borders), read as nothing
    val_layouts: str = ""         # reader: a layouts folder whose tune families' lines are validated on too
    val_layout_lines: int = 400
    val_lines: int = 400
    log_every: int = 250
    threads: int = 1
    precision: str = "fp32"       # bf16: autocast the forward pass (CPU: about 1.6x faster steps)
    workers: int = 0              # data worker processes (1 overlaps line rendering with training; 2 where one cannot keep up)
    max_minutes: float = 0.0      # stop early (and export) after this long
    init_from: str = ""           # warm start: a checkpoint's weights, grown to this net (new classes, sigma planes)
    resume: str = ""              # continue a run: model, optimizer and step from its last.pt
    out: str = "runs/recognizer"
    export: str = ""              # fp16 model-only checkpoint; default <out>/<task>.pt
    model_overrides: dict = field(default_factory=dict)


VAL_SEED = 7_777_777  # held-out lines: training seeds are small integers
DROP_STREAM = 0xD209  # which reader lines go blind: a stream of its own


def line_batch(seed, step, batch_size, config=LineConfig()):
    """The recogniser's: sharp lines -> (normalised lines, sigmas (None), texts, langs)."""
    lines = [make_line(seed, step * batch_size + i, config=config) for i in range(batch_size)]
    return [normalize_line(to_tensor(line.sharp)) for line in lines], None, [line.text for line in lines], \
        [line.lang for line in lines]


def located_boxes(image, boxes, found=None):
    """Where the line finder puts each generated line of ``image`` (the found box overlapping its
    text most), or the text's own box where the finder sees nothing there; ``boxes`` are the
    lines' (top, bottom, left, right); ``found`` the boxes a finder found (``find_lines``' by default)."""
    found = find_lines(image) if found is None else found
    located = []
    for top, bottom, left, right in boxes:
        truth = LineBox(left, top, right - left, bottom - top)
        overlapping = [box for box in found if overlap_area(box, truth) > 0]
        located.append(max(overlapping, key=lambda box: overlap_area(box, truth)) if overlapping else truth)
    return located


_READER_CHARS = frozenset(READER_CHARSET)


def language_weights(charset, korean_weight):
    """READ_LANGS' weights: Korean at ``korean_weight`` of all lines when the charset has Hangul, else
    none; the other languages keep their proportions."""
    korean = korean_weight if has_hangul(charset) else 0.0
    others = {lang: w for lang, w in zip(READ_LANGS, READ_LANG_WEIGHTS) if lang != "ko"}
    total = sum(others.values())
    return tuple(korean if lang == "ko" else (1 - korean) * others[lang] / total for lang in READ_LANGS)


@lru_cache(maxsize=2)
def line_detector(path):
    """One LineDetector per checkpoint per process (each data worker loads its own)."""
    return LineDetector(path, precision="auto")


def found_boxes(image, sigma, locate_with=""):
    """The boxes a reading crops around in ``image`` told ``sigma`` (None: blind): those
    ``find_text_lines`` finds with the ``locate_with`` detector, or None (``find_lines``')."""
    if not locate_with:
        return None
    return [found for found, _ in find_text_lines(image, sigma, line_detector(locate_with))]


def crop_as_read(seed, index, image, truth, sigma, sigma_dropout=0.35, locate_with=""):
    """(box, sigma told or None) of a drawn line: whether draw ``index`` is read blind, and where
    ``/v1/read`` would crop it (``found_boxes``), told that sigma or not."""
    known = np.random.default_rng((seed, index, DROP_STREAM)).random() >= sigma_dropout
    told = sigma if known else None
    return located_boxes(image, [truth], found_boxes(image, told, locate_with))[0], told


def paragraph_lines(seed, step, batch_size, count, chars, config):
    """The first ``count`` lines of a step's blurred paragraphs, drawn one after another:
    (image, the line's box, text, lang, sigma, font px, draw index) each."""
    drawn_lines, paragraph = [], 0
    while len(drawn_lines) < count:
        index = step * batch_size + paragraph
        drawn = make_reading_paragraph(seed, index, chars, config)
        drawn_lines += [(drawn.blurred, truth, text, drawn.lang, drawn.sigma, drawn.px, (index, row, config.stream))
                        for row, (truth, text) in enumerate(zip(drawn.boxes, drawn.texts))]
        paragraph += 1
    return drawn_lines[:count]


def batch_paragraph_lines(seed, step, batch_size, chars, lang_weights, paragraph_share=0.0, document_share=0.0):
    """A batch's lines cut from blurred paragraphs (``paragraph_share`` of it) and from
    document-like ones (``document_share``), as ``paragraph_lines`` draws them."""
    return (paragraph_lines(seed, step, batch_size, round(batch_size * paragraph_share), chars,
                            ParagraphConfig(lang_weights=lang_weights)) +
            paragraph_lines(seed, step, batch_size, round(batch_size * document_share), chars,
                            DocumentParagraphConfig(lang_weights=lang_weights)))


LAYOUT_STREAM = 0x1A70  # which layout lines a step draws, and which of them go blind


@lru_cache(maxsize=2)
def layout_lines(folder, split, chars):
    """(pages, ``line_crops`` triples) of one layouts folder's ``split`` whose lines ``chars`` (a
    frozenset) spell, once per process."""
    pages = LayoutPages(folder)
    triples = line_crops(pages, split, chars)
    if not triples:
        raise SystemExit(f"{folder} holds no {split}-family lines to read: render them with models.data.chromium_layouts")
    return pages, triples


@lru_cache(maxsize=4)
def korean_layout_lines(folder, split, chars):
    """The indices of ``layout_lines``' triples whose text has Hangul, and of the rest."""
    pages, triples = layout_lines(folder, split, chars)
    korean = [has_hangul(pages.pages[p]["lines"][l]["text"]) for p, _, l in triples]
    return (np.flatnonzero(korean), np.flatnonzero(~np.asarray(korean, dtype=bool)))


@lru_cache(maxsize=256)
def _found_in_capture(folder, split, chars, image_number, sigma, locate_with):
    """``found_boxes`` of one layouts capture (its lines share it: located once per process)."""
    pages, _ = layout_lines(folder, split, chars)
    return found_boxes(pages.image(image_number), sigma, locate_with)


JUNK_INK_SHARE = 0.05  # a found box less than this share of whose area is text ink holds no text


def boxes_without_text(found, inks, max_share=JUNK_INK_SHARE):
    """The ``found`` LineBoxes that (almost) no text ink overlaps, ``inks`` being the true lines'
    ink boxes (x0, y0, x1, y1): what a finder took for a line that is a rule, a border or an icon."""
    ink_boxes = [LineBox(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in inks]
    return [box for box in found if sum(overlap_area(box, ink) for ink in ink_boxes) < max_share * box.w * box.h]


def layout_draws(folder, split, chars, seed, step, count, sigma_dropout=0.35, locate_with="", korean_weight=None,
                 junk_share=0.0):
    """``count`` lines of the layouts' ``split`` families, drawn by (seed, step), each cropped where
    ``/v1/read`` finds it, told its sigma or blind -> [(capture, box, sigma told or None, text, synth's
    language name, sigma / font size)]. ``korean_weight``: the share of lines drawn from those with
    Hangul (None: every line alike, so about the pages' own share). ``junk_share``: up to this share
    of them (the last) are instead boxes the finder found in the drawn captures that hold no text
    (``boxes_without_text``), with the text "": the reader learns to read a rule as nothing."""
    pages, triples = layout_lines(folder, split, chars)
    rng = np.random.default_rng((seed, step, LAYOUT_STREAM))
    if korean_weight is None:
        picks = rng.integers(len(triples), size=count)
    else:
        korean, others = korean_layout_lines(folder, split, chars)
        picks = []
        for _ in range(count):
            from_korean = len(korean) and (rng.random() < korean_weight or not len(others))
            pool = korean if from_korean else others
            picks.append(pool[rng.integers(len(pool))])
    drawn, junk, searched = [], [], set()
    for pick in picks:
        page, capture, _ = triples[pick]
        image, truth, text, lang, sigma, ratio = capture_line(pages, triples[pick])
        told = sigma if rng.random() >= sigma_dropout else None
        record = pages.pages[page]["captures"][capture]
        found = _found_in_capture(folder, split, chars, record["image"], told, locate_with) if locate_with else None
        name = "latin" if lang == "en" else lang
        drawn.append((image, located_boxes(image, [truth], found)[0], told, text, name, ratio))
        if junk_share and (record["image"], told) not in searched:
            searched.add((record["image"], told))
            inks = [[v * record["scale"] for v in line["ink"]] for line in pages.pages[page]["lines"] if line["ink"]]
            junk += [(image, box, told, "", name, record["ratio"])
                     for box in boxes_without_text(find_lines(image) if found is None else found, inks)]
    wanted = min(round(count * junk_share), len(junk))
    if wanted:
        chosen = rng.choice(len(junk), size=wanted, replace=False)
        drawn[count - wanted:] = [junk[i] for i in chosen]
    return drawn


def junk_read_share(model, lines, sigmas):
    """The share of ``lines`` (normalised crops of boxes holding no text) that ``model`` reads as
    some text, greedily."""
    return round(float(np.mean([bool(reading.strip()) for reading in greedy_readings(model, lines, sigmas)])), 4)


def reader_batch(seed, step, batch_size, sigma_dropout=0.35, korean_weight=0.15, locate_with="", paragraph_share=0.0,
                 layouts="", layout_share=0.0, junk_share=0.0, document_share=0.0):
    """The reader's: blurred lines cropped where ``/v1/read`` would find them (``found_boxes``),
    some read blind, ``paragraph_share`` of them cut from blurred paragraphs with their neighbours'
    blur in them and ``document_share`` from document-like ones, ``layout_share`` of them lines of the
    ``layouts`` folder's train families (``junk_share`` of those boxes holding no text, read as nothing) ->
    (normalised lines, sigmas in normalised px (-1 unknown), texts, langs, sigma / font size)."""
    weights = language_weights(READER_CHARSET, korean_weight)
    line_config = ReadingLineConfig(lang_weights=weights)
    lines, sigmas, texts, langs, ratios = [], [], [], [], []

    def add_located(image, box, told, text, lang, ratio):
        normalised, normalised_sigma = line_input(image, box, told)
        lines.append(normalised)
        sigmas.append(normalised_sigma)
        texts.append(text)
        langs.append(lang)
        ratios.append(ratio)

    def add(image, truth, text, lang, sigma, px, index):
        add_located(image, *crop_as_read(seed, index, image, truth, sigma, sigma_dropout, locate_with), text, lang,
                    sigma / px)

    drawn_paragraphs = batch_paragraph_lines(seed, step, batch_size, _READER_CHARS, weights, paragraph_share,
                                             document_share)
    for drawn in drawn_paragraphs:
        add(*drawn)
    from_paragraphs = len(drawn_paragraphs)
    from_layouts = round(batch_size * layout_share) if layouts else 0
    for drawn in layout_draws(layouts, "train", _READER_CHARS, seed, step, from_layouts, sigma_dropout, locate_with,
                              korean_weight, junk_share) if from_layouts else ():
        add_located(*drawn)
    for i in range(from_paragraphs + from_layouts, batch_size):
        index = step * batch_size + i
        line = make_reading_line(seed, index, _READER_CHARS, line_config)
        add(line.blurred, line.box, line.text, line.lang, line.sigma, line.px, index)
    return lines, torch.tensor(sigmas), texts, langs, ratios


def layout_validation_set(config):
    """The reader's validation lines of the ``val_layouts`` folder's tune families, each line alike."""
    draws = layout_draws(config.val_layouts, "tune", _READER_CHARS, VAL_SEED, 0, config.val_layout_lines,
                         config.sigma_dropout, config.locate_with)
    lines, sigmas, texts, langs, ratios = zip(*[(*line_input(image, box, told), text, lang, ratio)
                                                for image, box, told, text, lang, ratio in draws])
    return list(lines), torch.tensor(sigmas), list(texts), list(langs), list(ratios)


def junk_validation_set(config):
    """(normalised crops, sigmas) of the boxes holding no text that the finder finds in the
    ``val_layouts`` tune captures of the validation's draws (``layout_draws``' junk), or None."""
    draws = layout_draws(config.val_layouts, "tune", _READER_CHARS, VAL_SEED, 0, config.val_layout_lines,
                         config.sigma_dropout, config.locate_with, junk_share=1.0)
    crops = [line_input(image, box, told) for image, box, told, text, _, _ in draws if not text]
    if not crops:
        return None
    lines, sigmas = zip(*crops)
    return list(lines), torch.tensor(sigmas)


def task_batch(config, seed, step, batch_size):
    if config.task == "reader":
        return reader_batch(seed, step, batch_size, config.sigma_dropout, config.korean_weight, config.locate_with,
                            config.paragraph_share, config.layouts, config.layout_share, config.junk_share,
                            config.document_share)[:4]
    return line_batch(seed, step, batch_size)


def validation_set(config):
    if config.task == "reader":
        return reader_batch(VAL_SEED, 0, config.val_lines, config.sigma_dropout, config.korean_weight,
                            config.locate_with, config.paragraph_share)
    return (*line_batch(VAL_SEED, 0, config.val_lines), None)


@torch.no_grad()
def greedy_readings(model, lines, sigmas):
    """``model``'s greedy reading of each normalised line (``sigmas``: one per line, or None)."""
    was_training = model.training
    model.eval()
    readings = []
    for i in range(0, len(lines), 64):
        batch, lengths = collate_lines(lines[i:i + 64])
        logits = model(batch, None if sigmas is None else sigmas[i:i + 64])
        readings += [decode(row[:n], model.config.charset) for row, n in zip(logits.argmax(-1), lengths)]
    model.train(was_training)
    return readings


def evaluate_lines(model, lines, sigmas, texts, langs, ratios=None):
    """CER (models.evaluation.ocr.cer, mean over lines, greedy decoding) per language, per sigma /
    font size bucket where known, and over all."""
    readings = greedy_readings(model, lines, sigmas)
    scores, report = {}, {}
    for index, (reading, text, lang) in enumerate(zip(readings, texts, langs)):
        score = cer(reading, text, OCR_LANG[lang])
        scores.setdefault(lang, []).append(score)
        if ratios is not None:
            low, high = next(b for b in RATIO_BUCKETS if b[0] <= ratios[index] < b[1] or b[1] == 0.5)
            scores.setdefault(f"r{low:.1f}-{high:.1f}", []).append(score)
    report = {key: round(float(np.mean(v)), 4) for key, v in sorted(scores.items())}
    report["all"] = round(float(np.mean([s for lang in set(langs) for s in scores[lang]])), 4)
    return report


def build_or_resume(config):
    """(model, optimizer, first step) from nothing, a warm start or a resumed run (which rebuilds
    the run's own net from its checkpoint, whatever the reader's default shape is now)."""
    payload = read_checkpoint(config.resume) if config.resume else None
    if payload is not None:
        model = build_recognizer(**{k: v for k, v in payload["config"].items() if k != "name"})
    else:
        defaults = READER_DEFAULTS if config.task == "reader" else {}
        model = build_recognizer(**{**defaults, **config.model_overrides})
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if payload is not None:
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        return model, optimizer, int(payload["step"])
    if config.init_from:
        grown = load_widened(model, read_checkpoint(config.init_from)["model"])
        print(f"warm start from {config.init_from}: {len(grown)} tensors widened", flush=True)
    return model, optimizer, 0


def ctc_step(model, optimizer, lr, precision, inputs, lengths, texts):
    """One optimiser step on a batch's CTC loss (``model(*inputs)`` -> per-column logits); returns the loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits = model(*inputs)
    loss = ctc_loss(logits, lengths, texts, model.config.charset)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    return loss.item()


def run_steps(model, optimizer, loader, config, start_step, validate, save_last):
    """The loop of a CTC run: one ``ctc_step`` per ``(inputs, lengths, texts)`` the loader yields;
    every ``config.log_every`` steps, at the end and when ``config.max_minutes`` is up, a log line
    with ``validate()``'s report and ``save_last(step, report, minutes)``. Returns (steps done,
    minutes)."""
    model.train()
    started, window, done = time.time(), 0.0, start_step
    bar = tqdm(total=config.steps, initial=start_step, mininterval=10, dynamic_ncols=True)
    for step, (inputs, lengths, texts) in enumerate(loader, start=start_step):
        window += ctc_step(model, optimizer, lr_at(step, config), config.precision, inputs, lengths, texts)
        done = step + 1
        bar.update(1)
        out_of_time = bool(config.max_minutes) and time.time() - started > config.max_minutes * 60
        if done % config.log_every == 0 or done == config.steps or out_of_time:
            n = (done - 1) % config.log_every + 1
            rate = (done - start_step) / (time.time() - started)
            report = validate()
            tqdm.write(f"step {done} ctc {window / n:.4f} lr {lr_at(step, config):.2e} {rate:.2f} step/s "
                       f"val cer {json.dumps(report)}")
            sys.stdout.flush()  # a log file under nohup is block-buffered
            window = 0.0
            save_last(done, report, round((time.time() - started) / 60, 1))
        if out_of_time:
            tqdm.write(f"stopped after {config.max_minutes:g} minutes at step {done}")
            break
    bar.close()
    return done, round((time.time() - started) / 60, 1)


def worker_steps(first_step, steps):
    """The steps of a run from ``first_step`` that this DataLoader worker draws: every n-th, from
    ``first_step`` + its id (all of them outside a worker). The loader takes its n workers' batches
    in turn, so the trainer still gets each step once and in order, however many draw them."""
    info = torch.utils.data.get_worker_info()
    return range(first_step, steps) if info is None else range(first_step + info.id, steps, info.num_workers)


class StepBatches(torch.utils.data.IterableDataset):
    """Batches ``first_step``, ``first_step + 1``, ... of a run, for DataLoader workers to draw
    while the trainer computes."""

    def __init__(self, config, first_step):
        super().__init__()
        self.config, self.first_step = config, first_step

    def __iter__(self):
        for step in worker_steps(self.first_step, self.config.steps):
            lines, sigmas, texts, _ = task_batch(self.config, self.config.seed, step, self.config.batch_size)
            batch, lengths = collate_lines(lines)
            yield (batch, sigmas), lengths, texts


def main(argv=None):
    config = parse_config(argv, RecognizerTrainConfig, __doc__)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    if config.layout_share and not config.layouts:
        raise SystemExit("--layout-share needs --layouts (a Chromium layouts folder)")
    model, optimizer, start_step = build_or_resume(config)
    val = validation_set(config)
    val_layout = layout_validation_set(config) if config.val_layouts else None
    val_junk = junk_validation_set(config) if config.val_layouts else None

    def validate():
        report = evaluate_lines(model, *val)
        if val_layout:
            report.update({f"layouts {k}": v for k, v in evaluate_lines(model, *val_layout).items()})
        if val_junk:
            report["layouts junk read"] = junk_read_share(model, *val_junk)
        return report

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{config.task} {n_params / 1e6:.3f} M params, {len(model.config.charset) + 1} classes, "
          f"steps {start_step}->{config.steps}, batch {config.batch_size}, {config.threads} thread(s), "
          f"{config.workers} data worker(s)", flush=True)
    loader = torch.utils.data.DataLoader(StepBatches(config, start_step), batch_size=None,
                                         num_workers=config.workers, prefetch_factor=4 if config.workers else None)

    def save_last(done, report, minutes):
        save_checkpoint(out / "last.pt", model, optimizer, step=done, extra={"train": asdict(config)})

    done, minutes = run_steps(model, optimizer, loader, config, start_step, validate, save_last)
    export = Path(config.export) if config.export else out / f"{config.task}.pt"
    model.eval()
    save_checkpoint(export, model, step=done, half=True,
                    extra={"train": asdict(config), "minutes": minutes,
                           "val_cer": evaluate_lines(load_half(model), *val)})
    print(f"exported {export}", flush=True)
    return model


def load_half(model):
    """A copy of ``model`` with its weights rounded through fp16, as the exported checkpoint holds them."""
    copy = build_recognizer(**{k: v for k, v in asdict(model.config).items() if k != "name"})
    copy.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    return copy.eval()


if __name__ == "__main__":
    main()
