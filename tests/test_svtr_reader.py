"""The pretrained recogniser's port (SVTR-LCNet from PP-OCRv6's ONNX file), its fine-tuning, and
how the pipeline routes lines between it and the reader."""
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models import CheckpointError, build_model, save_checkpoint
from models.reading.line_networks import CrnnLines, SvtrLines, load_line_network
from models.reading.pipeline import Reader
from models.reading.recognizer import READER_CHARSET
from models.reading.routing import (has_hangul, hangul_share, path_certainty, reads_as_korean, sure_reading,
                                    without_hangul)
from models.reading.svtr_lcnet import HEIGHT, STRIDE, build_svtr_lcnet, collate_lines, normalize_line
from models.training import finetune_svtr, port_ppocr, train_recognizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"stem": (8, 4, 8), "stages": ((8, (1, 0)), (16, (1,))), "neck_dim": 8, "neck_depth": 1, "heads": 2,
        "local_kernel": 3}
WHEEL = Path("runs/wheels/rapidocr-3.10.0-py3-none-any.whl")


def randomised(model, seed=0):
    """``model`` with every weight, bias and batch-norm statistic random, so a misplaced tensor shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=generator) * 0.3
                tensor.copy_(values.abs() + 0.5 if key.endswith("running_var") else values)
    return model.eval()


# --- a PaddleOCR-style ONNX graph of a network, written here, so the port is checked without the wheel ---

class GraphWriter:
    """Writes a net's computation as paddle2onnx does: weights under Paddle's names (conv2d_*,
    linear_*, batch_norm2d_*, biases as p2o.pd_op.reshape.*, layer-norm scales as helper.reshape.*),
    constants under helper.constant.*, and the input in BGR."""

    def __init__(self):
        import onnx
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes, self.initialisers, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def tensor(self, prefix, value, dtype=np.float32):
        name = self.name(prefix)
        self.initialisers.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def constant(self, value, dtype=np.float32):
        return self.tensor("helper.constant.", value, dtype)

    def op(self, op_type, *inputs, **attributes):
        out = self.name(f"{op_type}.")
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attributes))
        return out

    def conv(self, x, conv, auto_pad=None, flip_input=False):
        weight = conv.weight.detach().numpy()
        attributes = {"kernel_shape": list(weight.shape[2:]), "strides": list(conv.stride), "group": conv.groups}
        if auto_pad:
            attributes["auto_pad"] = auto_pad
        else:
            attributes["pads"] = [conv.padding[0], conv.padding[1]] * 2
        w = self.tensor("conv2d_", weight[:, ::-1] if flip_input else weight)
        y = self.op("Conv", x, w, **attributes)
        if conv.bias is not None:
            y = self.op("Add", y, self.tensor("p2o.pd_op.reshape.", conv.bias.detach().numpy().reshape(1, -1, 1, 1)))
        return y

    def gelu(self, x):
        inner = self.op("Erf", self.op("Div", x, self.constant(math.sqrt(2))))
        return self.op("Mul", self.op("Mul", x, self.op("Add", inner, self.constant(1.0))), self.constant(0.5))

    def swish(self, x):
        return self.op("Mul", x, self.op("Sigmoid", x))

    def conv_bn_swish(self, x, block):
        conv, bn, _ = block
        y = self.conv(x, conv)
        params = [self.tensor("batch_norm2d_", t.detach().numpy())
                  for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)]
        return self.swish(self.op("BatchNormalization", y, *params, epsilon=bn.eps))

    def layer_norm(self, x, norm):
        centred = self.op("Sub", x, self.op("ReduceMean", x, axes=[-1]))
        variance = self.op("ReduceMean", self.op("Pow", centred, self.constant(2.0)), axes=[-1])
        normed = self.op("Div", centred, self.op("Sqrt", self.op("Add", variance, self.constant(norm.eps))))
        scaled = self.op("Mul", normed, self.tensor("helper.reshape.", norm.weight.detach().numpy()))
        return self.op("Add", scaled, self.tensor("helper.reshape.", norm.bias.detach().numpy()))

    def linear(self, x, linear):
        y = self.op("MatMul", x, self.tensor("linear_", linear.weight.detach().numpy().T))
        return self.op("Add", y, self.tensor("linear_", linear.bias.detach().numpy()))


def paddle_style_onnx(model, dictionary):
    """An ONNX model computing ``model`` (lengths=None) on BGR input, its classes blank + ``dictionary`` + space."""
    w = GraphWriter()
    stem = model.stem
    x = w.op("Relu", w.conv("x", stem.first, flip_input=True))
    branch = w.op("Relu", w.conv(x, stem.branch_a, auto_pad="SAME_UPPER"))
    branch = w.op("Relu", w.conv(branch, stem.branch_b, auto_pad="SAME_UPPER"))
    pooled = w.op("MaxPool", x, kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_UPPER")
    x = w.op("Relu", w.conv(w.op("Concat", pooled, branch, axis=1), stem.merge))
    x = w.op("Relu", w.conv(x, stem.out))
    height = HEIGHT // 4
    for block in model.blocks:
        x = w.conv(x, block.token)
        height = -(-height // block.token.stride[0])
        if block.se is not None:
            scale = w.op("Relu", w.conv(w.op("ReduceMean", x, axes=[2, 3], keepdims=1), block.se.reduce))
            scale = w.op("HardSigmoid", w.conv(scale, block.se.expand), alpha=1 / 6, beta=0.5)
            x = w.op("Mul", x, scale)
        y = w.conv(w.gelu(w.conv(x, block.widen)), block.narrow)
        x = w.op("Add", x, y) if block.residual else y
    x = w.op("AveragePool", x, kernel_shape=[height, 2], strides=[height, 2])
    shortcut = w.conv_bn_swish(x, model.shortcut)
    x = w.conv_bn_swish(x, model.reduce)
    x = w.op("Add", x, w.conv_bn_swish(x, model.local))
    dim = model.config.neck_dim
    tokens = w.op("Transpose", w.op("Reshape", x, w.constant([0, dim, -1], np.int64)), perm=[0, 2, 1])
    for block in model.neck:
        heads = block.heads
        qkv = w.linear(w.layer_norm(tokens, block.norm1), block.qkv)
        qkv = w.op("Transpose", w.op("Reshape", qkv, w.constant([0, -1, 3, heads, dim // heads], np.int64)),
                   perm=[2, 0, 3, 1, 4])
        q, k, v = (w.op("Gather", qkv, w.constant(i, np.int64), axis=0) for i in range(3))
        q = w.op("Mul", q, w.constant((dim // heads) ** -0.5))
        attention = w.op("Softmax", w.op("MatMul", q, w.op("Transpose", k, perm=[0, 1, 3, 2])), axis=-1)
        mixed = w.op("Transpose", w.op("MatMul", attention, v), perm=[0, 2, 1, 3])
        tokens = w.op("Add", tokens, w.linear(w.op("Reshape", mixed, w.constant([0, -1, dim], np.int64)), block.proj))
        hidden = w.swish(w.linear(w.layer_norm(tokens, block.norm2), block.fc1))
        tokens = w.op("Add", tokens, w.linear(hidden, block.fc2))
    tokens = w.layer_norm(tokens, model.norm)
    columns = w.op("Unsqueeze", w.op("Transpose", tokens, perm=[0, 2, 1]), w.constant([2], np.int64))
    merged = w.op("Squeeze", w.op("Add", columns, shortcut), w.constant([2], np.int64))
    logits = w.linear(w.op("Transpose", merged, perm=[0, 2, 1]), model.classifier)
    probabilities = w.op("Softmax", logits, axis=2)
    graph = w.helper.make_graph(
        w.nodes, "tiny", [w.helper.make_tensor_value_info("x", w.onnx.TensorProto.FLOAT, [None, 3, HEIGHT, None])],
        [w.helper.make_tensor_value_info(probabilities, w.onnx.TensorProto.FLOAT, None)], w.initialisers)
    proto = w.helper.make_model(graph, opset_imports=[w.helper.make_opsetid("", 13)], ir_version=8)
    w.onnx.helper.set_model_props(proto, {"character": "\n".join(dictionary)})
    return proto


def test_the_port_reproduces_an_onnx_graph_written_as_paddle_writes_it():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    dictionary = list("abcdefg")
    source = randomised(build_svtr_lcnet(charset="".join(dictionary) + " ", **TINY))
    proto = paddle_style_onnx(source, dictionary)
    ported = build_svtr_lcnet(charset="bad cz", **TINY)   # reordered, a space, one class the source lacks
    ported.load_state_dict(port_ppocr.ported_state(proto, ported))
    ported.eval()

    assert port_ppocr.compare_with_onnxruntime(proto, ported, widths=(32, 96)) < 1e-4
    new_class = ported.config.charset.index("z") + 1
    assert ported.classifier.bias[new_class] == source.classifier.bias.min()  # not read until trained
    assert torch.equal(ported.classifier.weight[ported.config.charset.index("d") + 1],
                       source.classifier.weight[dictionary.index("d") + 1])


@pytest.mark.slow
@pytest.mark.skipif(not WHEEL.is_file(), reason="rapidocr's wheel is not in runs/wheels (`make test` downloads it)")
def test_the_port_reproduces_pp_ocrv6_small():
    pytest.importorskip("onnxruntime")
    model, proto = port_ppocr.port(WHEEL, without_hangul(READER_CHARSET))
    assert port_ppocr.compare_with_onnxruntime(proto, model, widths=(96, 320)) < 1e-4


def test_the_net_reads_48_high_lines_one_column_per_8_and_refuses_other_shapes():
    model = randomised(build_svtr_lcnet(charset="ab", **TINY))
    assert model(torch.zeros(2, 3, HEIGHT, 64)).shape == (2, 64 // STRIDE, 3)
    with pytest.raises(ValueError, match="height 48"):
        model(torch.zeros(1, 3, 32, 64))
    with pytest.raises(ValueError, match="multiple of 8"):
        model(torch.zeros(1, 3, HEIGHT, 60))


def test_a_line_reads_the_same_alone_and_batched_with_wider_lines():
    model = randomised(build_svtr_lcnet(charset="ab", **TINY), seed=1)
    generator = torch.Generator().manual_seed(2)
    lines = [normalize_line(torch.rand(3, 20, width, generator=generator)) for width in (40, 90, 200)]
    with torch.no_grad():
        batch, lengths = collate_lines(lines)
        together = model(batch, lengths)
        for i, line in enumerate(lines):
            alone = model(*collate_lines([line]))[0]
            assert torch.allclose(alone, together[i, :alone.shape[0]], atol=1e-4)


def test_hangul_is_told_apart_and_left_out_of_the_svtr_charset():
    assert has_hangul("가격은 $5") and has_hangul("ㅋㅋ") and not has_hangul("今日は price 5")
    assert without_hangul("a가b나c") == "abc"


def test_a_reading_is_korean_when_it_is_mostly_hangul():
    assert reads_as_korean("가격은 $5") and reads_as_korean("ㅋㅋ")
    assert not reads_as_korean("今日は가") and not reads_as_korean("price 가")  # a syllable among look-alikes
    assert not reads_as_korean("") and not reads_as_korean("  ")
    assert hangul_share("가 a") == 0.5


@pytest.fixture(scope="module")
def svtr_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("svtr") / "tiny_svtr.pt"
    save_checkpoint(path, build_svtr_lcnet(charset=without_hangul(READER_CHARSET), **TINY))
    return path


def fixed_log_probs(charset, text, certainty=1.0):
    """(T, C) log-probabilities whose best path is ``text``, each character at probability ``certainty``."""
    log_probs = np.full((2 * len(text) + 1, len(charset) + 1), -20.0, np.float32)
    log_probs[::2, 0] = 0.0
    for i, ch in enumerate(text):
        log_probs[2 * i + 1, charset.index(ch) + 1] = np.log(certainty)
    return log_probs


class FixedLines:
    """A line network that gives every line the same log-probabilities: those of ``text``, or of
    ``texts[box]`` for a box named there; each character read at probability ``certainty``."""

    def __init__(self, charset, text, power=1.0, certainty=1.0, texts=None):
        self.charset, self.power = charset, power
        self.line = fixed_log_probs(charset, text, certainty)
        self.lines = {box: fixed_log_probs(charset, *reading) for box, reading in (texts or {}).items()}
        self.calls = []

    def log_probs(self, image, boxes, sigma=None):
        self.calls.append(list(boxes))
        return [self.lines.get(box, self.line) for box in boxes]


@pytest.mark.parametrize("reader_reads, expected", [("가격", "가격"), ("price", "SVTR"), ("今日は가", "SVTR")])
def test_lines_the_reader_reads_as_korean_stay_with_it_the_rest_go_to_the_svtr(
        reader_checkpoint, svtr_checkpoint, reader_reads, expected):
    reader = Reader(reader_checkpoint, svtr=svtr_checkpoint, refine=False)
    reader.network = FixedLines(READER_CHARSET, reader_reads)
    reader.svtr = FixedLines(without_hangul(READER_CHARSET), "SVTR", certainty=0.5)  # unsure: the reader checks
    image = np.zeros((20, 40, 3), np.uint8)
    boxes = ["line one", "line two"]
    assert [line.text for line in reader.read_boxes(image, boxes)] == [expected] * 2
    assert reader.network.calls == [boxes] and reader.svtr.calls == [boxes]


def test_only_the_lines_the_svtr_is_unsure_of_go_through_the_readers_hangul_check(reader_checkpoint, svtr_checkpoint):
    reader = Reader(reader_checkpoint, svtr=svtr_checkpoint, refine=False)
    reader.network = FixedLines(READER_CHARSET, "가격")
    reader.svtr = FixedLines(without_hangul(READER_CHARSET), "SVTR",
                             texts={"unsure": ("SVTR", 0.5), "nothing": ("", 1.0)})
    image = np.zeros((20, 40, 3), np.uint8)
    assert [line.text for line in reader.read_boxes(image, ["sure", "unsure", "also sure", "nothing"])] == \
        ["SVTR", "가격", "SVTR", "가격"]  # a line the SVTR reads as nothing is checked too
    assert reader.network.calls == [["unsure", "nothing"]]
    reader.network.calls.clear()
    assert [line.text for line in reader.read_boxes(image, ["sure", "also sure"])] == ["SVTR"] * 2
    assert reader.network.calls == []  # every line sure: the reader is not run at all


def test_path_certainty_is_the_mean_probability_of_the_best_paths_characters():
    charset = "ab"
    assert path_certainty(fixed_log_probs(charset, "ab", 0.8)) == pytest.approx(0.8)
    assert path_certainty(fixed_log_probs(charset, "", 1.0)) == 0.0 and path_certainty(np.zeros((0, 3))) == 0.0
    mixed = np.concatenate([fixed_log_probs(charset, "a", 1.0), fixed_log_probs(charset, "b", 0.6)])
    assert path_certainty(mixed) == pytest.approx(0.8)
    assert sure_reading(mixed, charset, threshold=0.79) and not sure_reading(mixed, charset, threshold=0.81)
    assert not sure_reading(fixed_log_probs("a가", "a가", 1.0), "a가")  # sure, but Hangul: the reader checks


def test_an_svtr_with_hangul_reads_every_line_unless_korean_is_kept_with_the_reader(
        reader_checkpoint, svtr_checkpoint, tmp_path):
    korean_svtr = tmp_path / "svtr_ko.pt"
    save_checkpoint(korean_svtr, build_svtr_lcnet(charset=READER_CHARSET, **TINY))
    image = np.zeros((20, 40, 3), np.uint8)
    for korean_to_reader, expected in ((False, "SVTR 가"), (True, "가격")):
        reader = Reader(reader_checkpoint, svtr=korean_svtr, refine=False, korean_to_reader=korean_to_reader)
        reader.network = FixedLines(READER_CHARSET, "가격")
        reader.svtr = FixedLines(READER_CHARSET, "SVTR 가")
        assert [line.text for line in reader.read_boxes(image, ["one", "two"])] == [expected] * 2
        assert reader.network.calls == ([] if expected == "SVTR 가" else [["one", "two"]])  # the reader is not run at all
    assert not Reader(reader_checkpoint, svtr=svtr_checkpoint).svtr_reads_all


def test_a_korean_svtr_reads_the_korean_lines_it_is_surer_of_than_the_reader_and_only_korean_lines(
        reader_checkpoint, svtr_checkpoint, tmp_path):
    korean_svtr = tmp_path / "svtr_ko.pt"
    save_checkpoint(korean_svtr, build_svtr_lcnet(charset=READER_CHARSET, **TINY))
    reader = Reader(reader_checkpoint, svtr=svtr_checkpoint, korean_svtr=korean_svtr, refine=False)
    assert not reader.svtr_reads_all
    reader.network = FixedLines(READER_CHARSET, "가걱", certainty=0.8, texts={"price": ("price", 1.0)})
    reader.svtr = FixedLines(without_hangul(READER_CHARSET), "SVTR", certainty=0.5)
    reader.korean_svtr = FixedLines(READER_CHARSET, "가격", certainty=0.9, texts={"two": ("가각", 0.7)})
    image = np.zeros((20, 40, 3), np.uint8)
    assert [line.text for line in reader.read_boxes(image, ["one", "price", "two"])] == ["가격", "SVTR", "가걱"]
    assert reader.korean_svtr.calls == [["one", "two"]]  # the line routed away from Korean is not read twice
    reader.korean_svtr.calls.clear()
    reader.network = FixedLines(READER_CHARSET, "price")
    assert [line.text for line in reader.read_boxes(image, ["one"])] == ["SVTR"]
    assert reader.korean_svtr.calls == []  # no Korean line: the Korean SVTR is not run
    with pytest.raises(CheckpointError, match="Hangul"):
        Reader(reader_checkpoint, svtr=svtr_checkpoint, korean_svtr=svtr_checkpoint)


def test_the_certainties_compared_are_calibrated():
    """0.9 raw under a power of 4 (0.66) is less sure than 0.8 raw under a power of 1."""
    charset = "ab"
    assert path_certainty(fixed_log_probs(charset, "ab", 0.9), power=4.0) == pytest.approx(0.9 ** 4)
    assert path_certainty(fixed_log_probs(charset, "ab", 0.9), power=4.0) < \
        path_certainty(fixed_log_probs(charset, "ab", 0.8))


def test_hangul_is_appended_to_the_head_and_the_known_classes_keep_their_rows(svtr_checkpoint):
    from models import read_checkpoint

    payload = read_checkpoint(svtr_checkpoint)
    model = randomised(build_svtr_lcnet(**{k: v for k, v in payload["config"].items() if k != "name"}))
    wider = finetune_svtr.with_hangul(model).eval()
    known = len(model.config.charset)
    assert wider.config.charset[:known] == model.config.charset
    assert sorted(wider.config.charset) == sorted(READER_CHARSET)
    lines, lengths = collate_lines([torch.rand(3, HEIGHT, 64) * 2 - 1])
    with torch.no_grad():
        before, after = model(lines, lengths), wider(lines, lengths)
    assert torch.allclose(before, after[..., :known + 1], atol=1e-5)
    new = after[..., known + 1:]
    assert torch.allclose(new, model.classifier.bias.min().expand_as(new))       # the same for every input
    assert (new < before.max(-1, keepdim=True).values).all()                     # so never the best path
    assert finetune_svtr.with_hangul(wider) is wider


def test_korean_lines_are_drawn_only_for_a_head_with_hangul():
    assert finetune_svtr.language_weights(without_hangul(READER_CHARSET), 0.3)[1] == 0.0
    weights = finetune_svtr.language_weights(READER_CHARSET, 0.3)
    assert weights[1] == 0.3 and math.isclose(sum(weights), 1.0)
    _, texts, langs, _ = finetune_svtr.svtr_batch(3, 0, 24, READER_CHARSET, korean_weight=0.5)
    assert "ko" in langs and any(has_hangul(text) for text in texts)


def test_checkpoints_load_as_the_network_they_hold(reader_checkpoint, svtr_checkpoint, tmp_path):
    assert isinstance(load_line_network(svtr_checkpoint), SvtrLines)
    assert isinstance(load_line_network(reader_checkpoint), CrnnLines)
    with pytest.raises(Exception, match="not an SVTR-LCNet checkpoint"):
        Reader(reader_checkpoint, svtr=reader_checkpoint)
    deblur = tmp_path / "nafunet.pt"
    save_checkpoint(deblur, build_model("nafunet", width=8))
    with pytest.raises(Exception, match="not a line recogniser"):
        load_line_network(deblur)


def test_fine_tuning_runs_resumes_and_exports(svtr_checkpoint, tmp_path):
    out = tmp_path / "run"
    common = ["--steps", "2", "--batch-size", "2", "--val-lines", "4", "--workers", "0", "--precision", "fp32",
              "--out", str(out)]
    finetune_svtr.main(common + ["--init-from", str(svtr_checkpoint), "--log-every", "1"])
    exported = out / "svtr_reader.pt"
    first = torch.load(exported, weights_only=True)
    assert first["step"] == 2 and first["config"]["name"] == "svtr_lcnet"
    assert next(iter(first["model"].values())).dtype == torch.float16
    finetune_svtr.main(common[:1] + ["3"] + common[2:] + ["--resume", str(out / "last.pt")])
    resumed = torch.load(exported, weights_only=True)
    assert resumed["step"] == 3
    assert set(resumed["extra"]["history"]) == {f"{out} steps 0-2", f"{out} steps 2-3"}


def test_lines_can_be_located_as_the_shipped_detector_finds_them():
    from models.data.lines import ParagraphConfig, make_reading_paragraph
    from models.reading.line_detector import DEFAULT_DETECTOR, LineDetector
    from models.reading.pipeline import find_text_lines

    charset = without_hangul(READER_CHARSET)
    drawn = make_reading_paragraph(0, 48, frozenset(charset), ParagraphConfig())
    detector = LineDetector(DEFAULT_DETECTOR, precision="auto")
    for sigma in (drawn.sigma, None):
        assert train_recognizer.found_boxes(drawn.blurred, sigma, str(DEFAULT_DETECTOR)) == \
            [found for found, _ in find_text_lines(drawn.blurred, sigma, detector)]
    assert train_recognizer.found_boxes(drawn.blurred, drawn.sigma) is None  # find_lines' boxes
    first, again, rules = (finetune_svtr.svtr_batch(2, 0, 6, charset, paragraph_share=0.5, locate_with=located)
                           for located in (str(DEFAULT_DETECTOR), str(DEFAULT_DETECTOR), ""))
    assert first[1] == again[1] == rules[1] and all(torch.equal(a, b) for a, b in zip(first[0], again[0]))
    assert any(a.shape != b.shape for a, b in zip(first[0], rules[0]))  # the same lines, cropped elsewhere


def test_no_korean_lines_are_drawn_for_the_svtr():
    lines, texts, langs, _ = finetune_svtr.svtr_batch(3, 0, 24, without_hangul(READER_CHARSET))
    assert "ko" not in langs and not any(has_hangul(text) for text in texts)
    assert all(line.shape[-2] == HEIGHT for line in lines)


@pytest.mark.parametrize("kind", ["svtr", "korean_svtr"])
def test_an_svtr_is_the_named_one_or_goes_with_the_shipped_reader(tmp_path, monkeypatch, kind):
    from server import reading

    environment, resolve = {"svtr": (reading.SVTR_ENV, reading.resolve_svtr),
                            "korean_svtr": (reading.KOREAN_SVTR_ENV, reading.resolve_korean_svtr)}[kind]
    monkeypatch.delenv(environment, raising=False)
    shipped_reader, shipped_svtr = tmp_path / "reader.pt", tmp_path / f"{kind}.pt"
    monkeypatch.setattr(reading, "DEFAULT_READER", shipped_reader)
    monkeypatch.setattr(reading, f"DEFAULT_{kind.upper()}", shipped_svtr)
    assert resolve(None, str(shipped_reader)) is None          # none shipped
    shipped_svtr.write_bytes(b"")
    assert resolve(None, str(shipped_reader)) == str(shipped_svtr)
    assert resolve(None, str(tmp_path / "mine.pt")) is None    # a reader of one's own reads alone
    assert resolve("other.pt", str(shipped_reader)) == "other.pt"
    assert resolve("none", str(shipped_reader)) is None
    monkeypatch.setenv(environment, "from-env.pt")
    assert resolve(None, str(tmp_path / "mine.pt")) == "from-env.pt"
    assert resolve("none", str(shipped_reader)) is None


def test_the_server_reads_with_the_svtrs_it_is_given(engine, reader_checkpoint, svtr_checkpoint, tmp_path):
    from server import create_app
    from server.security import LOOPBACK_NAMES

    korean_svtr = tmp_path / "svtr_ko.pt"
    save_checkpoint(korean_svtr, build_svtr_lcnet(charset=READER_CHARSET, **TINY))
    app = create_app({"ENGINE": engine, "READER_CHECKPOINT": str(reader_checkpoint),
                      "SVTR_CHECKPOINT": str(svtr_checkpoint), "KOREAN_SVTR_CHECKPOINT": str(korean_svtr)})
    client = app.test_client()
    host = {"Host": f"{LOOPBACK_NAMES[1]}:{app.config['PORT']}"}
    image = np.full((40, 120, 3), 255, np.uint8)
    image[14:26, 10:110] = 0  # one dark bar: found as a line, so both networks and the decoder run
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    response = client.post("/v1/read", data=buffer.getvalue(), content_type="image/png", headers=host)
    assert response.status_code == 200 and response.get_json()["verdict"] in ("readable", "partly", "unreadable")
    described = client.get("/v1/models", headers=host).get_json()["reader"]
    assert described["svtr"] == str(svtr_checkpoint) and described["loaded"]
    assert described["korean_svtr"] == str(korean_svtr)
    assert app.extensions["reader"].load().svtr is not None and app.extensions["reader"].load().korean_svtr is not None
    app.extensions["reader"].close()


def test_paragraph_lines_are_drawn_where_their_boxes_say_and_found_one_by_one():
    from models.data.lines import ParagraphConfig, make_reading_paragraph
    from models.training.train_recognizer import located_boxes

    sharp = ParagraphConfig(p_sharp=1.0, p_rescale=0.0, p_jpeg=0.0, p_noise=0.0, leading=(1.6, 1.8),
                            lang_weights=(1.0, 0.0, 0.0, 0.0))
    charset = frozenset(without_hangul(READER_CHARSET))
    for index in range(3):
        paragraph = make_reading_paragraph(5, index, charset, sharp)
        again = make_reading_paragraph(5, index, charset, sharp)
        assert paragraph.texts == again.texts and np.array_equal(paragraph.blurred, again.blurred)
        assert len(paragraph.boxes) == len(paragraph.texts) >= 2
        grey = paragraph.blurred.astype(float).mean(-1)
        background = np.median(grey)
        for top, bottom, left, right in paragraph.boxes:
            assert np.abs(grey[top:bottom, left:right] - background).max() > 40  # ink inside every box
        found = located_boxes(paragraph.blurred, paragraph.boxes)
        assert len({(box.x, box.y) for box in found}) == len(paragraph.texts)  # one found line per drawn line


def test_a_share_of_the_batch_is_cut_from_paragraphs():
    charset = without_hangul(READER_CHARSET)
    lines, texts, _, _ = finetune_svtr.svtr_batch(1, 0, 8, charset, paragraph_share=0.5)
    again = finetune_svtr.svtr_batch(1, 0, 8, charset, paragraph_share=0.5)[1]
    singles = finetune_svtr.svtr_batch(1, 0, 8, charset)[1]
    assert texts == again and len(lines) == 8
    assert texts[4:] == singles[4:] and texts[:4] != singles[:4]


# --- lines of the Chromium layouts as training lines ---

def layout_page(page_id, split, texts, scale=1.0):
    """A page as chromium_layouts records it: ``texts`` drawn one per row, one capture (blurred,
    served at ``scale``), each line's ink box measured from the sharp drawing."""
    from PIL import ImageDraw, ImageFont

    from models.data.blur import gaussian_blur

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 16)
    sharp = Image.new("RGB", (360, 40 + 30 * len(texts)), "white")
    draw = ImageDraw.Draw(sharp)
    lines = []
    for k, text in enumerate(texts):
        draw.text((20, 20 + 30 * k), text, fill="black", font=font)
        x0, y0, x1, y1 = draw.textbbox((20, 20 + 30 * k), text, font=font)
        lines.append({"text": text, "font_css": 16.0, "layout_box": k, "box": [x0, y0, x1, y1], "ink": [x0, y0, x1, y1]})
    served = sharp.resize((round(sharp.width * scale), round(sharp.height * scale)), Image.LANCZOS)
    tensor = torch.from_numpy(np.array(served)).permute(2, 0, 1)[None].float() / 255
    blurred = (gaussian_blur(tensor, 1.2)[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
    spec = {"id": page_id, "family": "article" if split == "train" else "form", "split": split, "lang": "en",
            "style": {"size": 16.0}, "body": "", "raster": "software", "dpr": 1,
            "captures": [{"mode": "picture", "ratio": 1.2 / (16 * scale), "blur_css": 0.0, "scale": scale}]}
    return spec, np.asarray(sharp), [blurred], lines


@pytest.fixture(scope="module")
def text_layouts(tmp_path_factory):
    from models.data.chromium_layouts import write_shard

    folder = tmp_path_factory.mktemp("layouts")
    write_shard(folder, 0, 2, [layout_page(0, "train", ["Quiet harbour lights", "한국어 줄", "seven boats"], scale=0.75),
                               layout_page(1, "tune", ["the morning ferry"])], seed=0)
    return folder


def test_layout_lines_are_the_train_families_lines_the_charset_reads(text_layouts):
    from models.data.chromium_layouts import LayoutPages, capture_line, line_crops

    pages = LayoutPages(text_layouts)
    charset = frozenset(without_hangul(READER_CHARSET))
    triples = line_crops(pages, "train", charset)
    assert [pages.pages[p]["lines"][l]["text"] for p, _, l in triples] == ["Quiet harbour lights", "seven boats"]
    assert [pages.pages[p]["lines"][l]["text"] for p, _, l in line_crops(pages, "tune", charset)] == ["the morning ferry"]
    assert len(line_crops(pages, "train", frozenset(READER_CHARSET))) == 3  # Hangul read: its line too
    image, (top, bottom, left, right), text, lang, sigma, ratio = capture_line(pages, triples[0])
    ink = pages.pages[triples[0][0]]["lines"][0]["ink"]
    # in the served capture's whole px, around the scaled ink
    assert (left, top, right, bottom) == (math.floor(ink[0] * 0.75), math.floor(ink[1] * 0.75),
                                          math.ceil(ink[2] * 0.75), math.ceil(ink[3] * 0.75))
    assert all(isinstance(v, int) for v in (left, top, right, bottom))
    assert image.shape[:2] == (round(130 * 0.75), 270) and text == "Quiet harbour lights" and lang == "en"
    assert ratio == pytest.approx(1.2 / 12) and sigma == pytest.approx(1.2, abs=1e-3)
    # the box holds the line's ink: the blurred capture is darkest inside it
    assert image[round(top):round(bottom), round(left):round(right)].mean() < image.mean()


def test_a_layout_batch_is_a_pure_function_of_seed_and_step_and_fine_tuning_validates_on_the_tune_families(
        text_layouts, svtr_checkpoint, tmp_path):
    charset = without_hangul(READER_CHARSET)
    first, again = (finetune_svtr.layout_batch(str(text_layouts), "train", charset, 0, 3, 6) for _ in range(2))
    assert first[1] == again[1] and all(torch.equal(a, b) for a, b in zip(first[0], again[0]))
    assert set(first[1]) <= {"Quiet harbour lights", "seven boats"} and len(first[0]) == 6
    others = [finetune_svtr.layout_batch(str(text_layouts), "train", charset, 0, step, 6)[1] for step in range(4, 8)]
    assert any(texts != first[1] for texts in others)
    mixed = finetune_svtr.svtr_batch(0, 0, 4, charset, layouts=str(text_layouts), layout_share=0.5)
    assert sum(text in {"Quiet harbour lights", "seven boats"} for text in mixed[1]) >= 2 and len(mixed[0]) == 4

    out = tmp_path / "run"
    finetune_svtr.main(["--steps", "2", "--batch-size", "2", "--val-lines", "4", "--workers", "0", "--precision", "fp32",
                        "--init-from", str(svtr_checkpoint), "--layouts", str(text_layouts), "--layout-share", "0.5",
                        "--junk-share", "0.5", "--document-share", "0.5", "--val-layouts", str(text_layouts),
                        "--val-layout-lines", "3", "--out", str(out)])
    report = torch.load(out / "svtr_reader.pt", weights_only=True)["extra"]["val_cer"]
    assert "all" in report and "layouts all" in report
    with pytest.raises(SystemExit, match="no train-family lines"):
        train_recognizer.layout_lines(str(tmp_path), "train", frozenset(charset))
    with pytest.raises(SystemExit, match="--layout-share needs --layouts"):
        finetune_svtr.main(["--init-from", str(svtr_checkpoint), "--layout-share", "0.3", "--out", str(out)])


def test_boxes_holding_no_text_ink_are_the_found_boxes_off_every_line():
    from models.reading.line_finder import LineBox

    on_line, rule, grazing = LineBox(10, 10, 100, 12), LineBox(10, 40, 200, 3), LineBox(100, 18, 100, 10)
    inks = [[12, 11, 108, 21]]  # grazing shares 8 x 3 px of its 1 000 with the line's ink
    assert train_recognizer.boxes_without_text([on_line, rule, grazing], inks) == [rule, grazing]
    assert train_recognizer.boxes_without_text([on_line, rule, grazing], inks, max_share=0.01) == [rule]
    assert train_recognizer.boxes_without_text([rule], []) == [rule]


def test_layout_draws_add_boxes_holding_no_text_as_lines_read_as_nothing_and_runs_report_how_many_are_read(
        text_layouts, monkeypatch, tmp_path, capsys):
    from models.data.chromium_layouts import LayoutPages
    from models.reading.line_finder import LineBox

    chars = frozenset(READER_CHARSET)
    page = next(p for p in LayoutPages(text_layouts).pages if p["split"] == "train")
    scale = page["captures"][0]["scale"]
    lines = [LineBox(round(x0 * scale), round(y0 * scale), round((x1 - x0) * scale), round((y1 - y0) * scale))
             for x0, y0, x1, y1 in (line["ink"] for line in page["lines"])]
    rule = LineBox(15, 85, 230, 3)  # under the last line, on no ink
    monkeypatch.setattr(train_recognizer, "_found_in_capture", lambda *args: lines + [rule])
    plain, with_junk = (train_recognizer.layout_draws(str(text_layouts), "train", chars, 0, 2, 6, locate_with="found",
                                                      junk_share=share) for share in (0.0, 0.2))
    assert all(draw[3] for draw in plain)
    assert [(d[1], d[3]) for d in with_junk[:5]] == [(d[1], d[3]) for d in plain[:5]]  # the other draws unchanged
    assert with_junk[5][1] == rule and with_junk[5][3] == ""
    many = train_recognizer.layout_draws(str(text_layouts), "train", chars, 0, 2, 6, locate_with="found", junk_share=1.0)
    junk = [draw for draw in many if not draw[3]]  # no more than the captures hold: the one capture, told or blind
    assert 1 <= len(junk) <= 2 and all(draw[1] == rule for draw in junk) and len({draw[2] for draw in junk}) == len(junk)

    monkeypatch.setattr(train_recognizer, "boxes_without_text", lambda found, inks: [LineBox(15, 50, 230, 3)])
    train_recognizer.main(["--task", "reader", "--steps", "1", "--batch-size", "2", "--val-lines", "2",
                           "--log-every", "1", "--warmup", "1", "--out", str(tmp_path), "--layouts", str(text_layouts),
                           "--layout-share", "1.0", "--junk-share", "0.5", "--val-layouts", str(text_layouts),
                           "--val-layout-lines", "2", "--model-overrides", '{"channels": [8, 8, 8, 8], "hidden": 8}'])
    logged = capsys.readouterr().out
    assert '"layouts junk read": ' in logged


def test_hangul_round_trips_through_its_jamo_and_composed_syllables_keep_their_weakest_letter():
    from models.reading.hangul import (JAMO, LEAD_BASE, TAIL_BASE, VOWEL_BASE, from_jamo, is_syllable, jamo_indices,
                                       to_jamo)

    syllables = "".join(ch for ch in READER_CHARSET if is_syllable(ch))
    text = syllables + " 값은 5,000원 price 価格"
    assert from_jamo(to_jamo(text)) == text
    assert set(to_jamo(syllables)) <= set(JAMO) and len(JAMO) == 67
    assert to_jamo("값") == "\u1100\u1161\u11b9"
    assert from_jamo("\u1100\u1161\u11b9a", [0.9, 0.4, 0.8, 1.0]) == ("값a", [0.4, 1.0])
    assert from_jamo("\u1100x") == "\u1100x"  # a lead without its vowel stays a letter
    # the indices are to_jamo's letters, counted from each kind's first (a tail of 0: none)
    letters = [ord(ch) for ch in to_jamo("값가")]
    assert jamo_indices("값가").tolist() == [[letters[0] - LEAD_BASE, letters[1] - VOWEL_BASE, letters[2] - TAIL_BASE],
                                           [letters[3] - LEAD_BASE, letters[4] - VOWEL_BASE, 0]]


def test_a_jamo_head_trains_on_korean_lines_spelled_as_letters_and_the_pipeline_composes_them(
        svtr_checkpoint, reader_checkpoint):
    from models.reading.hangul import JAMO, spells_jamo

    model = load_line_network(svtr_checkpoint).model
    wider = finetune_svtr.with_jamo(model)
    assert wider.config.charset == model.config.charset + JAMO and spells_jamo(wider.config.charset)
    charset = wider.config.charset
    lines, texts, langs, _ = finetune_svtr.svtr_batch(0, 0, 12, charset, korean_weight=1.0)
    assert all(lang == "ko" for lang in langs) and any(has_hangul(text) for text in texts)
    assert all(set(target) <= set(charset) for target in finetune_svtr.targets(texts, charset))
    reader = Reader(reader_checkpoint, svtr=svtr_checkpoint, refine=False)
    reader.svtr = FixedLines(charset, "\u1100\u1161\u11b9 5")
    assert reader.read_line(reader.svtr.line, reader.svtr)[0] == "값 5"


def test_a_korean_svtr_is_calibrated_on_korean_lines_when_asked(tmp_path, monkeypatch):
    from models import read_checkpoint
    from models.training import calibrate_reader

    drawn = []
    real_batch = calibrate_reader.svtr_batch
    monkeypatch.setattr(calibrate_reader, "svtr_batch",
                        lambda *args, **kwargs: drawn.append(real_batch(*args, **kwargs)) or drawn[-1])
    korean_svtr = tmp_path / "svtr_ko.pt"
    save_checkpoint(korean_svtr, build_svtr_lcnet(charset=READER_CHARSET, **TINY))
    calibrate_reader.main([str(korean_svtr), "--lines", "4", "--korean-weight", "1"])
    assert drawn and set(drawn[0][2]) == {"ko"}
    report = read_checkpoint(korean_svtr)["extra"]["calibration"]
    assert report["korean_weight"] == 1.0 and report["lines"] == 4 and report["power"] >= 1.0


def test_the_junk_test_reads_the_networks_probability_not_its_calibration(reader_checkpoint, svtr_checkpoint):
    """The same line read at probability 0.5 by networks calibrated to different powers: the shown
    confidences differ, the peak the junk test compares with ``UNSURE_LINE`` does not."""
    reader = Reader(reader_checkpoint, svtr=svtr_checkpoint, refine=False)
    readings = [reader.read_line(network.line, network)
                for network in (FixedLines(READER_CHARSET, "ab", power=power, certainty=0.5) for power in (1.0, 4.0))]
    assert [r.text for r in readings] == ["ab", "ab"]
    assert readings[0].confidences == pytest.approx([0.5, 0.5]) and readings[1].confidences == pytest.approx([0.0625] * 2)
    assert readings[0].peak == pytest.approx(0.5) and readings[1].peak == pytest.approx(0.5)


def test_the_reader_draws_layout_lines_korean_at_its_weight_and_trains_and_validates_on_them(text_layouts, tmp_path,
                                                                                               capsys):
    chars = frozenset(READER_CHARSET)
    texts = {weight: [draw[3] for step in range(4)
                      for draw in train_recognizer.layout_draws(str(text_layouts), "train", chars, 0, step, 5,
                                                                korean_weight=weight)]
             for weight in (0.0, 1.0, None)}
    assert set(texts[1.0]) == {"한국어 줄"}
    assert set(texts[0.0]) == {"Quiet harbour lights", "seven boats"}
    assert "한국어 줄" in texts[None] and len(set(texts[None])) == 3
    lines, sigmas, batch_texts, langs, _ = train_recognizer.reader_batch(0, 0, 4, korean_weight=1.0,
                                                                         layouts=str(text_layouts), layout_share=0.5)
    assert batch_texts[:2] == ["한국어 줄"] * 2 and len(lines) == len(sigmas) == len(langs) == 4

    train_recognizer.main(["--task", "reader", "--steps", "2", "--batch-size", "2", "--val-lines", "2",
                           "--log-every", "1", "--warmup", "1", "--out", str(tmp_path), "--layouts", str(text_layouts),
                           "--layout-share", "0.5", "--val-layouts", str(text_layouts), "--val-layout-lines", "3",
                           "--model-overrides", '{"channels": [8, 8, 8, 8], "hidden": 8}'])
    assert '"layouts all"' in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--layout-share needs --layouts"):
        train_recognizer.main(["--task", "reader", "--layout-share", "0.3", "--out", str(tmp_path)])


def test_document_paragraphs_run_each_line_to_the_column_in_small_type_under_their_own_stream():
    from PIL import ImageFont

    from models.data.lines import DocumentParagraphConfig, ParagraphConfig, make_reading_paragraph
    from models.data.synth import FONT_ROOT, LATIN_FONTS

    charset = frozenset(without_hangul(READER_CHARSET))
    latin = dict(lang_weights=(1.0, 0.0, 0.0, 0.0), p_rescale=0.0)
    config = DocumentParagraphConfig(**latin)
    for index in range(4):
        document = make_reading_paragraph(7, index, charset, config)
        assert document.texts == make_reading_paragraph(7, index, charset, config).texts
        assert 9 <= document.px <= 14 and len(document.texts) >= 3
        font = ImageFont.truetype(str(FONT_ROOT / LATIN_FONTS["sans"][0]), document.px)
        widths = [font.getlength(text) for text in document.texts[:-1]]
        # filled lines are alike in length (one column), unlike one draw of reading_text each
        assert min(widths) > 0.6 * max(widths) and max(widths) > 12 * document.px
    ordinary = make_reading_paragraph(7, 0, charset, ParagraphConfig(**latin, min_px=9, max_px=14))
    assert ordinary.texts[0] not in make_reading_paragraph(7, 0, charset, config).texts[0]  # another stream


def test_a_reader_batch_holds_its_share_of_document_lines():
    plain = train_recognizer.reader_batch(4, 2, 8, sigma_dropout=0.0)
    documents = train_recognizer.reader_batch(4, 2, 8, sigma_dropout=0.0, document_share=0.5)
    assert documents[2][4:] == plain[2][4:] and documents[2][:4] != plain[2][:4]
    assert all(ratio <= 0.5 + 1e-6 for ratio in documents[4])


def test_an_svtr_batch_holds_its_share_of_document_lines():
    charset = without_hangul(READER_CHARSET)
    plain = finetune_svtr.svtr_batch(4, 2, 8, charset)
    documents = finetune_svtr.svtr_batch(4, 2, 8, charset, document_share=0.5)
    assert documents[1][4:] == plain[1][4:] and documents[1][:4] != plain[1][:4]
    assert "ko" not in documents[2]


def test_korean_lines_are_eojeol_with_particles_on_their_word_agreeing_with_its_last_syllable():
    from models.data.korean import KOREAN_PAIRED_PARTICLES, KOREAN_PARTICLES, attach_particle
    from models.data.lines import korean_stems, korean_word

    chars = frozenset(READER_CHARSET)
    words = [korean_word(np.random.default_rng((3, i)), korean_stems(chars)) for i in range(400)]
    assert words == [korean_word(np.random.default_rng((3, i)), korean_stems(chars)) for i in range(400)]
    assert all(" " not in word and len(word) >= 2 and set(word) <= chars for word in words)
    standalone = set(sum(KOREAN_PAIRED_PARTICLES, ())) | set(KOREAN_PARTICLES)
    assert not standalone & set(words)  # a particle never stands alone, as wordfreq's morphemes would
    assert sum(any(word.endswith(p) for p in standalone) for word in words) >= 150
    assert [attach_particle(stem, "을", "를") for stem in ("책", "사과")] == ["책을", "사과를"]
    assert [attach_particle(stem, "으로", "로") for stem in ("집", "길", "바다")] == ["집으로", "길로", "바다로"]
    assert attach_particle("학교", "은", "는") == "학교는" and attach_particle("서울", "이", "가") == "서울이"
