"""Calibrate a line network's character confidences on synthetic lines it never trained on, and
store the result in its checkpoint: the reader's, or the SVTR-LCNet's (read as the pipeline reads
it, on lines without Hangul).

    python -m models.training.calibrate_reader models/checkpoints/reader.pt [--lines 600]
    python -m models.training.calibrate_reader models/checkpoints/svtr_reader.pt
    python -m models.training.calibrate_reader models/checkpoints/svtr_korean.pt --korean-weight 1

The network's probability for a character (its peak over the columns aligned to it) is mapped
to ``probability ** power``; the smallest power is chosen at which, of the characters then
marked confident (>= 0.9), at most ``target`` are wrong (0.2 %: the dev sets are harder than synthetic lines). Lines come from a seed of their own,
never a training or validation seed, and no dev set is looked at.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from models import read_checkpoint
from models.evaluation.read_eval import character_outcomes
from models.reading.line_networks import SvtrLines
from models.reading.pipeline import CONFIDENT, Reader
from models.reading.recognizer import DEFAULT_READER, READER_CHARSET
from models.training.finetune_svtr import svtr_batch
from models.training.train_recognizer import OCR_LANG, reader_batch

CALIBRATION_SEED = 9_191_919
POWERS = tuple(round(1.0 + 0.25 * i, 2) for i in range(41))  # 1 .. 11


def outcomes_on_synthetic_lines(reader, network, count, seed=CALIBRATION_SEED, korean_weight=0.15):
    """(probability, correct) for every character ``network`` reads through ``reader``'s decoding on
    ``count`` synthetic lines, half of them cropped (and, for the reader, read) blind; for an SVTR
    whose head has Hangul, ``korean_weight`` of them Korean."""
    if isinstance(network, SvtrLines):
        lines, texts, langs, _ = svtr_batch(seed, 0, count, network.charset, sigma_dropout=0.5,
                                            korean_weight=korean_weight)
        log_probs = network.lines_log_probs(lines)
    else:
        lines, sigmas, texts, langs, _ = reader_batch(seed, 0, count, sigma_dropout=0.5)
        log_probs = network.lines_log_probs(lines, sigmas.tolist())
    outcomes = []
    for line_log_probs, text, lang in zip(log_probs, texts, langs):
        reading, confidences, _ = reader.read_line(line_log_probs, network)
        outcomes += character_outcomes(reading, confidences, text, OCR_LANG[lang])
    return outcomes


def fit_power(outcomes, target=0.002):
    """The smallest power whose confident characters are at most ``target`` wrong (the largest tried
    when none is)."""
    probabilities = np.array([p for p, _ in outcomes])
    correct = np.array([ok for _, ok in outcomes])
    for power in POWERS:
        confident = probabilities ** power >= CONFIDENT
        if not confident.any() or 1 - correct[confident].mean() <= target:
            return power
    return POWERS[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--lines", type=int, default=600)
    parser.add_argument("--target", type=float, default=0.002, help="largest share wrong among confident characters")
    parser.add_argument("--korean-weight", type=float, default=0.15,
                        help="the share of Korean lines, for an SVTR whose head has Hangul (1: a Korean SVTR)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    payload = read_checkpoint(args.checkpoint)
    if payload["config"]["name"] == "svtr_lcnet":
        reader = Reader(DEFAULT_READER, svtr=args.checkpoint)
        network = reader.svtr
    else:
        if payload["config"].get("charset") != READER_CHARSET:
            print("note: the checkpoint's charset differs from this code's READER_CHARSET")
        reader = Reader(args.checkpoint)
        network = reader.network
    network.power = 1.0  # raw probabilities in, whatever the checkpoint holds
    outcomes = outcomes_on_synthetic_lines(reader, network, args.lines, korean_weight=args.korean_weight)
    power = fit_power(outcomes, args.target)
    probabilities = np.array([p for p, _ in outcomes]) ** power
    correct = np.array([ok for _, ok in outcomes])
    confident = probabilities >= CONFIDENT
    report = {"power": power, "lines": args.lines, "korean_weight": args.korean_weight, "characters": len(outcomes),
              "confident_share": round(float(confident.mean()), 4),
              "confident_wrong": round(float(1 - correct[confident].mean()), 4) if confident.any() else None,
              "accuracy": round(float(correct.mean()), 4)}
    payload["extra"]["calibration"] = report
    path = Path(args.checkpoint)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic, as models.save_checkpoint writes
    print(report)


if __name__ == "__main__":
    main()
