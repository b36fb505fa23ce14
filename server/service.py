"""A systemd *user* unit so the daemon starts at login, without root.

``runner`` is how systemctl gets called (subprocess.run by default); tests pass a recorder.
"""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

UNIT_NAME = "anti-aging.service"
REPO_ROOT = Path(__file__).resolve().parent.parent
TCMALLOC = Path("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")


def unit_path():
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user" / UNIT_NAME


def _quote(arg):
    """One ExecStart word for systemd: double quotes with backslash escapes; no %specifier or $VAR expansion."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if any(c in arg for c in ' \t"\'\\') or not arg else escaped


def unit_text(serve_args, python=sys.executable, workdir=REPO_ROOT):
    exec_start = " ".join(_quote(a) for a in [python, "-m", "server", "serve", *serve_args])
    lines = [
        "[Unit]",
        "Description=anti-aging local sharpening server",
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={str(workdir).replace('%', '%%')}",  # a plain path: systemd does not unquote it
        f"ExecStart={exec_start}",
        "Restart=on-failure",
        "RestartSec=5",
    ]
    if TCMALLOC.exists():  # the same faster allocator `make run` uses
        lines.append(f"Environment=LD_PRELOAD={TCMALLOC}")
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def _systemctl(runner, *args):
    if runner is subprocess.run and shutil.which("systemctl") is None:
        print("systemctl not found: skipping `systemctl --user " + " ".join(args) + "`", file=sys.stderr)
        return 1
    result = runner(["systemctl", "--user", *args], check=False)
    if result.returncode:
        print(f"`systemctl --user {' '.join(args)}` failed with exit code {result.returncode}", file=sys.stderr)
    return result.returncode


def install(serve_args, enable=False, runner=subprocess.run):
    path = unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(serve_args))
    path.chmod(0o600)  # the unit may hold a --token
    print(f"wrote {path}")
    print("ExecStart: " + shlex.join([sys.executable, "-m", "server", "serve", *serve_args]))
    if not enable:
        print(f"enable it with: systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}")
        return 0
    return _systemctl(runner, "daemon-reload") or _systemctl(runner, "enable", "--now", UNIT_NAME)


def uninstall(runner=subprocess.run):
    path = unit_path()
    if not path.exists():
        print(f"no unit at {path}: nothing to remove")
        return 0
    _systemctl(runner, "disable", "--now", UNIT_NAME)
    path.unlink()
    _systemctl(runner, "daemon-reload")
    print(f"removed {path}")
    return 0
