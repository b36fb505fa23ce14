"""Chain short GPU leases into one training run.

A lent GPU machine takes at most 10 minutes a command and starts bare each time, so a long run is
cut into links. Each link resumes the run from the bundle it was carried with, trains for a few
minutes with many data workers, a large batch and large patches, and hands the checkpoint back:

    python -m models.training.gpu_link prepare                     # here: fonts + the run so far into .gpu/
    (device) python3 -m models.training.gpu_link link --out $OUT   # carry .gpu; at most ~8 minutes of training
    python -m models.training.gpu_link collect FILES_DIR           # here: the returned parts -> .gpu/run/last.pt

The first link warm-starts from the shipped checkpoint. The device returns files of at most 16 MB,
so the checkpoint (with its optimizer) travels in parts. `--dry-run` runs a link on the CPU in
seconds, as the tests do.
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

BUNDLE = Path(".gpu")
SUBSET_MARK, SUBSET_VERSION = "SUBSET", "per-face wide sets v1"  # what the bundled CJK subsets hold
PART_BYTES = 15 * 1024 * 1024
# The GPU recipe: the shipped link's data and loss (models/MODEL_CARD.md) but for the Chromium corpus,
# which only this machine can render; 8x the batch, 4x the pixels per patch.
GPU_ARGS = ["--batch-size", "64", "--patch", "192", "--workers", "14", "--lr", "3e-4", "--warmup", "200",
            "--steps", "60000", "--ckpt-every", "500", "--log-every", "100", "--seed", "2", "--ocr-weight", "5e-4",
            "--synth-overrides", '{"p_hard": 0.35, "p_document": 0.1, "p_wide_cjk": 0.5}']
DRY_RUN_ARGS = ["--batch-size", "2", "--patch", "32", "--workers", "0", "--steps", "2", "--val-samples", "2",
                "--log-every", "1", "--ckpt-every", "1", "--warmup", "1", "--device", "cpu"]


def face_characters():
    """lang -> the characters its face of a CJK collection must hold: the word pools', the standards'
    common ones (synth's ``p_wide_cjk``) and ASCII."""
    from models.data.synth import CHINESE, JAPANESE, KOREAN, wide_cjk_pools
    ascii_ = {chr(c) for c in range(32, 127)}
    pools, wide = {"ja": JAPANESE, "ko": KOREAN, "zh": CHINESE}, wide_cjk_pools()
    return {lang: set("".join(pools[lang])) | set(wide[lang]) | ascii_ for lang in pools}


def subset_collection(source, target):
    """The faces synth uses of a CJK font collection (CJK_FACE_INDEX), each cut down to its own
    language's characters: about a third of what one shared subset of all three would weigh."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    from models.data.synth import CJK_FACE_INDEX
    assert sorted(CJK_FACE_INDEX.values()) == list(range(len(CJK_FACE_INDEX))), "faces must be the first ones"
    collection = TTCollection(str(source))
    collection.fonts = collection.fonts[:len(CJK_FACE_INDEX)]
    options = subset.Options()
    options.layout_features, options.name_IDs = ["*"], ["*"]
    characters = face_characters()
    for lang, index in CJK_FACE_INDEX.items():
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes={ord(c) for c in characters[lang]})
        subsetter.subset(collection.fonts[index])
    target.parent.mkdir(parents=True, exist_ok=True)
    collection.save(str(target))


def subsets_current(fonts):
    """Whether the CJK subsets in the ``fonts`` folder are the ones this code cuts."""
    mark = fonts / SUBSET_MARK
    return mark.is_file() and mark.read_text() == SUBSET_VERSION


def refuse_stale_fonts(bundle):
    """A bundle prepared before the subsets held the standards' wide sets would draw missing glyphs
    as blanks: stop before training instead."""
    if (bundle / "fonts").is_dir() and not subsets_current(bundle / "fonts"):
        raise SystemExit(f"{bundle / 'fonts'} holds CJK subsets older than {SUBSET_VERSION}: "
                         "python -m models.training.gpu_link prepare again")


def prepare(run_dir, bundle=BUNDLE):
    """Bundle the fonts synth uses (CJK ones subset: the full ones exceed what a call carries) and the run."""
    from models.data.synth import CJK_FONTS, FONT_ROOT, LATIN_FONTS

    fonts = bundle / "fonts"
    for relative in [path for family in LATIN_FONTS.values() for path in family]:
        (fonts / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FONT_ROOT / relative, fonts / relative)
    current = subsets_current(fonts)
    for relative in CJK_FONTS:
        if not current or not (fonts / relative).is_file():
            subset_collection(FONT_ROOT / relative, fonts / relative)
    (fonts / SUBSET_MARK).write_text(SUBSET_VERSION)
    run = Path(run_dir)
    if (run / "last.pt").is_file() and run.resolve() != (bundle / "run").resolve():
        (bundle / "run").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / "last.pt", bundle / "run" / "last.pt")
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())


def split_file(path, out_dir, part_bytes=PART_BYTES):
    parts, data = [], Path(path).read_bytes()
    for index, start in enumerate(range(0, len(data), part_bytes)):
        part = Path(out_dir) / f"{Path(path).name}.part{index:02d}"
        part.write_bytes(data[start:start + part_bytes])
        parts.append(part)
    return parts


def join_parts(parts_dir, name, target):
    parts = sorted(Path(parts_dir).glob(f"{name}.part[0-9][0-9]"))
    if not parts:
        raise FileNotFoundError(f"no {name}.partNN files in {parts_dir}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    tmp.replace(target)
    return target


def link(out, minutes, bundle=BUNDLE, dry_run=False, extra=()):
    """One link: resume (or warm-start) the run in the bundle, train ``minutes``, return it in parts."""
    if (bundle / "fonts").is_dir():  # read when models.data.synth is first imported, just below
        os.environ.setdefault("ANTI_AGING_FONT_ROOT", str((bundle / "fonts").resolve()))
    from models import default_checkpoint
    from models.training import train

    run = bundle / "run"
    start = ["--resume", str(run / "last.pt")] if (run / "last.pt").is_file() else \
        ["--init-from", str(default_checkpoint())]
    args = (DRY_RUN_ARGS if dry_run else GPU_ARGS) + start + ["--out", str(run), "--max-minutes", str(minutes)] + list(extra)
    refuse_stale_fonts(bundle)
    train.main(args)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "nafunet.pt", out / "nafunet.pt")
    return split_file(run / "last.pt", out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="bundle fonts and the run so far into --bundle")
    p.add_argument("--run", default=str(BUNDLE / "run"), help="run folder whose last.pt continues (if any)")
    p.add_argument("--bundle", type=Path, default=BUNDLE)
    p = commands.add_parser("link", help="train one link (on the GPU machine)")
    p.add_argument("--out", required=True, help="where the checkpoint parts go ($OUT on the device)")
    p.add_argument("--minutes", type=float, default=8.0, help="training time; the rest of the 10 is start-up and copies")
    p.add_argument("--bundle", type=Path, default=BUNDLE)
    p.add_argument("--dry-run", action="store_true", help="two tiny CPU steps, to check the chain")
    p = commands.add_parser("collect", help="join the parts a link returned into --bundle/run/last.pt")
    p.add_argument("files", type=Path, help="folder holding last.pt.partNN and nafunet.pt")
    p.add_argument("--bundle", type=Path, default=BUNDLE)
    args, extra = parser.parse_known_args(argv)
    if args.command == "prepare":
        size = prepare(args.run, args.bundle)
        print(f"{args.bundle}: {size / 1e6:.1f} MB to carry")
    elif args.command == "link":
        parts = link(args.out, args.minutes, args.bundle, args.dry_run, extra)
        print(f"{len(parts)} checkpoint parts in {args.out}")
    else:
        try:
            target = join_parts(args.files, "last.pt", args.bundle / "run" / "last.pt")
        except FileNotFoundError as exc:
            sys.exit(str(exc))
        shutil.copyfile(args.files / "nafunet.pt", args.bundle / "run" / "nafunet.pt")
        print(f"resumable run in {target.parent}")


if __name__ == "__main__":
    main()
