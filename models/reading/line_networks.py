"""The recognition stage: a line network and how to feed it, behind one interface, so the pipeline
can read with either (or both) of them.

- ``CrnnLines``: the reader (``models.reading.recognizer``), grey height-32 lines told sigma; it reads Hangul.
- ``SvtrLines``: PP-OCRv6 small fine-tuned on our blurred lines (``models.reading.svtr_lcnet``),
  RGB height-48 lines, blind; no Hangul.

``network.log_probs(image, boxes, sigma)`` gives each line's (T, C) CTC log-probabilities over
``network.charset`` (class 0 the blank); ``network.power`` maps its probabilities to measured
accuracy (``models.training.calibrate_reader``).
"""
import torch

from models import CHECKPOINT_DIR, CheckpointError, fp32_state, read_checkpoint
from models.nets.common import resolve_precision
from models.reading import recognizer, svtr_lcnet

DEFAULT_SVTR = CHECKPOINT_DIR / "svtr_reader.pt"
DEFAULT_KOREAN_SVTR = CHECKPOINT_DIR / "svtr_korean.pt"  # an SVTR with Hangul, beside the reader on Korean lines
BATCH_LINES = 16  # lines of similar width are run together: little padding


def _power(payload):
    return float(payload["extra"].get("calibration", {}).get("power", 1.0))


def _by_width(count, widths):
    order = sorted(range(count), key=lambda i: widths[i])
    return [order[start:start + BATCH_LINES] for start in range(0, count, BATCH_LINES)]


class CrnnLines:
    def __init__(self, payload, path, device="cpu"):
        self.model = recognizer.recognizer_from_payload(payload, path, device)
        if not self.model.config.sigma_input:
            raise CheckpointError(f"{path} is a sharp-text recogniser, not a reader")
        self.charset = self.model.config.charset
        self.power = _power(payload)
        self.device = device

    def log_probs(self, image, boxes, sigma=None):
        inputs = [recognizer.line_input(image, box, sigma) for box in boxes]
        return self.lines_log_probs([line for line, _ in inputs], [s for _, s in inputs])

    @torch.no_grad()
    def lines_log_probs(self, lines, sigmas):
        """Per-line (T_i, C) log-probabilities of normalised lines (``recognizer.line_input``'s) and their sigmas."""
        results = [None] * len(lines)
        for chunk in _by_width(len(lines), [line.shape[-1] for line in lines]):
            batch, lengths = recognizer.collate_lines([lines[i] for i in chunk])
            told = torch.tensor([float(sigmas[i]) for i in chunk], dtype=torch.float32)
            logits = self.model(batch.to(self.device), told.to(self.device)).float().log_softmax(-1).cpu().numpy()
            for row, i, n in zip(logits, chunk, lengths.tolist()):
                results[i] = row[:n]
        return results


class SvtrLines:
    def __init__(self, payload, path, device="cpu", precision="auto"):
        config = dict(payload["config"])
        if config.pop("name", None) != svtr_lcnet.SvtrLcnetConfig.name:
            raise CheckpointError(f"{path} is not an SVTR-LCNet checkpoint")
        try:
            self.model = svtr_lcnet.build_svtr_lcnet(**config)
            self.model.load_state_dict(fp32_state(payload["model"]))
        except (TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: {exc}") from exc
        # channels_last and, where the CPU or GPU does bf16 natively, bf16 autocast: 0.42 -> 0.21 s for eight
        # 768-column lines on 2 cores (session 10), the same best path
        self.model.to(device, memory_format=torch.channels_last).eval()
        self.precision = resolve_precision(precision, torch.device(device).type)
        self.charset = self.model.config.charset
        self.power = _power(payload)
        self.device = device

    def log_probs(self, image, boxes, sigma=None):
        return self.lines_log_probs([svtr_lcnet.line_input(image, box, sigma) for box in boxes])

    @torch.no_grad()
    def lines_log_probs(self, lines, sigmas=None):
        """Per-line (T_i, C) log-probabilities of normalised lines (``svtr_lcnet.line_input``'s); blind."""
        results = [None] * len(lines)
        for chunk in _by_width(len(lines), [line.shape[-1] for line in lines]):
            batch, lengths = svtr_lcnet.collate_lines([lines[i] for i in chunk])
            batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
            with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                logits = self.model(batch, lengths.to(self.device))
            logits = logits.float().log_softmax(-1).cpu().numpy()
            for row, i, n in zip(logits, chunk, lengths.tolist()):
                results[i] = row[:n]
        return results


NETWORKS = {recognizer.TextRecognizerConfig.name: CrnnLines, svtr_lcnet.SvtrLcnetConfig.name: SvtrLines}


def load_line_network(path, device="cpu"):
    """The line network a checkpoint holds, whichever kind it is."""
    payload = read_checkpoint(path)
    kind = payload["config"].get("name")
    if kind not in NETWORKS:
        raise CheckpointError(f"{path} holds {kind!r}, not a line recogniser")
    return NETWORKS[kind](payload, path, device)
