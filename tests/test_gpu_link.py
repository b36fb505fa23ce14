"""The GPU chain's script, run as a CPU dry run: a link warm-starts, the next one resumes, parts rejoin."""
import pytest

from models import read_checkpoint
from models.training import gpu_link


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


@pytest.mark.slow
def test_cjk_fonts_are_subset_per_face_to_what_synth_draws_including_the_wide_sets(tmp_path):
    from PIL import ImageFont

    from models.data.synth import CJK_FACE_INDEX, CJK_FONTS, FONT_ROOT, wide_cjk_pools
    source = FONT_ROOT / CJK_FONTS[0]
    target = tmp_path / "cjk.ttc"
    gpu_link.subset_collection(source, target)
    assert target.stat().st_size < source.stat().st_size / 4  # one subset of all three: 0.47
    suffix = {"ja": "JP", "ko": "KR", "zh": "SC"}
    wide = wide_cjk_pools()
    for lang, index in CJK_FACE_INDEX.items():
        font = ImageFont.truetype(str(target), 24, index=index)
        assert font.getname()[0] == f"Noto Sans CJK {suffix[lang]}"
        for text in (wide[lang][0], wide[lang][-1], "A1"):
            assert font.getmask(text).getbbox() is not None, (lang, text)


def test_a_link_on_a_bundle_with_stale_cjk_subsets_stops_before_training(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "fonts").mkdir(parents=True)
    with pytest.raises(SystemExit, match="prepare again"):
        gpu_link.link(tmp_path / "out", minutes=1, bundle=bundle, dry_run=True)
    assert not (bundle / "run" / "last.pt").exists()
    (bundle / "fonts" / gpu_link.SUBSET_MARK).write_text(gpu_link.SUBSET_VERSION)
    gpu_link.refuse_stale_fonts(bundle)
