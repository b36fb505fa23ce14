"""The dev sets' tune/test halves, and reading evaluated on them."""
import json
import shutil
from pathlib import Path

import pytest

from models import save_checkpoint
from models.data.splits import SPLITS, split_of
from models.evaluation.read_eval import main as read_eval_main
from models.reading.recognizer import READER_CHARSET
from models.reading.routing import without_hangul
from models.reading.svtr_lcnet import build_svtr_lcnet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEV_SETS = [Path("models/devset"), Path("models/docset"), Path("models/pixset")]


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("folder", DEV_SETS, ids=lambda p: p.name)
def test_each_dev_set_has_both_halves_and_no_text_on_both_sides(folder):
    samples = manifest(folder)["samples"]
    sides = {}
    for sample in samples:
        sides.setdefault(sample["text"], set()).add(split_of(sample))
    assert all(len(found) == 1 for found in sides.values())
    counts = {split: sum(split_of(s) == split for s in samples) for split in SPLITS}
    assert min(counts.values()) >= 0.3 * len(samples)


def test_the_side_depends_on_the_text_alone():
    sample = {"text": "Add to cart", "sigma_px": 0, "dpr": 1}
    assert split_of(sample) == split_of({"text": "Add to cart", "sigma_px": 4, "dpr": 2, "raster": "gpu"})
    assert {split_of({"text": f"line {i}"}) for i in range(20)} == set(SPLITS)


@pytest.fixture
def two_sided_devset(tmp_path):
    """Two unblurred samples of the committed dev set from each half."""
    source = Path("models/devset")
    data = manifest(source)
    picked = []
    for split in SPLITS:
        texts = []
        for sample in data["samples"]:
            if split_of(sample) == split and sample["lang"] == "en" and sample["sigma_px"] == 0 \
                    and sample["text"] not in texts and len(texts) < 2:
                texts.append(sample["text"])
                picked.append(sample)
    folder = tmp_path / "devset"
    folder.mkdir()
    for sample in picked:
        for key in ("sharp", "blurred"):
            shutil.copy(source / sample[key], folder / sample[key])
    (folder / "manifest.json").write_text(json.dumps(dict(data, samples=picked), ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_reading_is_reported_per_half_and_one_half_can_be_read_alone(two_sided_devset, reader_checkpoint, tmp_path):
    svtr = tmp_path / "svtr.pt"
    save_checkpoint(svtr, build_svtr_lcnet(charset=without_hangul(READER_CHARSET), stem=(8, 4, 8),
                                           stages=((8, (1,)), (16, (0,))), neck_dim=8, neck_depth=1, heads=2))
    out = tmp_path / "eval"
    read_eval_main(["--devset", str(two_sided_devset), "--out", str(out), "--reader", str(reader_checkpoint),
                    "--svtr", str(svtr)])
    results = json.loads((out / "reading.json").read_text(encoding="utf-8"))
    assert results["svtr"] == str(svtr) and results["samples"] == 4
    assert {split: results["splits"][split]["sigma"]["all"]["n"] for split in SPLITS} == {"tune": 2, "test": 2}
    table = (out / "reading.md").read_text(encoding="utf-8")
    assert table.index("### The test split") < table.index("### The tune split") < table.index("### All 4 samples")

    read_eval_main(["--devset", str(two_sided_devset), "--out", str(out), "--reader", str(reader_checkpoint),
                    "--svtr", "", "--split", "test"])
    results = json.loads((out / "reading.json").read_text(encoding="utf-8"))
    assert results["svtr"] is None and set(results["splits"]) == {"test"}
    assert {record["split"] for record in results["per_sample"]} == {"test"}
