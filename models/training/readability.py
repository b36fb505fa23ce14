"""The readability loss: a frozen text recogniser's CTC loss on restored line crops, a term the
deblurring trainer adds to its pixel loss."""
import torch
import torch.nn as nn

from models.reading.recognizer import DEFAULT_RECOGNIZER, collate_lines, ctc_loss, load_recognizer, normalize_line


class ReadabilityLoss(nn.Module):
    """CTC loss of a frozen recogniser on restored line crops: low when the crop reads as its label.

    ``forward(restored, labels)``: ``restored`` is (N, 3, H, W) RGB in [0, 1] or a list of
    (3, H_i, W_i) crops; ``labels`` the N texts. Returns the mean over lines of the per-character
    CTC loss, differentiable w.r.t. ``restored``; the recogniser's weights never change."""

    def __init__(self, recognizer):
        super().__init__()
        self.recognizer = recognizer.eval()
        for parameter in self.recognizer.parameters():
            parameter.requires_grad_(False)

    @classmethod
    def from_checkpoint(cls, path=DEFAULT_RECOGNIZER, device="cpu"):
        return cls(load_recognizer(path, device))

    def train(self, mode=True):
        super().train(mode)
        self.recognizer.eval()  # frozen: batch-norm statistics stay those it was trained with
        return self

    def forward(self, restored, labels):
        if len(restored) != len(labels):
            raise ValueError(f"{len(restored)} line crops but {len(labels)} labels")
        batch, lengths = collate_lines([normalize_line(line.clamp(0, 1)) for line in restored])
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN has no backward in eval mode
            logits = self.recognizer(batch)
        return ctc_loss(logits, lengths, labels, self.recognizer.config.charset)
