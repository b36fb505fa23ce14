"""Build the Chrome Web Store package: out/anti-aging-extension-<version>.zip from extension/.

The version comes from manifest.json. The zip holds what Chrome loads and nothing else: no
tests, no source maps, not this script; entries are sorted and dated 1980-01-01 so the same
sources give the same bytes. Run with `make extension` or `python3 extension/pack.py [--out DIR]`.
"""
import argparse
import json
import sys
import zipfile
from pathlib import Path

EXTENSION = Path(__file__).resolve().parent
LEFT_OUT_NAMES = {Path(__file__).name, "__pycache__", ".DS_Store"}
LEFT_OUT_SUFFIXES = (".map", ".py", ".pyc", ".md")
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def packaged_files(root=EXTENSION):
    """Relative paths of the files that go into the package, sorted."""
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        parts = relative.parts
        if not path.is_file() or any(part in LEFT_OUT_NAMES or part.startswith(".") for part in parts):
            continue
        if path.name.endswith(LEFT_OUT_SUFFIXES) or any(part in ("test", "tests") for part in parts) or ".test." in path.name:
            continue
        files.append(relative)
    return files


def build(out_dir, root=EXTENSION):
    manifest = json.loads((root / "manifest.json").read_text())
    version = manifest["version"]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"anti-aging-extension-{version}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in packaged_files(root):
            info = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / relative).read_bytes())
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EXTENSION.parent / "out", help="folder for the zip (default: out/)")
    args = parser.parse_args(argv)
    target = build(args.out)
    print(f"{target} ({target.stat().st_size // 1024} KiB): upload it in the Chrome Web Store developer dashboard,"
          " or unzip it and pick the folder with \"Load unpacked\".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
