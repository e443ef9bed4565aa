"""Run untrusted model-written code in a separate, limited process.

Limits applied to every run (``resource.setrlimit`` in the child before exec): CPU seconds
(RLIMIT_CPU), address space (RLIMIT_AS, so "allocate 10 GB" fails with MemoryError), file size
(RLIMIT_FSIZE, which also caps stdout/stderr since they go to files), processes (RLIMIT_NPROC,
against fork bombs) and core dumps off. A wall-clock timeout kills the whole process group.

Isolation, two levels (the result says which one ran, in ``isolation``):

- ``"namespaces"`` (when running as root and ``unshare`` exists): ``unshare --net --pid --mount``
  gives the code no network interfaces but loopback-less isolation, its own PID namespace (killing
  its init kills every descendant, even ones that left the process group) and private tmpfs
  mounts over /tmp and /dev/shm; the code runs as user ``nobody`` in a throw-away directory
  bind-mounted at /mnt, so it cannot write anywhere else (its /tmp writes vanish).
- ``"rlimits"`` (otherwise): the same limits, a throw-away working directory, the network
  blocked only for Python code, by a wrapper that replaces ``socket.socket`` before running the
  program (no seccomp: ``_socket`` or ctypes get around it), and, when started as root, the code
  runs as a user id of its own, unused by anything else, so it can write only where anyone may
  (its directory, /tmp), and after the run every process with that id is killed: a program that
  double-forks and calls ``setsid`` leaves the process group but cannot leave its user id.
  Without root that last step is impossible; such a detached process may then outlive the run.
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
MOUNT_POINT = "/mnt"
#: Per-run user ids for the rlimits level as root: far above any account or container range.
RUN_UID_BASE, RUN_UID_SPAN = 3_000_000_000, 1_000_000_000

_WRAPPER = """\
import socket, sys, runpy
class _NoNetwork(socket.socket):
    def __init__(self, *a, **k):
        raise PermissionError("network access is disabled in the capcast sandbox")
socket.socket = _NoNetwork
socket.create_connection = lambda *a, **k: _NoNetwork()
sys.argv = ["prog.py"]
runpy.run_path("prog.py", run_name="__main__")
"""


@dataclass(frozen=True)
class SandboxLimits:
    """Defaults suit unit-test-sized code problems."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30
    output_bytes: int = 1 << 20
    max_processes: int = 64


@dataclass(frozen=True)
class SandboxResult:
    returncode: int | None
    timed_out: bool
    stdout: str
    stderr: str
    duration: float
    isolation: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def reason(self) -> str:
        if self.timed_out:
            return "timeout"
        if self.returncode == 0:
            return "ok"
        if self.returncode is not None and self.returncode < 0:
            return f"signal {signal.Signals(-self.returncode).name}"
        return f"exit {self.returncode}"


def namespaces_available() -> bool:
    """Root and ``unshare``/``setpriv`` present: the stronger isolation level can run."""
    return namespaces_missing() is None


def namespaces_missing() -> str | None:
    """Why the namespaced level cannot run here, or None: what a test's skip record says."""
    if os.geteuid() != 0:
        return f"needs root: unshare and the switch to nobody need euid 0, not {os.geteuid()}"
    tools = [t for t in ("unshare", "setpriv") if shutil.which(t) is None]
    if tools:
        return f"needs root with {' and '.join(tools)} installed (util-linux)"
    if not Path(MOUNT_POINT).is_dir():
        return f"needs root with {MOUNT_POINT} present (the private mount point)"
    return None


def _python_for(isolated: bool) -> str:
    """An interpreter the sandbox user can execute (``nobody`` cannot enter /root)."""
    if isolated:
        for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
            if os.access(candidate, os.X_OK) and os.stat(candidate).st_mode & 0o001:
                return candidate
    return os.environ.get("CAPCAST_SANDBOX_PYTHON") or shutil.which("python3") or "python3"


def _run_uid() -> int:
    """A user id that no process on this machine runs as (so killing it kills only this run)."""
    in_use = set(_uids_running().values())
    while True:
        uid = RUN_UID_BASE + secrets.randbelow(RUN_UID_SPAN)
        if uid not in in_use:
            return uid


def _uids_running() -> dict[int, int]:
    """pid -> real uid of every process visible in /proc."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("Uid:"):
                    out[int(entry.name)] = int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
    return out


def _kill_uid(uid: int, rounds: int = 50) -> None:
    """SIGKILL every process running as ``uid`` until none is left (forks race the first pass)."""
    for _ in range(rounds):
        pids = [pid for pid, u in _uids_running().items() if u == uid]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _limiter(limits: SandboxLimits, drop_to: int | None):
    def apply() -> None:
        cpu = max(1, int(limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if drop_to is not None:
            os.setgroups([])
            os.setgid(drop_to)
            os.setuid(drop_to)

    return apply


def _command(python: str, workdir: Path, isolated: bool) -> list[str]:
    run = [python, "-I", "-S", "_wrapper.py"]
    if not isolated:
        return run
    inner = (
        f"mount --bind {workdir} {MOUNT_POINT} && "
        "mount -t tmpfs -o size=16m tmpfs /tmp && "
        "mount -t tmpfs -o size=16m tmpfs /dev/shm && "
        f"cd {MOUNT_POINT} && setpriv --reuid {NOBODY} --regid {NOBODY} --clear-groups "
        + " ".join(run)
    )
    # No ``exec``: the shell reports a signal death as 128+N, which is reliable, whereas
    # unshare's re-raising of the child's signal on itself can fail (seen with SIGXCPU).
    return [
        "unshare",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        inner,
    ]


def run_python(
    code: str, *, limits: SandboxLimits | None = None, stdin: str = "", isolate: bool | None = None
) -> SandboxResult:
    """Run ``code`` as a Python program in the sandbox and report how it ended."""
    limits = limits or SandboxLimits()
    isolated = namespaces_available() if isolate is None else isolate
    root = Path(tempfile.mkdtemp(prefix="capcast-sandbox-"))
    workdir = root / "work"
    workdir.mkdir()
    try:
        (workdir / "prog.py").write_text(code, encoding="utf-8")
        (workdir / "_wrapper.py").write_text(_WRAPPER, encoding="utf-8")
        drop = not isolated and os.geteuid() == 0
        owner = NOBODY if isolated else (_run_uid() if drop else None)
        if owner is not None:
            os.chmod(root, 0o711)  # the run's user may pass through to its own directory
            os.chown(workdir, owner, owner)
            for f in workdir.iterdir():
                os.chown(f, owner, owner)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"}
        start = time.monotonic()
        with (
            open(root / "stdout", "wb") as out,
            open(root / "stderr", "wb") as err,
            tempfile.TemporaryFile() as inp,
        ):
            inp.write(stdin.encode())
            inp.seek(0)
            proc = subprocess.Popen(
                _command(_python_for(isolated or drop), workdir, isolated),
                cwd=workdir,
                stdin=inp,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
                preexec_fn=_limiter(limits, owner if drop else None),
            )
            timed_out = False
            try:
                proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(proc.pid)
            if drop and owner is not None:
                _kill_uid(owner)  # what left the group (setsid) still runs as the run's user
            proc.wait()
        duration = time.monotonic() - start
        returncode = proc.returncode
        if isolated and returncode is not None and returncode > 128:
            returncode = -(returncode - 128)  # the shell's 128+N for "killed by signal N"
        return SandboxResult(
            returncode=None if timed_out else returncode,
            timed_out=timed_out,
            stdout=_read_capped(root / "stdout", limits.output_bytes),
            stderr=_read_capped(root / "stderr", limits.output_bytes),
            duration=duration,
            isolation="namespaces" if isolated else "rlimits",
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _kill_group(pgid: int) -> None:
    """Kill everything left in the run's process group (orphans included)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_capped(path: Path, cap: int) -> str:
    with path.open("rb") as fh:
        return fh.read(cap).decode("utf-8", errors="replace")
