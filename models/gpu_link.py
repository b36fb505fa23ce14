"""Chain short GPU leases into one training run.

A lent GPU machine takes at most 10 minutes a command and starts bare each time, so a long run is
cut into links. Each link resumes the run from the bundle it was carried with, trains for a few
minutes with many data workers, a large batch and large patches, and hands the checkpoint back:

    python -m models.gpu_link prepare                     # here: fonts + the run so far into .gpu/
    (device) python3 -m models.gpu_link link --out $OUT   # carry .gpu; at most ~8 minutes of training
    python -m models.gpu_link collect FILES_DIR           # here: the returned parts -> .gpu/run/last.pt

The first link warm-starts from the shipped checkpoint. The device returns files of at most 16 MB,
so the checkpoint (with its optimizer) travels in parts. `--dry-run` runs a link on the CPU in
seconds, as the tests do.
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

BUNDLE = Path(".gpu")
PART_BYTES = 15 * 1024 * 1024
# The GPU recipe: the same model and loss as the CPU one, 8x the batch, 4x the pixels per patch.
GPU_ARGS = ["--batch-size", "64", "--patch", "192", "--workers", "14", "--lr", "3e-4", "--warmup", "200",
            "--steps", "60000", "--ckpt-every", "500", "--log-every", "100", "--seed", "2",
            "--synth-overrides", '{"p_hard": 0.35, "p_document": 0.1}']
DRY_RUN_ARGS = ["--batch-size", "2", "--patch", "32", "--workers", "0", "--steps", "2", "--val-samples", "2",
                "--log-every", "1", "--ckpt-every", "1", "--warmup", "1", "--device", "cpu"]


def cjk_characters():
    from models.synth import CHINESE, JAPANESE, KOREAN
    return set("".join(KOREAN) + "".join(CHINESE) + "".join(JAPANESE)) | {chr(c) for c in range(32, 127)}


def subset_collection(source, target, faces=3):
    """The first ``faces`` faces of a CJK font collection, cut down to the characters synth draws."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(source))
    collection.fonts = collection.fonts[:faces]
    options = subset.Options()
    options.layout_features, options.name_IDs = ["*"], ["*"]
    for font in collection.fonts:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes={ord(c) for c in cjk_characters()})
        subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    collection.save(str(target))


def refuse_uncovered_characters(args, bundle):
    """The bundled CJK fonts hold only the word pools' characters (cjk_characters): a run that draws
    from the standards' wide sets would render missing glyphs as blanks, so it stops here instead."""
    overrides = {}
    for flag, value in zip(args, args[1:]):
        if flag == "--synth-overrides":
            overrides = json.loads(value)
    if (bundle / "fonts").is_dir() and overrides.get("p_wide_cjk", 0) > 0:
        raise SystemExit("p_wide_cjk draws characters the bundled CJK fonts lack: widen cjk_characters() "
                         "to synth.wide_cjk_pools() (about 9 MB per collection) and prepare again")


def prepare(run_dir, bundle=BUNDLE):
    """Bundle the fonts synth uses (CJK ones subset: the full ones exceed what a call carries) and the run."""
    from models.synth import CJK_FONTS, FONT_ROOT, LATIN_FONTS

    fonts = bundle / "fonts"
    for relative in [path for family in LATIN_FONTS.values() for path in family]:
        (fonts / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FONT_ROOT / relative, fonts / relative)
    for relative in CJK_FONTS:
        if not (fonts / relative).is_file():
            subset_collection(FONT_ROOT / relative, fonts / relative)
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
    if (bundle / "fonts").is_dir():  # read when models.synth is first imported, just below
        os.environ.setdefault("ANTI_AGING_FONT_ROOT", str((bundle / "fonts").resolve()))
    from models import default_checkpoint
    from models import train

    run = bundle / "run"
    start = ["--resume", str(run / "last.pt")] if (run / "last.pt").is_file() else \
        ["--init-from", str(default_checkpoint())]
    args = (DRY_RUN_ARGS if dry_run else GPU_ARGS) + start + ["--out", str(run), "--max-minutes", str(minutes)] + list(extra)
    refuse_uncovered_characters(args, bundle)
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
