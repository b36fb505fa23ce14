"""`pip install .` gives a working `anti-aging` command: the wheel holds the code, the shipped checkpoints and
the demo page, and installed with its declared dependencies into a fresh venv, it serves from an empty folder
and reads and sharpens a blurred line."""
import io
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
from packaging.requirements import Requirement
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parent.parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINE = "The quick brown fox"
SIGMA = 1.5
INSTALL_TIMEOUT_S = 900  # torch alone is a few hundred MB to unpack
START_TIMEOUT_S = 180
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
                     "models/checkpoints/reader.pt", "models/data/lexicon/en.tsv.gz", "models/reading/line_finder.py",
                     "server/static/index.html", "server/static/demo.js", "server/static/demo.css"):
        assert required in names
    assert not any(name.startswith(("tests/", "extension/")) for name in names)
    assert "anti-aging = server.__main__:main" in entry_points


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A fresh venv holding the wheel and what it declares, torch pinned as requirements.txt pins it (the CPU
    wheel: an unpinned torch pulls gigabytes of CUDA)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    lines = (REPO / "requirements.txt").read_text().splitlines()
    [torch_pin] = [line for line in lines if line.strip() and not line.startswith("#")
                   and Requirement(line).name == "torch"]
    install = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", torch_pin, str(wheel)],
                             capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    assert install.returncode == 0, f"pip install {torch_pin} <wheel> failed:\n{install.stdout}{install.stderr}"
    return venv


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def blurred_line():
    sharp = Image.new("RGB", (420, 80), "white")
    ImageDraw.Draw(sharp).text((10, 25), LINE, fill="black", font=ImageFont.truetype(FONT, 28))
    return sharp, sharp.filter(ImageFilter.GaussianBlur(SIGMA))


def wait_until_serving(url, process, log):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`anti-aging serve` exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    pytest.fail(f"`anti-aging serve` did not answer /healthz within {START_TIMEOUT_S} s:\n{log.read_text()}")


def test_installed_command_serves_from_an_empty_folder_and_reads_and_sharpens_a_blurred_line(venv, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    log = tmp_path / "serve.log"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # neither the checkout nor its venv on any path
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        process = subprocess.Popen([venv / "bin" / "anti-aging", "serve", "--port", str(port), "--torch-threads", "1"],
                                   cwd=empty, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(url, process, log)
        sharp, blurred = blurred_line()
        data = io.BytesIO()
        blurred.save(data, "PNG")
        headers = {"Content-Type": "image/png"}
        read = requests.post(f"{url}/v1/read?sigma={SIGMA}", data=data.getvalue(), headers=headers, timeout=120)
        assert read.status_code == 200, read.text
        assert read.json()["text"] == LINE
        sharpened = requests.post(f"{url}/v1/sharpen?sigma={SIGMA}", data=data.getvalue(), headers=headers, timeout=120)
        assert sharpened.status_code == 200, sharpened.text
        result = np.asarray(Image.open(io.BytesIO(sharpened.content)).convert("RGB"), np.float32)
        truth = np.asarray(sharp, np.float32)
        assert np.abs(result - truth).mean() < 0.5 * np.abs(np.asarray(blurred, np.float32) - truth).mean()
        # Both checkpoints came from the installed package, not from this checkout.
        models = requests.get(url + "/v1/models", timeout=10).json()
        [loaded] = [model for model in models["models"] if model["loaded"]]
        for checkpoint in (loaded["checkpoint"], models["reader"]["checkpoint"]):
            assert Path(checkpoint).is_relative_to(venv), checkpoint
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text()
