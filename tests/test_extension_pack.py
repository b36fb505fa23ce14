"""`make extension`: the Chrome Web Store zip (extension/pack.py)."""
import importlib.util
import json
import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"


def load_pack():
    spec = importlib.util.spec_from_file_location("extension_pack", EXTENSION / "pack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zip_is_versioned_and_holds_what_chrome_loads_only(tmp_path):
    pack = load_pack()
    source = tmp_path / "extension"
    shutil.copytree(EXTENSION, source, ignore=shutil.ignore_patterns("__pycache__"))
    # things that must stay out, planted next to the real files
    (source / "lib" / "sharpen.js.map").write_text("{}")
    (source / "lib" / "geometry.test.mjs").write_text("")
    (source / "tests").mkdir()
    (source / "tests" / "helper.js").write_text("")
    (source / ".eslintrc.json").write_text("{}")
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["version"] = "9.8.7"
    (source / "manifest.json").write_text(json.dumps(manifest))

    target = pack.build(tmp_path / "out", root=source)
    assert target.name == "anti-aging-extension-9.8.7.zip"
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        assert json.loads(archive.read("manifest.json"))["version"] == "9.8.7"
    expected = {p.relative_to(EXTENSION).as_posix() for p in EXTENSION.rglob("*")
                if p.is_file() and p.suffix in (".js", ".json", ".html", ".css", ".png")}
    assert names == expected
    assert not any(name.endswith((".map", ".py", ".mjs")) or name.startswith(("tests/", ".")) for name in names)
    # every file the manifest names is in the package
    named = [manifest["background"]["service_worker"], manifest["action"]["default_popup"], manifest["options_ui"]["page"],
             *manifest["icons"].values(), *[r for entry in manifest["web_accessible_resources"] for r in entry["resources"]]]
    assert set(named) <= names


def test_same_sources_give_the_same_bytes(tmp_path):
    pack = load_pack()
    first = pack.build(tmp_path / "a").read_bytes()
    second = pack.build(tmp_path / "b").read_bytes()
    assert first == second
