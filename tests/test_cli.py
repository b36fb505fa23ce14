"""`python -m server`: serve (as a real subprocess), sharpen, read, install-service / uninstall-service."""
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import io

import numpy as np
import pytest
import requests
from PIL import Image

from models import build_model, save_checkpoint
from read_page import save_x_reader
from server import CHECKPOINT_ENV, resolve_checkpoint
from server.__main__ import OutputCollision, bound_url, format_reading, load_reader, main, mark_uncertain, plan_outputs
from server.reading import READER_ENV
from server.runtime import ALLOCATOR_ENV, find_tcmalloc
from server.service import UNIT_NAME, unit_text
from server_support import RecordingRunner, assert_reading, text_image

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, build_model("nafunet", width=8))
    return path


def run_cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.starts_server
def test_serve_without_checkpoint_exits_with_a_clear_message(tmp_path):
    missing = tmp_path / "nope.pt"
    for args, env in ((["--checkpoint", str(missing)], None), ([], {CHECKPOINT_ENV: str(missing)})):
        result = run_cli("serve", "--port", str(free_port()), *args, env=env)
        assert result.returncode != 0
        assert "checkpoint not found" in result.stderr and str(missing) in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.starts_server
def test_serve_with_a_broken_checkpoint_exits_cleanly(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    result = run_cli("serve", "--checkpoint", str(broken))
    assert result.returncode != 0 and "cannot read checkpoint" in result.stderr
    assert "Traceback" not in result.stderr


def test_checkpoint_resolution_order(monkeypatch):
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    assert resolve_checkpoint() == str(REPO / "models" / "checkpoints" / "nafunet.pt")
    monkeypatch.setenv(CHECKPOINT_ENV, "/env.pt")
    assert resolve_checkpoint() == "/env.pt"
    assert resolve_checkpoint("/flag.pt") == "/flag.pt"


def start_serve(checkpoint, log, preexec_fn=None, extra_args=()):
    """`python -m server serve` on a free port, logging to ``log``; returns (process, url) once /healthz answers."""
    port = free_port()
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--checkpoint", str(checkpoint),
                                    "--port", str(port), "--torch-threads", "1", *extra_args], cwd=REPO, stdout=out,
                                   stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            requests.get(url + "/healthz", timeout=5)
            return process, url
        except requests.ConnectionError:
            assert process.poll() is None, log.read_text()
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError("server did not start")
            time.sleep(0.3)


def stop(process, signum=signal.SIGINT, within=30):
    """Send ``signum``; the return code once the process is gone (killed, and the test failed, after ``within`` s)."""
    process.send_signal(signum)
    try:
        return process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"the server did not exit within {within} s of {signal.Signals(signum).name}") from None


@pytest.mark.starts_server
def test_serve_runs_waitress_and_logs_each_request(checkpoint, tmp_path):
    log = tmp_path / "serve.log"
    process, url = start_serve(checkpoint, log)
    try:
        health = requests.get(url + "/healthz", timeout=5)
        assert health.json()["model"] == "nafunet"
        assert requests.get(url + "/healthz", headers={"Origin": "http://example.com"}, timeout=5).status_code == 403
        maps = Path(f"/proc/{process.pid}/maps").read_text()  # the same process: it re-executed itself in place
    finally:
        assert stop(process) == 0
    text = log.read_text()
    assert f"serving {url}/" in text
    assert "device cpu, precision " in text and ", 1 torch threads (OpenMP wait " in text and "allocator " in text
    if find_tcmalloc() and not os.environ.get(ALLOCATOR_ENV):  # started plainly, it set up tcmalloc itself
        assert "allocator tcmalloc" in text and "libtcmalloc" in maps
    assert "GET /healthz 200" in text and "GET /healthz 403" in text
    assert "anti-aging: stopped (SIGINT)" in text
    assert "Traceback" not in text
    assert "Development server" not in text  # waitress, not Flask's development server


@pytest.mark.starts_server
def test_serve_with_a_reader_answers_read_and_names_it_at_start(checkpoint, reader_checkpoint, tmp_path):
    log = tmp_path / "serve.log"
    process, url = start_serve(checkpoint, log, extra_args=("--reader", str(reader_checkpoint)))
    try:
        response = requests.post(url + "/v1/read?sigma=2", data=png_bytes_of(text_image("Hello world")),
                                 headers={"Content-Type": "image/png"}, timeout=30)
        assert response.status_code == 200
        assert_reading(response.json())
    finally:
        assert stop(process) == 0
    assert f"reader from {reader_checkpoint}; serving {url}/" in log.read_text()


def test_serve_needs_a_reader_it_is_told_to_use_but_not_the_default_one(tmp_path, monkeypatch):
    import argparse

    from server import reading

    monkeypatch.delenv(READER_ENV, raising=False)
    monkeypatch.setattr(reading, "DEFAULT_READER", tmp_path / "reader.pt")
    monkeypatch.setattr(reading, "DEFAULT_SVTR", tmp_path / "svtr_reader.pt")
    monkeypatch.setattr(reading, "DEFAULT_DETECTOR", tmp_path / "line_detector.pt")
    monkeypatch.setattr(reading, "DEFAULT_KOREAN_SVTR", tmp_path / "svtr_korean.pt")
    monkeypatch.delenv(reading.DETECTOR_ENV, raising=False)
    monkeypatch.delenv(reading.KOREAN_SVTR_ENV, raising=False)
    # the shipped ones missing: serve still starts
    without = load_reader(argparse.Namespace(reader=None, svtr=None, detector=None, korean_svtr=None), "cpu")
    assert without.describe() == {"checkpoint": str(tmp_path / "reader.pt"), "svtr": None, "korean_svtr": None,
                                  "detector": None, "loaded": False, "available": False}
    for named in ("flag", "env"):
        if named == "env":
            monkeypatch.setenv(READER_ENV, str(tmp_path / "named.pt"))
        with pytest.raises(SystemExit, match="named.pt is not there; pass --reader PATH"):
            load_reader(argparse.Namespace(reader=str(tmp_path / "named.pt") if named == "flag" else None, svtr=None,
                                           detector=None, korean_svtr=None), "cpu")


@pytest.mark.starts_server
def test_serve_stops_on_sigint_even_when_started_with_sigint_ignored(checkpoint, tmp_path):
    """A background job of a non-interactive shell (`serve &` in a script, a test run in the background)
    inherits SIGINT ignored; the server used to ignore SIGINT then, for good."""
    log = tmp_path / "serve.log"
    process, _ = start_serve(checkpoint, log, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert stop(process, within=20) == 0, log.read_text()
    assert "anti-aging: stopped (SIGINT)" in log.read_text()


@pytest.mark.starts_server
def test_serve_stops_on_sigterm_with_requests_in_flight(checkpoint, tmp_path):
    log = tmp_path / "serve.log"
    process, url = start_serve(checkpoint, log)
    image = tmp_path / "big.png"
    write_image(image, (1200, 1200))
    answers = []

    def post():
        try:
            answers.append(requests.post(url + "/v1/sharpen?sigma=2", data=image.read_bytes(),
                                         headers={"Content-Type": "image/png"}, timeout=60).status_code)
        except requests.RequestException as exc:
            answers.append(type(exc).__name__)

    clients = [threading.Thread(target=post) for _ in range(3)]
    for client in clients:
        client.start()
    time.sleep(0.5)  # the requests are in the engine
    assert stop(process, signal.SIGTERM, within=30) == 0, log.read_text()
    for client in clients:
        client.join(30)
    assert len(answers) == 3  # every client got an answer or a closed connection, none hangs
    text = log.read_text()
    assert "anti-aging: stopped (SIGTERM)" in text and "Traceback" not in text


@pytest.mark.starts_server
def test_serve_on_a_busy_port_exits_cleanly(checkpoint):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = run_cli("serve", "--checkpoint", str(checkpoint), "--port", str(sock.getsockname()[1]))
    assert result.returncode != 0 and "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


def png_bytes_of(image):
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def write_image(path, size, mode="RGB"):
    channels = len(mode)
    pixels = np.random.default_rng(len(str(path))).integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_sharpen_files_to_out_dir_with_progress(checkpoint, tmp_path, capsys):
    first = write_image(tmp_path / "one.png", (30, 20))
    second = write_image(tmp_path / "two.webp", (17, 41))
    out_dir = tmp_path / "out"
    assert main(["sharpen", str(first), str(second), "--out-dir", str(out_dir), "--sigma", "2",
                 "--checkpoint", str(checkpoint)]) == 0
    assert Image.open(out_dir / "one.png").size == (30, 20)
    assert Image.open(out_dir / "two.png").size == (17, 41)
    assert "2/2" in capsys.readouterr().err  # the tqdm progress bar


def test_sharpen_output_naming_alpha_and_failures(checkpoint, tmp_path, capsys):
    source = write_image(tmp_path / "alpha.png", (25, 15), "RGBA")
    explicit = tmp_path / "explicit.png"
    assert main(["sharpen", str(source), "-o", str(explicit), "--checkpoint", str(checkpoint)]) == 0
    result = Image.open(explicit)
    assert result.mode == "RGBA"
    assert np.array_equal(np.asarray(result)[:, :, 3], np.asarray(Image.open(source))[:, :, 3])

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    assert main(["sharpen", str(broken), str(source), "--checkpoint", str(checkpoint)]) == 1
    assert (tmp_path / "alpha.sharp.png").is_file()
    assert "broken.png" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["sharpen", str(source), str(source), "-o", str(explicit), "--checkpoint", str(checkpoint)])


def test_install_and_uninstall_service(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    unit = tmp_path / "config" / "systemd" / "user" / UNIT_NAME
    runner = RecordingRunner()

    assert main(["install-service", "--port", "9123", "--token", "t0k", "--allow-origin",
                 "chrome-extension://abc", "--checkpoint", "rel/model.pt", "--reader", "rel/reader.pt"],
                runner=runner) == 0
    text = unit.read_text()
    assert runner.calls == []  # no --enable: systemctl is not touched
    assert f"ExecStart={sys.executable} -m server serve --host 127.0.0.1 --port 9123" in text
    assert f"--reader {Path('rel/reader.pt').resolve()}" in text
    assert "--token t0k" in text and "--allow-origin chrome-extension://abc" in text
    assert f"--checkpoint {Path('rel/model.pt').resolve()}" in text
    assert "WantedBy=default.target" in text and f"WorkingDirectory={REPO}" in text
    assert stat.S_IMODE(unit.stat().st_mode) == 0o600

    assert main(["install-service", "--enable"], runner=runner) == 0
    assert runner.calls == [["systemctl", "--user", "daemon-reload"],
                            ["systemctl", "--user", "enable", "--now", UNIT_NAME]]

    runner.calls.clear()
    assert main(["uninstall-service"], runner=runner) == 0
    assert not unit.exists()
    assert runner.calls == [["systemctl", "--user", "disable", "--now", UNIT_NAME],
                            ["systemctl", "--user", "daemon-reload"]]
    runner.calls.clear()
    assert main(["uninstall-service"], runner=runner) == 0
    assert runner.calls == [] and "nothing to remove" in capsys.readouterr().out


def test_unit_quotes_paths_with_spaces():
    text = unit_text(["--checkpoint", "/my models/50%.pt", "--token", "a$b"], python="/opt/my env/bin/python",
                     workdir="/a b%")
    assert 'ExecStart="/opt/my env/bin/python" -m server serve --checkpoint "/my models/50%%.pt" --token a$$b' in text
    assert "WorkingDirectory=/a b%%\n" in text


def test_sharpen_never_replaces_an_input(checkpoint, tmp_path):
    source = write_image(tmp_path / "a.png", (20, 12))
    original = source.read_bytes()
    # --out-dir is the input's own folder: a.png would be the output name; it is renamed instead.
    assert main(["sharpen", str(source), "--out-dir", str(tmp_path), "--checkpoint", str(checkpoint)]) == 0
    assert source.read_bytes() == original
    assert Image.open(tmp_path / "a.png.png").size == (20, 12)
    for flags in ([], ["--overwrite"]):  # -o naming the input itself fails, --overwrite or not
        with pytest.raises(SystemExit, match="is an input"):
            main(["sharpen", str(source), "-o", str(source), *flags, "--checkpoint", str(checkpoint)])
        assert source.read_bytes() == original


def test_colliding_outputs_get_distinct_names(checkpoint, tmp_path, capsys):
    png = write_image(tmp_path / "x.png", (20, 10))
    jpg = write_image(tmp_path / "x.jpg", (30, 10))
    out = tmp_path / "out"
    assert main(["sharpen", str(png), str(jpg), "--out-dir", str(out), "--checkpoint", str(checkpoint)]) == 0
    assert Image.open(out / "x.png").size == (20, 10)
    assert Image.open(out / "x.jpg.png").size == (30, 10)
    assert "x.jpg.png" in capsys.readouterr().err  # the rename is announced
    # Beside the inputs: x.sharp.png and x.sharp.jpg.png.
    assert main(["sharpen", str(png), str(jpg), "--checkpoint", str(checkpoint)]) == 0
    assert Image.open(tmp_path / "x.sharp.png").size == (20, 10)
    assert Image.open(tmp_path / "x.sharp.jpg.png").size == (30, 10)


@pytest.mark.slow
def test_existing_outputs_are_kept_unless_overwrite(checkpoint, tmp_path):
    source = write_image(tmp_path / "b.png", (16, 16))
    existing = tmp_path / "b.sharp.png"
    existing.write_bytes(b"precious")
    with pytest.raises(SystemExit, match="already exists; pass --overwrite"):
        main(["sharpen", str(source), "--checkpoint", str(checkpoint)])
    assert existing.read_bytes() == b"precious"
    result = run_cli("sharpen", str(source), "--checkpoint", str(checkpoint), "--torch-threads", "1")
    assert result.returncode != 0 and "already exists" in result.stderr
    assert existing.read_bytes() == b"precious"

    assert main(["sharpen", str(source), "--overwrite", "--checkpoint", str(checkpoint)]) == 0
    assert Image.open(existing).size == (16, 16)
    assert not list(tmp_path.glob(".*partial"))


def test_plan_outputs_is_decided_before_writing(tmp_path):
    names = [str(tmp_path / n) for n in ("x.png", "x.jpg", "x.webp", "x.png")]  # the repeated input runs once
    plan = plan_outputs(names, out_dir=str(tmp_path / "o"), exists=lambda path: False)
    assert [(s.name, t.name, renamed) for s, t, renamed in plan] == [
        ("x.png", "x.png", False), ("x.jpg", "x.jpg.png", True), ("x.webp", "x.webp.png", True)]
    with pytest.raises(OutputCollision, match="already exists"):
        plan_outputs(names[:1], exists=lambda path: path.name == "x.sharp.png")
    assert plan_outputs(names[:1], overwrite=True, exists=lambda path: True)[0][1].name == "x.sharp.png"


def test_banner_names_the_bound_address():
    class Bound:
        def __init__(self, host, port):
            self.effective_host, self.effective_port = host, port

    assert bound_url(Bound("127.0.0.1", 8765)) == "http://127.0.0.1:8765/"
    assert bound_url(Bound("::1", 8765)) == "http://[::1]:8765/"


# --- read ---------------------------------------------------------------------------------------

def listing(folder):
    return {path: (path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*")}


def test_read_prints_each_file_with_its_verdict_and_writes_nothing(reader_checkpoint, tmp_path, capsys):
    text = tmp_path / "text.png"
    text_image("Hello world").save(text)
    thumbnail = tmp_path / "thumb.png"
    text_image("Invoice 42", size=(240, 72), font_px=40).resize((40, 12), Image.LANCZOS).save(thumbnail)
    before = listing(tmp_path)
    assert main(["read", str(text), str(thumbnail), "--sigma", "2", "--reader", str(reader_checkpoint)]) == 0
    out = capsys.readouterr().out
    # The untrained reader is sure of nothing: both are unreadable, said plainly, with no invented letters.
    assert out == f"{text}: unreadable: this cannot be read\n\n{thumbnail}: unreadable: this cannot be read\n"
    assert listing(tmp_path) == before


def test_read_json_is_one_object_per_file_as_the_api_answers(tmp_path, capsys):
    text = tmp_path / "text.png"
    text_image("Hello world").save(text)
    blank = tmp_path / "blank.webp"
    Image.new("RGB", (50, 20), "white").save(blank)
    # the "x" reader is sure of every line (an untrained reader's lines are junk, never answered)
    x_reader = save_x_reader(tmp_path / "x_reader.pt")
    assert main(["read", str(text), str(blank), "--json", "--reader", str(x_reader)]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["file"] == str(text) and first["sigma"] is None and first["lines"]
    assert_reading(first)
    assert (second["file"], second["text"], second["verdict"]) == (str(blank), "", "unreadable")


def test_read_reports_missing_and_undecodable_files_and_exits_1(reader_checkpoint, tmp_path, capsys):
    good = tmp_path / "good.png"
    text_image("Hi", size=(80, 40)).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    missing = tmp_path / "missing.png"
    args = ["read", str(missing), str(broken), str(good), "--reader", str(reader_checkpoint)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert f"{missing}: cannot open: No such file or directory" in captured.err
    assert f"{broken}: not a supported image" in captured.err
    assert f"{good}: " in captured.out and str(missing) not in captured.out
    assert main([*args, "--json"]) == 1
    errors = [json.loads(line) for line in capsys.readouterr().out.splitlines()][:2]
    assert [(e["file"], e["error"]["code"]) for e in errors] == [(str(missing), "cannot_open"),
                                                                (str(broken), "bad_image")]


@pytest.mark.slow
def test_read_without_a_reader_or_with_a_bad_sigma_exits_with_a_clear_message(reader_checkpoint, tmp_path):
    image = tmp_path / "a.png"
    text_image("Hi", size=(80, 40)).save(image)
    with pytest.raises(SystemExit, match="nope.pt is not there; pass --reader PATH"):
        main(["read", str(image), "--reader", str(tmp_path / "nope.pt")])
    with pytest.raises(SystemExit, match="sigma must be a finite number >= 0"):
        main(["read", str(image), "--sigma", "-1", "--reader", str(reader_checkpoint)])
    result = run_cli("read", str(image), str(tmp_path / "gone.png"), "--reader", str(reader_checkpoint),
                     "--torch-threads", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{image}: unreadable" in result.stdout and "gone.png: cannot open" in result.stderr


def test_uncertain_characters_are_bracketed_in_runs():
    assert mark_uncertain("Total", [0.99, 0.5, 0.95, 0.2, 0.3], 0.9) == "T[o]t[al]"
    assert mark_uncertain("ok", [0.9, 0.95], 0.9) == "ok"
    assert mark_uncertain("ab", [0.1, 0.1], 0.9) == "[ab]"


def test_brackets_and_backslashes_read_are_escaped_so_the_marks_stay_unambiguous():
    assert mark_uncertain("a[1]", [0.99, 0.99, 0.2, 0.99], 0.9) == "a\\[[1]\\]"
    assert mark_uncertain("C:\\x", [0.99] * 4, 0.9) == "C:\\\\x"


def test_plain_output_gives_the_verdict_in_words_and_a_legend_only_when_needed():
    line = {"text": "Total due", "box": [0, 0, 90, 12], "confidence": [0.99] * 6 + [0.4, 0.4, 0.99]}
    partly = {"text": "Total due", "lines": [line], "verdict": "partly", "confident_share": 0.78}
    assert format_reading("a.png", partly, 0.9) == (
        "a.png: partly readable (78% of the characters read with confidence; [brackets] mark the uncertain ones, "
        "\\[ and \\] are brackets read)\n"
        "Total [du]e")
    sure = {**line, "confidence": [0.99] * 9}
    readable = {"text": "Total due", "lines": [sure, sure], "verdict": "readable", "confident_share": 1.0}
    assert format_reading("b.png", readable, 0.9) == (
        "b.png: readable (100% of the characters read with confidence)\nTotal due\nTotal due")
    unreadable = {"text": "xq", "lines": [{**line, "text": "xq", "confidence": [0.1, 0.2]}], "verdict": "unreadable",
                  "confident_share": 0.0}
    assert format_reading("c.png", unreadable, 0.9) == "c.png: unreadable: this cannot be read"
