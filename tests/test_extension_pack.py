"""`make extension`: the Chrome Web Store zip and the Firefox package (extension/pack.py)."""
import json
import shutil
import subprocess
import zipfile

import pytest

from extension_support import EXTENSION, ROOT, load_pack

WEB_EXT = ROOT / "node_modules" / ".bin" / "web-ext"


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


def test_firefox_package_is_the_same_files_with_a_firefox_manifest(tmp_path):
    pack = load_pack()
    chrome = pack.build(tmp_path / "out")
    firefox = pack.build_firefox(tmp_path / "out")
    source = json.loads((EXTENSION / "manifest.json").read_text())
    assert firefox.name == f"anti-aging-extension-firefox-{source['version']}.zip"
    with zipfile.ZipFile(chrome) as a, zipfile.ZipFile(firefox) as b:
        assert a.namelist() == b.namelist()
        assert all(a.read(name) == b.read(name) for name in a.namelist() if name != "manifest.json")
        manifest = json.loads(b.read("manifest.json"))
    # Firefox has no extension service workers: the same module runs as its event page
    assert manifest["background"] == {**source["background"], "scripts": [source["background"]["service_worker"]]}
    gecko = manifest["browser_specific_settings"]["gecko"]
    assert gecko["id"] == pack.GECKO_ID and gecko["data_collection_permissions"] == {"required": ["none"]}
    assert "minimum_chrome_version" not in manifest
    # nothing else changes: the same permissions, no <all_urls>
    unchanged = {key: value for key, value in source.items() if key not in ("background", "minimum_chrome_version")}
    assert {key: manifest[key] for key in unchanged} == unchanged
    assert pack.build_firefox(tmp_path / "again").read_bytes() == firefox.read_bytes()


def test_both_packages_carry_every_locale(tmp_path):
    pack = load_pack()
    locales = sorted(path.name for path in (EXTENSION / "_locales").iterdir())
    assert {"en", "ko"} <= set(locales)
    for target in (pack.build(tmp_path / "chrome"), pack.build_firefox(tmp_path / "firefox")):
        with zipfile.ZipFile(target) as archive:
            names = set(archive.namelist())
            manifest = json.loads(archive.read("manifest.json"))
        assert {f"_locales/{locale}/messages.json" for locale in locales} <= names, target.name
        # the browser resolves __MSG_ names from default_locale when the user's language is missing
        assert manifest["default_locale"] == "en" and manifest["name"] == "__MSG_extension_name__", target.name


@pytest.mark.skipif(not WEB_EXT.exists(), reason="Mozilla's web-ext is not installed: run `npm ci`")
def test_firefox_package_passes_mozillas_linter(tmp_path):
    package = load_pack().build_firefox(tmp_path)
    run = subprocess.run([str(WEB_EXT), "lint", "--source-dir", str(package), "--output", "json", "--no-config-discovery"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    report = json.loads(run.stdout)
    assert report["errors"] == [], report["errors"]
    unsafe = [message for message in report["warnings"] if message["code"].startswith("UNSAFE_")]
    assert unsafe == [], unsafe
    # The only warnings left: service_worker kept beside scripts (this manifest loads in Chrome 121+ too), and
    # Firefox for Android, which is no target (no context menus, no local server).
    assert {message["code"] for message in report["warnings"]} <= {
        "BACKGROUND_SERVICE_WORKER_IGNORED", "KEY_FIREFOX_ANDROID_UNSUPPORTED_BY_MIN_VERSION"}, report["warnings"]
