"""The GPU chain's script, run as a CPU dry run: a link warm-starts, the next one resumes, parts rejoin."""
import pytest

from models import read_checkpoint
from models import gpu_link


def test_links_chain_into_one_run_and_parts_rejoin(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTI_AGING_FONT_ROOT", raising=False)
    bundle = tmp_path / "bundle"
    parts = gpu_link.link(tmp_path / "out1", minutes=5, bundle=bundle, dry_run=True)
    assert len(parts) >= 2 and all(p.stat().st_size <= gpu_link.PART_BYTES for p in parts)
    first = read_checkpoint(bundle / "run" / "last.pt")
    assert first["step"] == 2 and first["extra"]["train"]["init_from"]

    gpu_link.link(tmp_path / "out2", minutes=5, bundle=bundle, dry_run=True, extra=["--steps", "3"])
    second = read_checkpoint(bundle / "run" / "last.pt")
    assert second["step"] == 3 and second["extra"]["train"]["resume"]

    here = tmp_path / "here"
    joined = gpu_link.join_parts(tmp_path / "out2", "last.pt", here / "run" / "last.pt")
    assert joined.read_bytes() == (bundle / "run" / "last.pt").read_bytes()
    with pytest.raises(FileNotFoundError):
        gpu_link.join_parts(tmp_path / "nothing", "last.pt", here / "x.pt")


def test_cjk_fonts_are_subset_to_what_synth_draws(tmp_path):
    from PIL import ImageFont

    from models.synth import CJK_FACE_INDEX, CJK_FONTS, FONT_ROOT
    source = FONT_ROOT / CJK_FONTS[0]
    target = tmp_path / "cjk.ttc"
    gpu_link.subset_collection(source, target)
    assert target.stat().st_size < source.stat().st_size / 10
    suffix = {"ja": "JP", "ko": "KR", "zh": "SC"}
    for lang, index in CJK_FACE_INDEX.items():
        font = ImageFont.truetype(str(target), 24, index=index)
        assert font.getname()[0] == f"Noto Sans CJK {suffix[lang]}"
        assert font.getmask("회원 会员").getbbox() is not None


def test_a_link_drawing_the_wide_cjk_sets_on_pool_subset_fonts_stops_before_training(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "fonts").mkdir(parents=True)
    with pytest.raises(SystemExit, match="p_wide_cjk"):
        gpu_link.link(tmp_path / "out", minutes=1, bundle=bundle, dry_run=True,
                      extra=["--synth-overrides", '{"p_hard": 0.35, "p_wide_cjk": 0.5}'])
    assert not (bundle / "run" / "last.pt").exists()
    gpu_link.refuse_uncovered_characters(["--synth-overrides", '{"p_wide_cjk": 0}'], bundle)
