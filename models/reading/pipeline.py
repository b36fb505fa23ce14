"""Reading a blurred capture: line finding -> recognition -> decoding, with a confidence per
character and a verdict for the whole image.

    reader = Reader()                    # built once, shared by threads: no per-call state
    reading = reader.read(image, sigma)  # image uint8 (H, W, 3); sigma in image px, None = blind
    reading.as_dict()                    # what POST /v1/read answers

The stages are separate and swappable (``models.reading.line_finder``, the recogniser network,
``models.reading.decode`` with ``models.reading.prior``); plain data passes between them.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from models import CheckpointError, read_checkpoint
from models.reading.decode import align, beam_search, character_confidences, refine_words
from models.reading.line_finder import LineBox, find_lines, text_box
from models.reading.prior import LanguagePrior
from models.reading.recognizer import DEFAULT_READER, collate_lines, encode, line_input, recognizer_from_payload

CONFIDENT = 0.9            # a character at or above this is shown as read; below it, marked uncertain
MIN_LINE_PX = 8            # a line whose ink (tall letters to hanging ones) is shorter than this: a thumbnail, no readable letters
READABLE_SHARE = 0.85      # verdict readable: at least this share of the characters confident
UNREADABLE_SHARE = 0.25    # verdict unreadable: fewer than this share confident


@dataclass
class ReadLine:
    text: str
    box: LineBox
    confidence: list = field(default_factory=list)  # one float 0..1 per character of text

    def as_dict(self):
        return {"text": self.text, "box": self.box.as_list(), "confidence": [round(c, 4) for c in self.confidence]}


@dataclass
class Reading:
    lines: list
    verdict: str

    @property
    def text(self):
        return "\n".join(line.text for line in self.lines)

    def as_dict(self):
        confidences = [c for line in self.lines for c in line.confidence]
        return {"text": self.text, "lines": [line.as_dict() for line in self.lines], "verdict": self.verdict,
                "confident_share": round(confident_share(confidences), 4) if confidences else 0.0}


def confident_share(confidences):
    return float(np.mean([c >= CONFIDENT for c in confidences])) if confidences else 0.0


def verdict(lines, too_small=0):
    """readable, partly or unreadable, from the share of characters read confidently; lines the
    finder saw but were too small to read count as unread text."""
    confidences = [c for line in lines for c in line.confidence]
    if not confidences:
        return "unreadable"
    share = confident_share(confidences)
    if too_small:
        share *= len(lines) / (len(lines) + too_small)
    if share >= READABLE_SHARE:
        return "readable"
    return "partly" if share >= UNREADABLE_SHARE else "unreadable"


class Reader:
    """The reading pipeline around one reader checkpoint."""

    def __init__(self, checkpoint=DEFAULT_READER, device="cpu", prior=None, beam_width=8, max_lines=200,
                 refine=True):
        payload = read_checkpoint(checkpoint)
        self.model = recognizer_from_payload(payload, checkpoint, device)
        if not self.model.config.sigma_input:
            raise CheckpointError(f"{checkpoint} is a sharp-text recogniser, not a reader")
        # confidence ** power maps the network's probabilities to measured accuracy (calibrate_reader)
        self.confidence_power = float(payload["extra"].get("calibration", {}).get("power", 1.0))
        self.device = device
        self.prior = LanguagePrior() if prior is None else prior
        self.beam_width = beam_width
        self.max_lines = max_lines
        self.refine = refine  # uncertain words weighed against the lexicon words near them (decode.refine_words)

    def log_probs(self, image, boxes, sigma=None):
        """Per-line (T_i, C) log-probabilities of the reader for ``boxes`` of ``image``."""
        inputs = [line_input(image, box, sigma) for box in boxes]
        return self.lines_log_probs([line for line, _ in inputs], [s for _, s in inputs])

    @torch.no_grad()
    def lines_log_probs(self, lines, sigmas):
        """Per-line (T_i, C) log-probabilities of normalised lines (``line_input``'s) and their sigmas."""
        order = sorted(range(len(lines)), key=lambda i: lines[i].shape[-1])
        results = [None] * len(lines)
        for start in range(0, len(order), 16):  # lines of similar width together: little padding
            chunk = order[start:start + 16]
            batch, lengths = collate_lines([lines[i] for i in chunk])
            told = torch.tensor([float(sigmas[i]) for i in chunk], dtype=torch.float32)
            logits = self.model(batch.to(self.device), told.to(self.device)).float().log_softmax(-1).cpu().numpy()
            for row, i, n in zip(logits, chunk, lengths.tolist()):
                results[i] = row[:n]
        return results

    def read_line(self, log_probs):
        """(text, confidences) of one line from its log-probabilities."""
        charset = self.model.config.charset
        text = beam_search(log_probs, charset, self.prior, self.beam_width)[0][0].strip()
        confidences = self.confidences(log_probs, text)
        if self.refine and text:
            refined = refine_words(log_probs, text, confidences, lambda t: encode(t, charset), self.prior, CONFIDENT)
            if refined != text:
                text, confidences = refined, self.confidences(log_probs, refined)
        return text, confidences

    def confidences(self, log_probs, text):
        """Each character's calibrated confidence: the network's probability at its aligned columns."""
        labels = encode(text, self.model.config.charset)
        spans = align(log_probs, labels)
        if spans is None:
            return [0.0] * len(text)
        return [c ** self.confidence_power for c in character_confidences(np.exp(log_probs), labels, spans)]

    def read(self, image, sigma=None):
        """Read every line of ``image`` (uint8 (H, W, 3)); ``sigma`` is the blur in image pixels."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
            raise ValueError("expected a uint8 (H, W, 3) image")
        found = find_lines(image)[:self.max_lines]
        boxes = [box for box in found if box.h >= MIN_LINE_PX]
        lines = []
        for box, log_probs in zip(boxes, self.log_probs(image, boxes, sigma) if boxes else []):
            text, confidences = self.read_line(log_probs)
            if text:
                lines.append(ReadLine(text, text_box(box, sigma), confidences))
        return Reading(lines, verdict(lines, too_small=len(found) - len(boxes)))
