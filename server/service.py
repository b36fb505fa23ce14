"""Start the daemon at login on every desktop OS, per user and without admin rights.

- Linux: a systemd *user* unit (~/.config/systemd/user/anti-aging.service).
- macOS: a launchd agent (~/Library/LaunchAgents/local.anti-aging.server.plist).
- Windows: a Task Scheduler task that runs at the user's logon, registered from XML with
  ``schtasks /Create /XML`` (the XML is kept in %LOCALAPPDATA%\\anti-aging).

The file contents are pure functions of their arguments (tested by parsing them); ``runner``
is how systemctl / launchctl / schtasks get called (subprocess.run by default; tests pass a
recorder). Each service runs ``python -m server serve`` from the directory holding the
``server`` package, so it works for an installed package and for a checkout alike; the server
sets up its allocator itself (see runtime.py).
"""
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

UNIT_NAME = "anti-aging.service"
LAUNCHD_LABEL = "local.anti-aging.server"
TASK_NAME = "anti-aging"
TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
DESCRIPTION = "anti-aging local sharpening server"


def serve_command(serve_args, python=sys.executable):
    return [str(python), "-m", "server", "serve", *serve_args]


# --- Linux: systemd user unit ------------------------------------------------------------------

def unit_path():
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user" / UNIT_NAME


def _quote(arg):
    """One ExecStart word for systemd: double quotes with backslash escapes; no %specifier or $VAR expansion."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if any(c in arg for c in ' \t"\'\\') or not arg else escaped


def unit_text(serve_args, python=sys.executable, workdir=PACKAGE_PARENT):
    exec_start = " ".join(_quote(a) for a in serve_command(serve_args, python))
    return "\n".join([
        "[Unit]",
        f"Description={DESCRIPTION}",
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={str(workdir).replace('%', '%%')}",  # a plain path: systemd does not unquote it
        f"ExecStart={exec_start}",
        "Restart=on-failure",
        "RestartSec=5",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


# --- macOS: launchd agent ----------------------------------------------------------------------

def plist_path(home=None):
    return Path(home or Path.home()) / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


def launchd_plist(serve_args, python=sys.executable, workdir=PACKAGE_PARENT, log_dir=None):
    """The agent's plist bytes: started at login, restarted when it exits with an error."""
    log_dir = Path(log_dir or Path.home() / "Library" / "Logs")
    return plistlib.dumps({
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": serve_command(serve_args, python),
        "WorkingDirectory": str(workdir),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 5,
        "ProcessType": "Interactive",  # "Background" would be throttled to a trickle of CPU
        "StandardOutPath": str(log_dir / "anti-aging.log"),
        "StandardErrorPath": str(log_dir / "anti-aging.log"),
    })


# --- Windows: Task Scheduler logon task --------------------------------------------------------

def task_xml_path():
    local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    return Path(local) / "anti-aging" / "task.xml"


def windows_python(python=sys.executable):
    """pythonw.exe beside python.exe when there is one: no console window at every logon."""
    candidate = Path(python).with_name("pythonw.exe")
    return str(candidate) if candidate.exists() else str(python)


def task_xml(serve_args, user, python=sys.executable, workdir=PACKAGE_PARENT, log_file=None):
    """Task Scheduler XML (a str; schtasks wants it saved as UTF-16): run `serve` at ``user``'s logon,
    with that user's rights, restarted on failure, never stopped for running long or on battery."""
    ET.register_namespace("", TASK_NAMESPACE)

    def add(parent, tag, text=None, **attributes):
        element = ET.SubElement(parent, f"{{{TASK_NAMESPACE}}}{tag}", attributes)
        if text is not None:
            element.text = text
        return element

    task = ET.Element(f"{{{TASK_NAMESPACE}}}Task", {"version": "1.2"})
    add(add(task, "RegistrationInfo"), "Description", DESCRIPTION)
    trigger = add(add(task, "Triggers"), "LogonTrigger")
    add(trigger, "Enabled", "true")
    add(trigger, "UserId", user)
    principal = add(add(task, "Principals"), "Principal", id="Author")
    add(principal, "UserId", user)
    add(principal, "LogonType", "InteractiveToken")
    add(principal, "RunLevel", "LeastPrivilege")
    settings = add(task, "Settings")
    for tag, text in (("MultipleInstancesPolicy", "IgnoreNew"), ("DisallowStartIfOnBatteries", "false"),
                      ("StopIfGoingOnBatteries", "false"), ("ExecutionTimeLimit", "PT0S"), ("Enabled", "true")):
        add(settings, tag, text)
    restart = add(settings, "RestartOnFailure")
    add(restart, "Interval", "PT1M")
    add(restart, "Count", "10")
    action = add(add(task, "Actions", Context="Author"), "Exec")
    arguments = ["-m", "server", "serve", *serve_args]
    if log_file:  # pythonw has no console to print to
        arguments += ["--log-file", str(log_file)]
    add(action, "Command", windows_python(python))
    add(action, "Arguments", subprocess.list2cmdline(arguments))
    add(action, "WorkingDirectory", str(workdir))
    return '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")


def windows_user(environ=os.environ):
    user = environ.get("USERNAME") or Path.home().name
    domain = environ.get("USERDOMAIN")
    return f"{domain}\\{user}" if domain else user


# --- install / uninstall -----------------------------------------------------------------------

def _run(runner, argv):
    if runner is subprocess.run and shutil.which(argv[0]) is None:
        print(f"{argv[0]} not found: skipping `{shlex.join(argv)}`", file=sys.stderr)
        return 1
    result = runner(argv, check=False)
    if result.returncode:
        print(f"`{shlex.join(argv)}` failed with exit code {result.returncode}", file=sys.stderr)
    return result.returncode


def _write_private(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)  # it may hold the --token
    print(f"wrote {path}")


def platform_kind(platform=sys.platform):
    if platform.startswith("linux"):
        return "linux"
    if platform == "darwin":
        return "macos"
    if platform in ("win32", "cygwin"):
        return "windows"
    raise SystemExit(f"error: no login service for platform {platform!r} (Linux, macOS and Windows have one)")


def install(serve_args, enable=False, runner=subprocess.run, platform=sys.platform):
    kind = platform_kind(platform)
    print("runs: " + shlex.join(serve_command(serve_args)))
    if kind == "linux":
        _write_private(unit_path(), unit_text(serve_args).encode())
        if not enable:
            print(f"enable it with: systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}")
            return 0
        return (_run(runner, ["systemctl", "--user", "daemon-reload"])
                or _run(runner, ["systemctl", "--user", "enable", "--now", UNIT_NAME]))
    if kind == "macos":
        path = plist_path()
        _write_private(path, launchd_plist(serve_args))
        command = ["launchctl", "bootstrap", f"gui/{os.getuid()}", str(path)]
        if not enable:
            print(f"it starts at the next login; now: {shlex.join(command)}")
            return 0
        return _run(runner, command)
    path = task_xml_path()
    _write_private(path, task_xml(serve_args, windows_user(), log_file=path.with_name("serve.log")).encode("utf-16"))
    code = _run(runner, ["schtasks", "/Create", "/TN", TASK_NAME, "/XML", str(path), "/F"])
    if code or not enable:
        return code
    return _run(runner, ["schtasks", "/Run", "/TN", TASK_NAME])


def uninstall(runner=subprocess.run, platform=sys.platform):
    kind = platform_kind(platform)
    path = {"linux": unit_path, "macos": plist_path, "windows": task_xml_path}[kind]()
    if not path.exists():
        print(f"nothing installed at {path}: nothing to remove")
        return 0
    if kind == "linux":
        _run(runner, ["systemctl", "--user", "disable", "--now", UNIT_NAME])
    elif kind == "macos":
        _run(runner, ["launchctl", "bootout", f"gui/{os.getuid()}", str(path)])
    else:
        _run(runner, ["schtasks", "/End", "/TN", TASK_NAME])
        _run(runner, ["schtasks", "/Delete", "/TN", TASK_NAME, "/F"])
    path.unlink()
    if kind == "linux":
        _run(runner, ["systemctl", "--user", "daemon-reload"])
    print(f"removed {path}")
    return 0
