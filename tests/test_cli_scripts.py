"""The bench and load scripts run end to end on a tiny model (their figures are printed, not asserted)."""
import sys
from pathlib import Path

import pytest

from models import build_model, save_checkpoint
from server import bench, loadtest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, build_model("nafunet", width=8))
    return path


@pytest.mark.starts_server
def test_bench_prints_throughput_and_latency(checkpoint, capsys):
    bench.main(["--checkpoint", str(checkpoint), "--sizes", "48x32,64x64", "--configs", "fp32,bf16+channels_last",
                "--seconds", "0", "--torch-threads", "1", "--sigma-images", "1", "--sigma-size", "48"])
    out = capsys.readouterr().out
    assert f"model: {checkpoint}" in out
    launch_lines = [line for line in out.splitlines() if line.startswith("  ") and " serve (" in line]
    assert len(launch_lines) == len(bench.launchers())  # each launch path is measured or says why not
    measured = [line for line in launch_lines if "skipped" not in line]
    assert out.count("MP/s") == 4 + 2 + 2 * len(measured)  # the table, the model alone, sigma 2 and blind
    assert "end to end, 1200x400 PNG" in out and "median" in out
    assert "model alone, one forward pass" in out and "1024x1024" in out.split("model alone")[1]
    launched = [line for line in out.splitlines() if "python -m server serve (direct start" in line]
    assert len(launched) == 1 and "1024x1024" in launched[0] and "allocator" in launched[0]
    assert "1200x400 sigma 2 median" in launched[0] and "load " in launched[0]
    assert "trained to sigma 8, served to 32" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("16 ", "32 "))]) == 2


@pytest.mark.slow
def test_bench_launches_only_servers_that_run_this_checkout(tmp_path):
    here = Path(bench.__file__).resolve().parent
    python = [sys.executable, "-m", "server"]
    assert bench.imported_package(python, here.parent) == here
    other = tmp_path / "other" / "server"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    script = tmp_path / "bin" / "anti-aging"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport sys\n")
    assert bench.imported_package(python, other.parent) == other.resolve()  # -m: the start directory first
    assert bench.imported_package([str(script)], other.parent) != other.resolve()  # a script: not the start directory


@pytest.mark.slow
def test_bench_without_checkpoint_says_weights_are_random(tmp_path, capsys):
    bench.main(["--checkpoint", str(tmp_path / "missing.pt"), "--sizes", "32x32", "--configs", "fp32",
                "--seconds", "0", "--no-e2e", "--torch-threads", "1", "--sigma-images", "0"])
    assert "random weights" in capsys.readouterr().out


@pytest.mark.starts_server
def test_loadtest_runs_clean_against_its_own_server(checkpoint, capsys):
    assert loadtest.main(["--checkpoint", str(checkpoint), "--clients", "2", "--requests", "3", "--torch-threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 clients x 3 requests = 6 requests" in out and "errors: 0" in out
    assert "p50" in out and "server RSS" in out


@pytest.mark.parametrize("argv", [["--url", "http://example.com:8765"], ["--url", "http://10.0.0.2:8765"],
                                  ["--clients", "100"], ["--requests", "0"]])
def test_loadtest_refuses_remote_targets_and_unbounded_runs(argv):
    with pytest.raises(SystemExit):
        loadtest.main(argv)


@pytest.mark.starts_server
def test_loadtest_peak_mode_reports_the_servers_peak_memory(checkpoint, capsys):
    assert loadtest.main(["--checkpoint", str(checkpoint), "--peak", "300x200", "--torch-threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "one 300x200 image" in out and "ok in" in out and "server peak RSS" in out
