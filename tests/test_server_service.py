"""Login services on all three desktop OSes (files parsed, commands recorded) and the allocator setup."""
import plistlib
import sys
import xml.etree.ElementTree as ET

import pytest

from server import runtime, service
from server.__main__ import main
from server_support import RecordingRunner

NS = {"t": service.TASK_NAMESPACE}


def test_launchd_plist_runs_serve_at_login_and_restarts_on_failure(tmp_path):
    plist = plistlib.loads(service.launchd_plist(["--port", "9000", "--token", "a b"], python="/opt/py/bin/python3",
                                                 workdir="/opt/app dir", log_dir=tmp_path))
    assert plist["Label"] == service.LAUNCHD_LABEL
    assert plist["ProgramArguments"] == ["/opt/py/bin/python3", "-m", "server", "serve", "--port", "9000",
                                         "--token", "a b"]
    assert plist["WorkingDirectory"] == "/opt/app dir"
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["StandardErrorPath"] == str(tmp_path / "anti-aging.log")


def test_task_scheduler_xml_runs_serve_at_the_users_logon(tmp_path):
    (tmp_path / "python.exe").touch()
    (tmp_path / "pythonw.exe").touch()
    text = service.task_xml(["--token", 'say "hi"', "--port", "9000"], "PC\\ada", python=tmp_path / "python.exe",
                            workdir="C:\\Program Files\\anti-aging", log_file="C:\\Users\\ada\\serve.log")
    assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>')
    task = ET.fromstring(text.split("\n", 1)[1])
    assert task.tag == f"{{{service.TASK_NAMESPACE}}}Task"
    assert task.find("t:Triggers/t:LogonTrigger/t:UserId", NS).text == "PC\\ada"
    assert task.find("t:Principals/t:Principal/t:LogonType", NS).text == "InteractiveToken"
    assert task.find("t:Principals/t:Principal/t:RunLevel", NS).text == "LeastPrivilege"
    assert task.find("t:Settings/t:ExecutionTimeLimit", NS).text == "PT0S"  # never stopped for running long
    assert task.find("t:Settings/t:RestartOnFailure/t:Count", NS) is not None
    action = task.find("t:Actions/t:Exec", NS)
    assert action.find("t:Command", NS).text == str(tmp_path / "pythonw.exe")  # no console window
    assert action.find("t:Arguments", NS).text == \
        '-m server serve --token "say \\"hi\\"" --port 9000 --log-file C:\\Users\\ada\\serve.log'
    assert action.find("t:WorkingDirectory", NS).text == "C:\\Program Files\\anti-aging"


def test_install_and_uninstall_on_macos(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    runner = RecordingRunner()
    assert main(["install-service", "--port", "9123", "--enable"], runner=runner, platform="darwin") == 0
    path = tmp_path / "Library" / "LaunchAgents" / f"{service.LAUNCHD_LABEL}.plist"
    plist = plistlib.loads(path.read_bytes())
    assert plist["ProgramArguments"][:4] == [sys.executable, "-m", "server", "serve"]
    assert "9123" in plist["ProgramArguments"]
    assert runner.calls == [["launchctl", "bootstrap", f"gui/{runtime.os.getuid()}", str(path)]]
    runner.calls.clear()
    assert main(["uninstall-service"], runner=runner, platform="darwin") == 0
    assert not path.exists()
    assert runner.calls == [["launchctl", "bootout", f"gui/{runtime.os.getuid()}", str(path)]]


def test_install_and_uninstall_on_windows(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    monkeypatch.setenv("USERNAME", "ada")
    monkeypatch.setenv("USERDOMAIN", "PC")
    runner = RecordingRunner()
    assert main(["install-service", "--token", "t0k"], runner=runner, platform="win32") == 0
    path = tmp_path / "Local" / "anti-aging" / "task.xml"
    raw = path.read_bytes()
    assert raw[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16 with a byte order mark, as schtasks wants
    task = ET.fromstring(raw.decode("utf-16").split("\n", 1)[1])
    assert task.find("t:Triggers/t:LogonTrigger/t:UserId", NS).text == "PC\\ada"
    assert "--token t0k" in task.find("t:Actions/t:Exec/t:Arguments", NS).text
    assert runner.calls == [["schtasks", "/Create", "/TN", "anti-aging", "/XML", str(path), "/F"]]
    runner.calls.clear()
    assert main(["uninstall-service"], runner=runner, platform="win32") == 0
    assert not path.exists()
    assert runner.calls == [["schtasks", "/End", "/TN", "anti-aging"], ["schtasks", "/Delete", "/TN", "anti-aging", "/F"]]


def test_unknown_platform_is_refused():
    with pytest.raises(SystemExit, match="no login service"):
        main(["uninstall-service"], runner=RecordingRunner(), platform="sunos5")


def test_allocator_environment():
    lib = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
    passive = {"OMP_WAIT_POLICY": "PASSIVE"}
    assert runtime.allocator_environment({}, "linux", lib) == {"LD_PRELOAD": lib, **passive,
                                                               runtime.ALLOCATOR_ENV: "tcmalloc"}
    assert runtime.allocator_environment({"LD_PRELOAD": "/x.so"}, "linux", lib)["LD_PRELOAD"] == f"/x.so {lib}"
    assert runtime.allocator_environment({"LD_PRELOAD": lib}, "linux", lib) == {**passive,
                                                                                runtime.ALLOCATOR_ENV: "tcmalloc"}
    assert runtime.allocator_environment({"LD_PRELOAD": lib, "OMP_WAIT_POLICY": "ACTIVE"}, "linux", lib) == {}
    assert runtime.allocator_environment({runtime.ALLOCATOR_ENV: "tcmalloc"}, "linux", lib) == {}  # never loops
    assert runtime.allocator_environment({runtime.ALLOCATOR_ENV: "system"}, "linux", lib) == {}  # opted out
    assert runtime.allocator_environment({}, "linux", None) == {**runtime.GLIBC_TUNABLES, **passive,
                                                                runtime.ALLOCATOR_ENV: "glibc"}
    assert runtime.allocator_environment({}, "darwin", lib) == {}
    assert runtime.allocator_in_use(maps="7f00 r-xp /usr/lib/libtcmalloc_minimal.so.4") == "tcmalloc"
