"""`pip install .` gives a working `anti-aging` command, with the shipped checkpoint and the demo page."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the sources (the build leaves nothing in the checkout)."""
    source = tmp_path_factory.mktemp("src")
    for name in ("server", "models"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "devset"))
    shutil.copy(REPO / "pyproject.toml", source)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(source)], check=True, capture_output=True, timeout=300)
    [path] = out.glob("anti_aging-*.whl")
    return path


def test_wheel_holds_code_checkpoints_demo_page_and_the_command(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for required in ("server/__main__.py", "server/wsgi.py", "models/nets/nafunet.py", "models/checkpoints/nafunet.pt",
                     "models/data/lexicon/en.tsv.gz", "models/reading/line_finder.py",
                     "server/static/index.html", "server/static/demo.js", "server/static/demo.css"):
        assert required in names
    assert not any(name.startswith(("tests/", "extension/")) for name in names)
    assert "anti-aging = server.__main__:main" in entry_points


def test_installed_command_works_from_any_directory(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(tmp_path)}  # no repo on the path
    command = str(target / "bin" / "anti-aging")
    help_text = subprocess.run([command, "--help"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert help_text.returncode == 0, help_text.stderr
    assert "usage: anti-aging" in help_text.stdout and "install-service" in help_text.stdout

    Image.fromarray(np.full((12, 20, 3), 200, np.uint8)).save(elsewhere / "shot.png")
    result = subprocess.run([command, "sharpen", "shot.png", "--sigma", "1", "--torch-threads", "1"], cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert Image.open(elsewhere / "shot.sharp.png").size == (20, 12)
    # The shipped checkpoint came from the installed package, not from this checkout.
    probe = subprocess.run([sys.executable, "-c", "import models; print(models.default_checkpoint())"], cwd=elsewhere,
                           env=env, capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == str(target / "models" / "checkpoints" / "nafunet.pt")
