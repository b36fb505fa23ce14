"""Process setup that `serve` and `sharpen` need to run at full speed, however they are started.

CPU inference allocates and frees large tensors all the time; glibc's malloc hands that memory
back to the kernel and faults it in again on every call, which roughly halves throughput here.
tcmalloc keeps it, but only when loaded before the process starts, so the command re-executes
itself once with tcmalloc preloaded (or, without tcmalloc, with glibc tunables that keep freed
memory). The same re-execution sets OMP_WAIT_POLICY=PASSIVE unless it is set: OpenMP threads
that spin while waiting lose badly as soon as anything else wants the cores (a browser, a build;
on the shared, busy 2 cores, three interleaved runs at 1024x1024: 0.77-1.05 MP/s passive,
0.51-0.73 MP/s with libgomp's default spinning).
ALLOCATOR_ENV marks the re-executed process, so it never loops; setting it to any value
beforehand (e.g. ``ANTI_AGING_ALLOCATOR=system``) leaves the process as started.
"""
import ctypes
import os
import sys
from pathlib import Path

ALLOCATOR_ENV = "ANTI_AGING_ALLOCATOR"
TCMALLOC_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
    "/usr/lib/libtcmalloc_minimal.so.4",
)
# Keep freed blocks instead of returning them to the kernel after every tensor.
GLIBC_TUNABLES = {"MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000"}


def find_tcmalloc(candidates=TCMALLOC_CANDIDATES):
    return next((path for path in candidates if Path(path).is_file()), None)


def allocator_environment(environ, platform=sys.platform, tcmalloc=None):
    """The variables to add before re-executing, or {} when nothing is to be done."""
    if platform != "linux" or environ.get(ALLOCATOR_ENV):
        return {}
    changes = {} if "OMP_WAIT_POLICY" in environ else {"OMP_WAIT_POLICY": "PASSIVE"}
    if tcmalloc:
        preload = environ.get("LD_PRELOAD", "")
        if tcmalloc not in preload.split():
            changes["LD_PRELOAD"] = f"{preload} {tcmalloc}".strip()
    elif not all(name in environ for name in GLIBC_TUNABLES):
        changes.update(GLIBC_TUNABLES)
    return {**changes, ALLOCATOR_ENV: "tcmalloc" if tcmalloc else "glibc"} if changes else {}


def loaded_libraries():
    try:
        return Path("/proc/self/maps").read_text()
    except OSError:
        return ""


def allocator_in_use(environ=os.environ, maps=None):
    """A short description of the allocator this process runs on, for the start log."""
    maps = loaded_libraries() if maps is None else maps
    if "libtcmalloc" in maps:
        return "tcmalloc"
    if sys.platform == "linux":
        tuned = all(environ.get(name) == value for name, value in GLIBC_TUNABLES.items())
        return "glibc malloc" + (" (tuned: freed memory kept)" if tuned else " (untuned: slower)")
    return "system malloc"


def ensure_fast_allocator():
    """Re-execute this very command with the faster allocator set up, when it is not already."""
    tcmalloc = find_tcmalloc()
    environ = dict(os.environ)
    if tcmalloc and "libtcmalloc" in loaded_libraries():
        environ.setdefault("LD_PRELOAD", tcmalloc)  # loaded some other way: only the rest may be missing
    changes = allocator_environment(environ, tcmalloc=tcmalloc)
    if not changes:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**os.environ, **changes})


def memory_releaser(maps=None):
    """A function that hands the allocator's free pages back to the kernel, or None where there is none.

    Freed memory kept for speed otherwise only grows with every new mix of tensor sizes: the engine
    calls this when its queue runs empty (at most once a second), so resident memory follows what
    is in use instead of the largest mix seen so far.
    """
    maps = loaded_libraries() if maps is None else maps
    try:
        if "libtcmalloc" in maps:
            return ctypes.CDLL(None).MallocExtension_ReleaseFreeMemory  # preloaded: in the global namespace
        if sys.platform == "linux":
            trim = ctypes.CDLL("libc.so.6").malloc_trim
            return lambda: trim(0)
    except (OSError, AttributeError):
        return None
    return None
