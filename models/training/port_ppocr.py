"""Port PP-OCRv6 small's recogniser from its ONNX file into ``models.reading.svtr_lcnet``, the head
pruned to the classes the reader reads (new classes start untrained), and check the port against
onnxruntime on the same lines.

    pip download --no-deps rapidocr==3.10.0 -d runs/wheels     # Apache-2.0 weights inside the wheel
    python -m models.training.port_ppocr runs/wheels/rapidocr-3.10.0-py3-none-any.whl --out runs/ppocr/ported.pt

Training-time only: it needs the ``onnx`` package (and ``onnxruntime`` for the check); the product
loads the ported checkpoint with torch alone.
"""
import argparse
import zipfile
from pathlib import Path

import numpy as np
import torch

from models import save_checkpoint
from models.reading.svtr_lcnet import HEIGHT, build_svtr_lcnet

WHEEL_MEMBER = "rapidocr/models/PP-OCRv6_rec_small.onnx"
ORIGIN = ("PP-OCRv6_rec_small (PaddlePaddle/PaddleOCR, Apache-2.0), as shipped in PyPI rapidocr 3.10.0's wheel "
          f"({WHEEL_MEMBER})")
# ONNX initialisers that are weights; the rest are shapes and scalar constants of the graph
WEIGHT_PREFIXES = ("conv2d_", "p2o.pd_op.reshape.", "batch_norm2d_", "linear_", "helper.reshape.")


def load_onnx(path):
    """The ONNX model from an .onnx file or from inside rapidocr's wheel."""
    import onnx
    path = Path(path)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return onnx.load_from_string(wheel.read(WHEEL_MEMBER))
    return onnx.load(str(path))


def onnx_charset(model_proto):
    """The net's classes after the CTC blank: its dictionary (ONNX metadata), then the space."""
    meta = {prop.key: prop.value for prop in model_proto.metadata_props}
    return meta["character"].split("\n") + [" "]


def onnx_weights(model_proto):
    """The graph's weight initialisers in the order its nodes first use them."""
    from onnx import numpy_helper
    initialisers = {t.name: t for t in model_proto.graph.initializer}
    ordered, seen = [], set()
    for node in model_proto.graph.node:
        for name in node.input:
            if name in initialisers and name not in seen and name.startswith(WEIGHT_PREFIXES):
                seen.add(name)
                ordered.append((name, numpy_helper.to_array(initialisers[name])))
    return ordered


def head_rows(source_charset, charset):
    """For each class of ``charset`` (blank first), its row in the source head, or -1 for a new class."""
    index = {ch: i + 1 for i, ch in enumerate(source_charset)}
    return [0] + [index.get(ch, -1) for ch in charset]


def ported_state(model_proto, model):
    """``model``'s state dict with the ONNX weights copied in, in graph order. Conv and linear
    biases are the Adds after them; MatMul weights are (in, out); the first conv reads BGR, ours RGB."""
    weights = onnx_weights(model_proto)
    state = model.state_dict()
    keys = [k for k in state if not k.endswith("num_batches_tracked")]
    if len(keys) != len(weights):
        raise ValueError(f"the ONNX graph has {len(weights)} weight tensors, the net {len(keys)}")
    rows = head_rows(onnx_charset(model_proto), model.config.charset)
    out = dict(state)
    for key, (name, value) in zip(keys, weights):
        tensor = torch.from_numpy(value.copy())
        if name.startswith("linear_") and tensor.dim() == 2:
            tensor = tensor.t()
        if key == "stem.first.weight":
            tensor = tensor.flip(1)
        if key.startswith("classifier."):
            tensor = pruned_head(tensor, rows, state[key])
        tensor = tensor.reshape(state[key].shape) if tensor.numel() == state[key].numel() else tensor
        if tensor.shape != state[key].shape:
            raise ValueError(f"{key}: ONNX {name} has shape {tuple(value.shape)}, the net {tuple(state[key].shape)}")
        out[key] = tensor.float()
    return out


def pruned_head(source, rows, fresh):
    """The source head's rows for our classes; a new class keeps its fresh weights and starts at the
    lowest bias of the known ones, so it is not read until training teaches it."""
    rows = torch.tensor(rows)
    known = rows >= 0
    head = fresh.clone()
    head[known] = source[rows[known]]
    if source.dim() == 1:
        head[~known] = source.min()
    return head


def compare_with_onnxruntime(model_proto, model, widths=(160, 320, 560), seed=0):
    """The largest difference of the port's softmax from onnxruntime's over random-content lines
    (the ONNX net's classes restricted to the port's)."""
    import onnxruntime
    session = onnxruntime.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = np.array(head_rows(onnx_charset(model_proto), model.config.charset))
    known = rows >= 0
    rng = np.random.default_rng(seed)
    worst = 0.0
    for width in widths:
        rgb = rng.uniform(-1, 1, size=(1, 3, HEIGHT, width)).astype(np.float32)
        theirs = session.run(None, {session.get_inputs()[0].name: rgb[:, ::-1].copy()})[0][0]
        with torch.no_grad():
            ours = model(torch.from_numpy(rgb)).softmax(-1)[0].numpy()
        # both renormalised over the classes the port keeps
        theirs = theirs[:, rows[known]] / theirs[:, rows[known]].sum(-1, keepdims=True)
        ours = ours[:, known] / ours[:, known].sum(-1, keepdims=True)
        worst = max(worst, float(np.abs(theirs - ours).max()))
    return worst


def port(source, charset):
    """(model, ONNX model) with the pretrained weights ported and the head pruned to ``charset``."""
    model_proto = load_onnx(source)
    model = build_svtr_lcnet(charset=charset)
    model.load_state_dict(ported_state(model_proto, model))
    return model.eval(), model_proto


def main(argv=None):
    from models.reading.recognizer import READER_CHARSET
    from models.reading.routing import without_hangul
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="rapidocr's wheel, or the .onnx file itself")
    parser.add_argument("--out", default="runs/ppocr/ported.pt")
    args = parser.parse_args(argv)
    model, model_proto = port(args.source, without_hangul(READER_CHARSET))
    rows = head_rows(onnx_charset(model_proto), model.config.charset)
    new = [ch for ch, row in zip(model.config.charset, rows[1:]) if row < 0]
    print(f"{len(model.config.charset)} classes, {len(new)} new: {''.join(new)[:80]!r}")
    try:
        print(f"largest difference from onnxruntime (softmax): {compare_with_onnxruntime(model_proto, model):.2e}")
    except ImportError:
        print("onnxruntime is not installed: the port was not checked")
    save_checkpoint(args.out, model, extra={"origin": ORIGIN})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
