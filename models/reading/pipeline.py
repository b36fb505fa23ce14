"""Reading a blurred capture: line finding -> recognition -> decoding, with a confidence per
character and a verdict for the whole image.

    reader = Reader()                    # built once, shared by threads: no per-call state
    reading = reader.read(image, sigma)  # image uint8 (H, W, 3); sigma in image px, None = blind
    reading.as_dict()                    # what POST /v1/read answers

The stages are separate and swappable (``find_text_lines``: the learned
``models.reading.line_detector`` when the Reader is given one, as the server gives it the shipped
one, with ``models.reading.line_finder``'s lines it missed, or that rule finder alone; the
recogniser networks; ``models.reading.decode`` with ``models.reading.prior``); plain data passes
between them.
"""
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from models import CheckpointError, read_checkpoint
from models.reading.decode import align, beam_search, character_confidences, greedy, refine_words
from models.reading.hangul import from_jamo, spells_jamo
from models.reading.line_colours import found_extents
from models.reading.line_detector import LineDetector, missed_lines
from models.reading.line_finder import LineBox, find_lines, reading_rows, text_box
from models.reading.line_networks import CrnnLines, SvtrLines, load_line_network
from models.reading.prior import LanguagePrior
from models.reading.recognizer import DEFAULT_READER, encode
from models.reading.routing import has_hangul, path_certainty, reads_as_korean, sure_reading

CONFIDENT = 0.9            # a character at or above this is shown as read; below it, marked uncertain
MIN_LINE_PX = 6            # a line whose ink (tall letters to hanging ones) is shorter than this: a thumbnail, no readable letters (chosen on tune)
MIN_SHARP_PX = 3           # a found line whose sharp text would be thinner than this is a rule or a sliver, not text (tune: 158 such, none over a true line)
READABLE_SHARE = 0.85      # verdict readable: at least this share of the characters confident
UNREADABLE_SHARE = 0.25    # verdict unreadable: fewer than this share confident
UNSURE_LINE = 0.36         # a line none of whose characters the network gives this probability, before calibration, is junk (a sliver, a rule read as text): unread (chosen on tune)
WORD_GAP_EM = 0.9          # cells of a row closer than this many ems are words of one line, split by the blur (chosen on tune)


class LineReading(NamedTuple):
    """One line decoded: its text, each character's calibrated confidence, and the largest
    probability the network gave any of them before calibration (``peak``: what the junk test
    compares, so that a checkpoint's calibration power does not move it)."""
    text: str
    confidences: list
    peak: float


@dataclass
class ReadLine:
    text: str
    box: LineBox
    confidence: list = field(default_factory=list)  # one float 0..1 per character of text
    row: int = None  # lines of one row (a receipt's item and price, a table's cells) share it
    found: LineBox = None  # the box it was found and read in (its blurred ink's extent); ``box`` is its sharp text

    def as_dict(self):
        answer = {"text": self.text, "box": self.box.as_list(), "confidence": [round(c, 4) for c in self.confidence]}
        return answer if self.row is None else {**answer, "row": self.row}


@dataclass
class Reading:
    lines: list
    verdict: str

    @property
    def text(self):
        """The lines in reading order: a tab between the cells of a row, a newline between rows."""
        parts = []
        for previous, line in zip([None] + self.lines, self.lines):
            if previous is not None:
                parts.append("\t" if line.row is not None and line.row == previous.row else "\n")
            parts.append(line.text)
        return "".join(parts)

    def as_dict(self):
        confidences = [c for line in self.lines for c in line.confidence]
        return {"text": self.text, "lines": [line.as_dict() for line in self.lines], "verdict": self.verdict,
                "confident_share": round(confident_share(confidences), 4) if confidences else 0.0}


def find_text_lines(image, sigma=None, detector=None, rules_too=True):
    """Each line of ``image`` as (found, sharp): the box the reader crops around (the blurred ink's
    extent, as ``find_lines`` finds it and as the reader was trained on) and where its sharp text
    lies. With a ``detector`` (a LineDetector): its lines, grown by the blur's spread
    (``line_colours.found_extents``), and with ``rules_too`` those ``find_lines`` finds that it
    missed; without, ``find_lines``' lines. A line whose sharp text would be thinner than
    ``MIN_SHARP_PX`` is a rule or a row of dashes, not text, and is left out."""
    if detector is None:
        lines = [(box, text_box(box, sigma)) for box in find_lines(image)]
    else:
        boxes = detector(image)
        lines = list(zip(found_extents(image, boxes, sigma), boxes))
        if rules_too:
            missed = missed_lines(find_lines(image), [extent for extent, _ in lines])
            lines = sorted(lines + [(box, text_box(box, sigma)) for box in missed], key=lambda line: (line[0].y, line[0].x))
    return [(found, sharp) for found, sharp in lines if sharp.h >= MIN_SHARP_PX]


def text_ems(text):
    """How many ems ``text`` is wide, roughly: a wide (CJK) character one, any other half."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in text)


def enclosing(a, b):
    """The LineBox holding both."""
    x, y = min(a.x, b.x), min(a.y, b.y)
    return LineBox(x, y, max(a.x + a.w, b.x + b.w) - x, max(a.y + a.h, b.y + b.h) - y)


def join_word_gaps(lines, max_gap_em=WORD_GAP_EM):
    """``lines`` (ReadLines in reading order) with neighbours of one row that sit closer than
    ``max_gap_em`` of their text's em (measured from each one's box and text) joined into one line
    with a space: where a strong blur leaves wide word spaces, a line comes back in pieces, which
    would otherwise be copied as a table's cells. Pieces that overlap are left apart. On the tune
    halves, 50 of the dev sets' 54 pieces of split lines were under 0.9 em apart, and 4 of 480 pairs
    of the layouts' table and form cells (EXPERIMENTS 22-8a)."""
    joined = []
    for line in lines:
        previous = joined[-1] if joined else None
        if previous is not None and previous.row is not None and previous.row == line.row:
            em = np.mean([piece.box.w / max(text_ems(piece.text), 0.5) for piece in (previous, line)])
            if 0 <= line.box.x - (previous.box.x + previous.box.w) <= max_gap_em * em:
                space = min(previous.confidence[-1], line.confidence[0])  # the space is as sure as the letters beside it
                found = enclosing(previous.found, line.found) if previous.found and line.found else None
                joined[-1] = ReadLine(previous.text + " " + line.text, enclosing(previous.box, line.box),
                                      previous.confidence + [space] + line.confidence, line.row, found)
                continue
        joined.append(line)
    return joined


def confident_share(confidences):
    return float(np.mean([c >= CONFIDENT for c in confidences])) if confidences else 0.0


def verdict(lines, unread=0):
    """readable, partly or unreadable, from the share of characters read confidently; ``unread``
    lines (the finder saw them, but too small to read, or read as junk) count as unread text."""
    confidences = [c for line in lines for c in line.confidence]
    if not confidences:
        return "unreadable"
    share = confident_share(confidences)
    if unread:
        share *= len(lines) / (len(lines) + unread)
    if share >= READABLE_SHARE:
        return "readable"
    return "partly" if share >= UNREADABLE_SHARE else "unreadable"


class Reader:
    """The reading pipeline around the reader checkpoint and, when one is given, the SVTR-LCNet.
    An SVTR whose head has Hangul reads every line; one without it reads the lines it reads surely
    and those the reader does not read as Korean (``models.reading.routing``). ``korean_to_reader`` keeps Korean lines with the
    reader even when the SVTR has Hangul (for A/B runs). ``korean_svtr``: an SVTR whose head has Hangul
    reads the lines routed as Korean beside the reader (which still routes them): each such line is
    read by whichever of the two is the more certain of it (``routing.path_certainty``, calibrated)."""

    def __init__(self, checkpoint=DEFAULT_READER, device="cpu", prior=None, beam_width=8, max_lines=200,
                 refine=True, svtr=None, korean_to_reader=False, detector=None, rules_too=True, korean_svtr=None):
        self.detector = LineDetector(detector, precision="auto") if detector else None
        self.rules_too = rules_too  # with a detector, also read the lines find_lines finds where it found none
        self.network = CrnnLines(read_checkpoint(checkpoint), checkpoint, device)
        self.svtr = load_line_network(svtr, device) if svtr else None
        if self.svtr is not None and not isinstance(self.svtr, SvtrLines):
            raise CheckpointError(f"{svtr} is not an SVTR-LCNet checkpoint")
        self.svtr_reads_all = self.svtr is not None and has_hangul(self.svtr.charset) and not korean_to_reader
        self.korean_svtr = load_line_network(korean_svtr, device) if korean_svtr else None
        if self.korean_svtr is not None and not (isinstance(self.korean_svtr, SvtrLines)
                                                 and has_hangul(self.korean_svtr.charset)):
            raise CheckpointError(f"{korean_svtr} is not an SVTR-LCNet checkpoint whose head has Hangul")
        self.prior = LanguagePrior() if prior is None else prior
        self.beam_width = beam_width
        self.max_lines = max_lines
        self.refine = refine  # uncertain words weighed against the lexicon words near them (decode.refine_words)

    def read_line(self, log_probs, network=None):
        """The ``LineReading`` of one line from ``network``'s log-probabilities (the reader's by default)."""
        network = network or self.network
        text = beam_search(log_probs, network.charset, self.prior, self.beam_width)[0][0].strip()
        spans = align(log_probs, encode(text, network.charset))  # once, for the confidences and the refinement
        confidences = self.confidences(log_probs, text, network, spans)
        if self.refine and text:
            refined = refine_words(log_probs, text, confidences, lambda t: encode(t, network.charset), self.prior,
                                   CONFIDENT, spans=spans)
            if refined != text:
                text, confidences = refined, self.confidences(log_probs, refined, network)
        if spells_jamo(network.charset):  # Hangul read letter by letter: composed into syllables
            text, confidences = from_jamo(text, confidences)
        return LineReading(text, confidences, max(confidences, default=0.0) ** (1 / network.power))

    def confidences(self, log_probs, text, network=None, spans=None):
        """Each character's calibrated confidence: the network's probability at its aligned columns
        (``spans``: ``text``'s alignment, where the caller has it)."""
        network = network or self.network
        labels = encode(text, network.charset)
        spans = align(log_probs, labels) if spans is None else spans
        if spans is None:
            return [0.0] * len(text)
        return [c ** network.power for c in character_confidences(np.exp(log_probs), labels, spans)]

    def read_boxes(self, image, boxes, sigma=None):
        """The ``LineReading`` of each box: the SVTR's when it reads every line; otherwise the
        SVTR's where it reads the line surely or the reader's best path is not mostly Hangul
        (``reads_as_korean``), the reader's elsewhere (the reader runs only on the lines the SVTR
        is unsure of; only the network that reads a line decodes it). With a Korean SVTR, a Korean
        line is its reading where its best path is as certain as the reader's, calibrated, or more."""
        if self.svtr_reads_all:
            return [self.read_line(log_probs, self.svtr) for log_probs in self.svtr.log_probs(image, boxes, sigma)]
        if self.svtr is None:
            return [self.read_line(log_probs) for log_probs in self.network.log_probs(image, boxes, sigma)]
        svtrs = self.svtr.log_probs(image, boxes, sigma)
        unsure = [i for i, log_probs in enumerate(svtrs) if not sure_reading(log_probs, self.svtr.charset)]
        readers = dict(zip(unsure, self.network.log_probs(image, [boxes[i] for i in unsure], sigma) if unsure else []))
        korean = [i for i, log_probs in readers.items() if reads_as_korean(greedy(log_probs, self.network.charset))]
        network_of = {i: self.network for i in korean}
        if self.korean_svtr is not None and korean:
            for i, log_probs in zip(korean, self.korean_svtr.log_probs(image, [boxes[i] for i in korean], sigma)):
                if path_certainty(log_probs, self.korean_svtr.power) >= path_certainty(readers[i], self.network.power):
                    readers[i], network_of[i] = log_probs, self.korean_svtr
        return [self.read_line(readers[i], network_of[i]) if i in korean else self.read_line(svtrs[i], self.svtr)
                for i in range(len(boxes))]

    def find(self, image, sigma=None):
        return find_text_lines(image, sigma, self.detector, self.rules_too)

    def read(self, image, sigma=None):
        """Read every line of ``image`` (uint8 (H, W, 3)); ``sigma`` is the blur in image pixels."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
            raise ValueError("expected a uint8 (H, W, 3) image")
        found = self.find(image, sigma)[:self.max_lines]
        sharp_of = dict(found)
        rows = reading_rows([box for box, _ in found if box.h >= MIN_LINE_PX])
        boxes = [box for row in rows for box in row]
        row_of = [index for index, row in enumerate(rows) for _ in row]
        lines, unread = [], len(found) - len(boxes)
        for box, row, (text, confidences, peak) in zip(boxes, row_of,
                                                       self.read_boxes(image, boxes, sigma) if boxes else []):
            if not text:
                continue
            if peak < UNSURE_LINE:  # never copied as text, but the verdict knows text was there
                unread += 1
                continue
            lines.append(ReadLine(text, sharp_of[box], confidences, row, box))
        lines = join_word_gaps(lines)
        return Reading(lines, verdict(lines, unread=unread))
