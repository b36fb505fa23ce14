"""Build the store packages from extension/: out/anti-aging-extension-<version>.zip (Chrome Web
Store) and out/anti-aging-extension-firefox-<version>.zip (addons.mozilla.org, or Firefox's
about:debugging as a temporary add-on).

The version comes from manifest.json. The zips hold what the browser loads and nothing else: no
tests, no source maps, not this script; entries are sorted and dated 1980-01-01 so the same
sources give the same bytes. The Firefox package differs only in its manifest (firefox_manifest).
Run with `make extension` or `python3 extension/pack.py [--out DIR]`.
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
GECKO_ID = "anti-aging@anti-aging.local"
# captureVisibleTab under activeTab (126) and gecko.data_collection_permissions (140): ESR 140.
FIREFOX_MIN_VERSION = "140.0"


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


def firefox_manifest(manifest):
    """Chrome's manifest made loadable by Firefox.

    Firefox runs no extension service workers: it loads `background.scripts` as an event page
    (an ES module, like the worker, with `type`), and Chrome 121+ ignores that key beside
    `service_worker`, so both stay. Firefox wants an add-on id for MV3 (and for storage.sync),
    and AMO wants the data the add-on collects declared: none leaves the machine.
    """
    firefox = {key: value for key, value in manifest.items() if key != "minimum_chrome_version"}
    background = manifest["background"]
    firefox["background"] = {**background, "scripts": [background["service_worker"]]}
    firefox["browser_specific_settings"] = {"gecko": {
        "id": GECKO_ID, "strict_min_version": FIREFOX_MIN_VERSION, "data_collection_permissions": {"required": ["none"]}}}
    return firefox


def write_zip(target, root, manifest_text):
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in packaged_files(root):
            info = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = manifest_text.encode() if relative.as_posix() == "manifest.json" else (root / relative).read_bytes()
            archive.writestr(info, data)
    return target


def build(out_dir, root=EXTENSION):
    """The Chrome Web Store zip."""
    text = (root / "manifest.json").read_text()
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_zip(out_dir / f"anti-aging-extension-{json.loads(text)['version']}.zip", root, text)


def build_firefox(out_dir, root=EXTENSION):
    """The Firefox zip: the same files, with firefox_manifest's manifest."""
    manifest = firefox_manifest(json.loads((root / "manifest.json").read_text()))
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_zip(out_dir / f"anti-aging-extension-firefox-{manifest['version']}.zip", root,
                     json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EXTENSION.parent / "out", help="folder for the zips (default: out/)")
    args = parser.parse_args(argv)
    target = build(args.out)
    print(f"{target} ({target.stat().st_size // 1024} KiB): upload it in the Chrome Web Store developer dashboard,"
          " or unzip it and pick the folder with \"Load unpacked\".")
    target = build_firefox(args.out)
    print(f"{target} ({target.stat().st_size // 1024} KiB): upload it to addons.mozilla.org for signing,"
          " or pick it in about:debugging \"Load Temporary Add-on\".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
