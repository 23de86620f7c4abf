"""`make classroom REPLICAS=N`: N Streamlit processes of the app behind HAProxy, with cookie-based
session stickiness (deploy/haproxy.cfg.in), on one machine, kept alive by a supervisor.

Each process is `streamlit run streamlit_app.py` on its own loopback port; HAProxy listens on the
app's usual port and sends every browser to the process that holds its session.

The supervisor (a thread of this program) watches every process:
- a process that dies is taken out of HAProxy's rotation at once and started again on its port,
  after a back-off (1 s, then 2, 4, ... up to 30 s while it keeps dying within a minute of its
  start); the log says why it died (exit code or signal, the last lines of its log). The other
  processes serve every student meanwhile; the students of the dead one are moved to them.
- `make classroom-reload` (this program with --reload, or SIGHUP) replaces the processes one at a
  time: drained in HAProxy (no new students), stopped after --drain-seconds, started again,
  back in rotation before the next one goes; a teacher can update the app during a lesson.
- a process whose memory (resident, with its child processes) grows past --memory-limit-mb is
  replaced the same way, but only when no student has it open (between sessions).
- HAProxy itself is started again if it stops.

Ctrl+C (or SIGTERM) stops every process started here, by its process id, and exits 0; a failure of
the supervisor itself stops everything too and exits 1. The state of every process is in
<logs>/status.json. The load test (bench/load.py --replicas N) and
tests/integration/test_classroom.py start the same thing with `classroom(...)`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "haproxy.cfg.in"
ERROR_PAGE = ROOT / "deploy" / "unavailable.html"  # what a browser gets while no process can answer
COOKIE = "CLASSROOM_REPLICA"  # set by HAProxy; names the process that holds the session
REPLICA_HEADER = "X-Classroom-Replica"  # which process answered (set by HAProxy on every response)
BACKEND = "streamlit"
STREAMLIT_APP = ("-m", "streamlit", "run", "streamlit_app.py")
# Measured (README, "Classroom server"): 0.61-0.70 GB per process with the default classifier and
# MiniLM, 1.26 GB with the bundled SmolLM2 too; 1.5 GB leaves room for that and catches growth.
MEMORY_LIMIT_MB = 1536
DRAIN_S = 10.0  # a rolling restart lets the runs under way finish before it stops a process
START_TIMEOUT_S = 180.0
BACKOFF_FIRST_S, BACKOFF_MAX_S = 1.0, 30.0
STABLE_S = 60.0  # a process that ran this long before dying starts the back-off afresh
LOG_TAIL_LINES = 12
HAPROXY_MISSING = (
    "HAProxy is not installed: run `make classroom` or `make test` (they install the Debian package "
    "as root), or `sudo apt-get install haproxy`."
)


# Started through this, a process is killed by the kernel when the supervisor dies, even by SIGKILL
# (which no handler sees): prctl(PR_SET_PDEATHSIG) then exec of the real command, which keeps the
# process id. If the supervisor died before the prctl, the process stops at once. (Linux only. The
# signal comes when the THREAD that started the process ends: the supervisor starts processes from
# its main thread and its supervising thread, which both live until everything is stopped.)
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def dying_with_this_process(command: Sequence[str]) -> list[str]:
    """``command`` started so that it dies when this process dies (on Linux; elsewhere as it is)."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]


class ClassroomError(RuntimeError):
    """A process of the classroom did not start; the message carries the end of its log."""


class StartCancelled(Exception):
    """Asked to stop (Ctrl+C) while the processes were still starting."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def replica_name(index: int) -> str:
    return f"app{index + 1}"


def haproxy_config(
    ports: list[int],
    port: int,
    bind: str = "127.0.0.1",
    runtime_socket: Path | None = None,
    error_pages: dict[int, Path] | None = None,
) -> str:
    """The HAProxy configuration for app processes on ``ports`` (loopback), served on ``bind:port``;
    with its runtime API on ``runtime_socket`` and ``error_pages`` (status -> raw HTTP response)."""
    servers = "\n".join(
        f"    server {replica_name(i)} 127.0.0.1:{p} cookie {replica_name(i)} check"
        for i, p in enumerate(ports)
    )
    global_extra = f"    stats socket {runtime_socket} mode 600 level admin" if runtime_socket else ""
    defaults_extra = "\n".join(
        f"    errorfile {status} {path}" for status, path in sorted((error_pages or {}).items())
    )
    return Template(TEMPLATE.read_text()).substitute(
        bind=bind, port=port, servers=servers, global_extra=global_extra, defaults_extra=defaults_extra
    )


REASONS = {502: "Bad Gateway", 503: "Service Unavailable"}


def error_response(status: int, page: str) -> bytes:
    """A raw HTTP response for HAProxy's errorfile: the page, never cached, retried in a few s."""
    body = page.encode()
    head = (
        f"HTTP/1.0 {status} {REASONS[status]}\r\n"
        "Cache-Control: no-cache, no-store\r\n"
        "Connection: close\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Retry-After: 5\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
    )


def haproxy_command(runtime_socket: Path, command: str) -> str:
    """One command to HAProxy's runtime API (its stats socket); its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect(str(runtime_socket))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks).decode()


def server_stats(runtime_socket: Path) -> dict[str, dict[str, str]]:
    """HAProxy's `show stat` for the app servers: name -> its fields (scur: open connections,
    status: UP / DOWN / MAINT / DRAIN ...)."""
    text = haproxy_command(runtime_socket, "show stat").lstrip("# ")
    return {
        row["svname"]: row
        for row in csv.DictReader(io.StringIO(text))
        if row.get("pxname") == BACKEND and row.get("svname") not in ("FRONTEND", "BACKEND")
    }


def describe_exit(code: int) -> str:
    """A Popen return code in words: 'exit code 3' or 'killed by signal SIGKILL'."""
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def backoff_s(failures: int) -> float:
    """Seconds to wait before starting a process that died ``failures`` times in a row."""
    return min(BACKOFF_FIRST_S * 2 ** max(failures - 1, 0), BACKOFF_MAX_S)


def log_tail(log: Path, since: int, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines a process wrote to ``log`` from byte ``since`` on."""
    try:
        with open(log, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (MB), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    total, todo, seen = 0.0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def answers(url: str, expect: bytes, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.read() == expect)
    except OSError:
        return False


def _wait_healthy(
    url: str,
    process: subprocess.Popen,
    log: Path,
    seconds: float,
    expect: bytes,
    cancel: threading.Event | None = None,
) -> None:
    deadline = time.monotonic() + seconds
    while not answers(url, expect):
        if cancel is not None and cancel.is_set():
            raise StartCancelled
        if process.poll() is not None or time.monotonic() > deadline:
            raise ClassroomError(f"{url} did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)  # polling a health endpoint, bounded by the deadline


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # the process group started here, never by name
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@dataclass
class Replica:
    """One app process and what the supervisor knows of it."""

    index: int
    port: int
    log: Path
    process: subprocess.Popen | None = None
    # starting (launched, not yet healthy) | up | draining (no new students; replaced when done)
    # | stopped (waiting for its back-off before it starts again)
    state: str = "stopped"
    started_at: float = 0.0
    log_offset: int = 0  # where this run's lines start in the log
    failures: int = 0  # deaths in a row, each within STABLE_S of its start
    next_start: float = 0.0
    restarts: int = 0
    last_exit: str | None = None
    drain_reason: str | None = None
    drain_deadline: float | None = None  # None: wait until no student has it open
    rss_mb: float = 0.0
    sessions: int = 0  # open connections through HAProxy (each open tab holds its websocket)

    @property
    def name(self) -> str:
        return replica_name(self.index)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


class Classroom:
    """N app processes, HAProxy in front, and the supervisor thread that keeps them serving."""

    def __init__(
        self,
        replicas: int,
        folder: Path,
        port: int | None = None,
        bind: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        python: str = sys.executable,
        app: Sequence[str] = STREAMLIT_APP,
        memory_limit_mb: float | None = MEMORY_LIMIT_MB,
        drain_s: float = DRAIN_S,
        say: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ):
        self.folder = folder
        self.cancel = cancel  # set while starting (Ctrl+C): start() stops at its next safe point
        self.bind = bind
        self.port = port or free_port()
        self.environment = dict(
            os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), **(env or {})
        )
        self.command = [python, *app]
        self.memory_limit_mb = memory_limit_mb  # may be changed while running (None: no limit)
        self.drain_s = drain_s
        self.say = say or (lambda line: print(line, flush=True))
        self.replicas = [Replica(i, free_port(), folder / f"{replica_name(i)}.log") for i in range(replicas)]
        self.config = folder / "haproxy.cfg"
        self.runtime_socket = folder / "haproxy.sock"
        self.status_file = folder / "status.json"
        self.proxy: subprocess.Popen | None = None
        self.proxy_restarts = 0
        self.reload_queue: list[int] = []
        self.reloads_done = 0
        self.cycles = 0
        self.failure: str | None = None  # the supervisor's own crash, with its traceback
        self._reload_requested = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_stats = 0.0
        self._reload_finishing = False  # the last process of a rolling restart is being replaced
        self._states_to_restore = False  # HAProxy was started again: tell it which servers are out
        self.haproxy_binary = "haproxy"
        host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
        self.url = f"http://{host}:{self.port}"

    # -- what the load test and the tests read ------------------------------------------------

    @property
    def replica_urls(self) -> list[str]:
        return [r.url for r in self.replicas]

    @property
    def app_pids(self) -> list[int]:
        return [r.pid for r in self.replicas if r.pid is not None]

    @property
    def proxy_pid(self) -> int | None:
        return self.proxy.pid if self.proxy else None

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [r.process for r in self.replicas if r.process] + ([self.proxy] if self.proxy else [])

    def status(self) -> dict:
        return {
            "supervisor_pid": os.getpid(),
            "url": self.url,
            "proxy_pid": self.proxy_pid,
            "proxy_restarts": self.proxy_restarts,
            "cycles": self.cycles,
            "reloads_done": self.reloads_done,
            "reload_pending": [replica_name(i) for i in self.reload_queue],
            "memory_limit_mb": self.memory_limit_mb,
            "failure": self.failure,
            "replicas": [
                {
                    "name": r.name,
                    "pid": r.pid,
                    "port": r.port,
                    "state": r.state,
                    "restarts": r.restarts,
                    "last_exit": r.last_exit,
                    "drain_reason": r.drain_reason,
                    "rss_mb": round(r.rss_mb, 1),
                    "sessions": r.sessions,
                }
                for r in self.replicas
            ],
        }

    def request_reload(self) -> None:
        """Replace every process, one at a time (thread-safe; the supervisor does it)."""
        self._reload_requested.set()

    # -- starting and stopping ----------------------------------------------------------------

    def _launch(self, replica: Replica) -> None:
        with open(replica.log, "a") as out:
            replica.log_offset = out.tell()
            out.write(f"--- {time.strftime('%H:%M:%S')} starting {replica.name} on port {replica.port}\n")
            out.flush()
            replica.process = subprocess.Popen(
                dying_with_this_process(
                    self.command + ["--server.port", str(replica.port), "--server.address", "127.0.0.1"]
                ),
                cwd=ROOT,
                env=self.environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        replica.state, replica.started_at = "starting", time.monotonic()
        replica.rss_mb, replica.sessions = 0.0, 0  # measured afresh for the new process

    def _launch_proxy(self, haproxy: str) -> None:
        log = self.folder / "haproxy.log"
        with open(log, "a") as out:
            self.proxy = subprocess.Popen(
                dying_with_this_process([haproxy, "-f", str(self.config), "-db"]),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        haproxy = haproxy_path()
        if haproxy is None:
            raise ClassroomError(HAPROXY_MISSING)
        self.folder.mkdir(parents=True, exist_ok=True)
        for replica in self.replicas:
            if self.cancel is not None and self.cancel.is_set():
                raise StartCancelled
            replica.log.write_text("")
            self._launch(replica)
        for replica in self.replicas:
            assert replica.process is not None
            _wait_healthy(
                f"{replica.url}/_stcore/health",
                replica.process,
                replica.log,
                START_TIMEOUT_S,
                b"ok",
                self.cancel,
            )
            replica.state = "up"
        page = ERROR_PAGE.read_text()
        pages = {}
        for status in (502, 503):
            pages[status] = self.folder / f"unavailable-{status}.http"
            pages[status].write_bytes(error_response(status, page))
        self.runtime_socket.unlink(missing_ok=True)
        self.config.write_text(
            haproxy_config([r.port for r in self.replicas], self.port, self.bind, self.runtime_socket, pages)
        )
        log = self.folder / "haproxy.log"
        with open(log, "w") as out:
            check = subprocess.run(
                [haproxy, "-c", "-f", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        if check.returncode != 0:
            raise ClassroomError(f"HAProxy refused {self.config}:\n{log.read_text()[-3000:]}")
        self._launch_proxy(haproxy)
        assert self.proxy is not None
        _wait_healthy(f"{self.url}/_stcore/health", self.proxy, log, 30, b"ok", self.cancel)
        self.haproxy_binary = haproxy
        self.write_status()
        self._thread = threading.Thread(target=self._supervise, name="classroom-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the supervisor, then every process started here (HAProxy first), by process id."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for process in reversed(self.processes):
            _stop(process)
        with contextlib.suppress(OSError):
            self.write_status()

    # -- the supervisor -----------------------------------------------------------------------

    def _supervise(self) -> None:
        try:
            while not self._stopping.is_set():
                self.step()
                self.write_status()
                self._stopping.wait(0.25)
        except Exception:  # the supervisor's own failure: reported, the program exits non-zero
            self.failure = traceback.format_exc()
            self.say(f"The classroom supervisor failed:\n{self.failure}")

    def write_status(self) -> None:
        temporary = self.status_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.status(), indent=2) + "\n")
        os.replace(temporary, self.status_file)

    def _haproxy(self, command: str) -> None:
        try:
            answer = haproxy_command(self.runtime_socket, command).strip()
        except OSError as error:  # HAProxy restarting: its health checks take over
            self.say(f"HAProxy did not take '{command}': {error}")
            return
        if answer:
            self.say(f"HAProxy answered '{command}': {answer}")

    def _set_state(self, replica: Replica, state: str) -> None:
        self._haproxy(f"set server {BACKEND}/{replica.name} state {state}")

    def step(self) -> None:
        """One look at every process (the supervisor calls it 4 times a second)."""
        now = time.monotonic()
        self.cycles += 1
        if self.proxy is not None and self.proxy.poll() is not None:
            self.say(f"HAProxy stopped ({describe_exit(self.proxy.returncode)}); starting it again.")
            self.proxy_restarts += 1
            self.runtime_socket.unlink(missing_ok=True)
            self._launch_proxy(self.haproxy_binary)
            self._states_to_restore = True
        if self._states_to_restore and self.runtime_socket.exists():
            # a new HAProxy knows nothing of what the old one was told: tell it again
            self._states_to_restore = False
            for replica in self.replicas:
                if replica.state in ("stopped", "starting"):
                    self._set_state(replica, "maint")
                elif replica.state == "draining":
                    self._set_state(replica, "drain")
        for replica in self.replicas:
            self._watch(replica, now)
        if now - self._last_stats >= 1.0:
            self._last_stats = now
            self._measure()
        if self._reload_requested.is_set():
            self._reload_requested.clear()
            if not self.reload_queue:
                self.say("Rolling restart: replacing the processes one at a time.")
                self.reload_queue = list(range(len(self.replicas)))
        self._replace_next(now)

    def _watch(self, replica: Replica, now: float) -> None:
        process = replica.process
        if (
            replica.state in ("starting", "up", "draining")
            and process is not None
            and process.poll() is not None
        ):
            self._died(replica, process.returncode, now)
        elif replica.state == "stopped" and now >= replica.next_start:
            self._launch(replica)
            self.say(f"{replica.name}: started again (pid {replica.pid}).")
        elif replica.state == "starting":
            if answers(f"{replica.url}/_stcore/health", b"ok", timeout=0.5):
                replica.state = "up"
                self._set_state(replica, "ready")
                self.say(
                    f"{replica.name}: answering again after {now - replica.started_at:.1f} s "
                    f"(pid {replica.pid}); back in HAProxy's rotation."
                )
            elif now - replica.started_at > START_TIMEOUT_S:
                self.say(f"{replica.name}: did not answer within {START_TIMEOUT_S:.0f} s; stopping it.")
                assert process is not None
                _stop(process)
                self._died(replica, process.returncode, now)
        elif replica.state == "draining":
            done = replica.sessions == 0 if replica.drain_deadline is None else now >= replica.drain_deadline
            if done:
                self._replace(replica, now)

    def _died(self, replica: Replica, code: int, now: float) -> None:
        """A process stopped without being asked: out of rotation, started again after a back-off."""
        self._set_state(replica, "maint")
        if replica.pid is not None:  # anything left of its process group (started here)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(replica.pid, signal.SIGKILL)
        ran = now - replica.started_at
        replica.failures = replica.failures + 1 if ran < STABLE_S else 1
        wait = backoff_s(replica.failures)
        replica.last_exit = describe_exit(code)
        replica.state, replica.next_start = "stopped", now + wait
        replica.restarts += 1
        replica.drain_reason = replica.drain_deadline = None
        tail = log_tail(replica.log, replica.log_offset)
        others = (
            "the other processes serve its students"
            if any(r.state == "up" for r in self.replicas)
            else "no process can serve meanwhile (browsers get the restarting page)"
        )
        self.say(
            f"{replica.name} (pid {replica.pid}) stopped after {ran:.1f} s: {replica.last_exit}; "
            f"{others}; starting it again in {wait:.0f} s. "
            f"Last lines of {replica.log}:\n" + "\n".join(f"  | {line}" for line in tail.splitlines())
        )

    def _drain(self, replica: Replica, reason: str, deadline: float | None) -> None:
        others_up = any(r.state == "up" for r in self.replicas if r is not replica)
        if others_up:
            self._set_state(replica, "drain")
        replica.state, replica.drain_reason, replica.drain_deadline = "draining", reason, deadline
        self.say(
            f"{replica.name} (pid {replica.pid}): {reason}; "
            + ("no new students go to it; " if others_up else "")
            + (
                f"replaced in {max(deadline - time.monotonic(), 0):.1f} s."
                if deadline is not None
                else "replaced once no student has it open."
            )
        )

    def _replace(self, replica: Replica, now: float) -> None:
        self._set_state(replica, "maint")
        assert replica.process is not None
        _stop(replica.process)
        self.say(f"{replica.name} (pid {replica.pid}) stopped ({replica.drain_reason}); starting a new one.")
        replica.restarts += 1
        replica.last_exit = f"replaced: {replica.drain_reason}"
        replica.failures = 0
        replica.drain_reason = replica.drain_deadline = None
        self._launch(replica)

    def _measure(self) -> None:
        try:
            stats = server_stats(self.runtime_socket)
        except (OSError, ValueError):
            stats = {}
        for replica in self.replicas:
            row = stats.get(replica.name)
            if row is not None and row.get("scur", "").isdigit():
                replica.sessions = int(row["scur"])
            if replica.pid is not None and replica.state in ("up", "draining"):
                replica.rss_mb = tree_rss_mb(replica.pid)

    def _replace_next(self, now: float) -> None:
        """Start at most one replacement at a time, and only while every other process serves."""
        if any(r.state != "up" for r in self.replicas):
            return
        if self.reload_queue:
            replica = self.replicas[self.reload_queue.pop(0)]
            self._drain(replica, "rolling restart", now + self.drain_s)
            self._reload_finishing = not self.reload_queue
            return
        if self._reload_finishing:
            self._reload_finishing = False
            self.reloads_done += 1
            self.say("Rolling restart done: every process was replaced.")
            return
        limit = self.memory_limit_mb
        if limit:
            over = [r for r in self.replicas if r.rss_mb > limit]
            if over:
                replica = max(over, key=lambda r: r.rss_mb)
                self._drain(replica, f"memory {replica.rss_mb:.0f} MB over the limit of {limit:.0f} MB", None)


@contextlib.contextmanager
def classroom(
    replicas: int,
    folder: Path,
    port: int | None = None,
    bind: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    **options,
) -> Iterator[Classroom]:
    """Start ``replicas`` app processes and HAProxy in front of them, supervised; logs, status and
    the configuration go to ``folder``. Everything started here is stopped on exit."""
    room = Classroom(replicas, folder, port=port, bind=bind, env=env, python=python, **options)
    try:
        room.start()
        yield room
    finally:
        room.stop()


def reload_running(logs: Path, timeout: float = 900) -> int:
    """`make classroom-reload`: ask the running supervisor (pid in <logs>/supervisor.pid) for a
    rolling restart and wait for it to finish."""
    try:
        pid = int((logs / "supervisor.pid").read_text())
        before = json.loads((logs / "status.json").read_text())["reloads_done"]
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError, KeyError) as error:
        print(
            f"No running classroom found in {logs} ({error}); start one with `make classroom`.",
            file=sys.stderr,
        )
        return 1
    print(f"Rolling restart of the classroom (supervisor pid {pid}); see its output for each process.")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            status = json.loads((logs / "status.json").read_text())
            if status["reloads_done"] > before:
                print("Done: every process was replaced.")
                return 0
            if status.get("failure"):
                print("The supervisor failed during the restart.", file=sys.stderr)
                return 1
        time.sleep(0.5)  # polling the supervisor's status file, bounded by the deadline
    print(f"The rolling restart did not finish within {timeout:.0f} s.", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="where HAProxy listens (default 8501)")
    parser.add_argument(
        "--bind",
        default="127.0.0.1",
        help="address HAProxy listens on (default loopback; 0.0.0.0 to let a classroom network in)",
    )
    parser.add_argument("--logs", type=Path, default=ROOT / "test-artifacts" / "classroom")
    parser.add_argument(
        "--memory-limit-mb",
        type=float,
        default=MEMORY_LIMIT_MB,
        help=f"replace a process grown past this, between sessions (default {MEMORY_LIMIT_MB}; 0: never)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=DRAIN_S,
        help=f"a rolling restart stops a drained process after this (default {DRAIN_S:g})",
    )
    parser.add_argument("--reload", action="store_true", help="rolling restart of the running classroom")
    parser.add_argument(
        "--app",
        nargs="+",
        help="what each process runs with Python (default: -m streamlit run streamlit_app.py)",
    )
    args = parser.parse_args(argv)
    if args.reload:
        return reload_running(args.logs)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    stop = threading.Event()  # also cancels a start under way, at its next safe point
    reload = threading.Event()

    def request_stop(*_):
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)  # Ctrl+C (also when started in the background)
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    pid_file = args.logs / "supervisor.pid"
    try:
        with classroom(
            args.replicas,
            args.logs,
            port=args.port,
            bind=args.bind,
            app=args.app or STREAMLIT_APP,
            memory_limit_mb=args.memory_limit_mb or None,
            drain_s=args.drain_seconds,
            cancel=stop,
        ) as room:
            pid_file.write_text(f"{os.getpid()}\n")
            print(
                f"Transformer Explorer for a classroom: {room.url} ({args.replicas} processes behind "
                f"HAProxy; logs and status.json in {args.logs}). Ctrl+C stops it; "
                "`make classroom-reload` replaces the processes one at a time.",
                flush=True,
            )
            while not stop.wait(0.25):
                if room.failure:
                    print("Stopping every process of the classroom.", file=sys.stderr, flush=True)
                    return 1
                if reload.is_set():
                    reload.clear()
                    room.request_reload()
        print("Stopped.", flush=True)
        return 0
    except ClassroomError as error:
        print(str(error), file=sys.stderr, flush=True)
        return 1
    except StartCancelled:  # Ctrl+C while starting: what was started is stopped
        print("Stopped before the classroom was ready.", flush=True)
        return 0
    except Exception:  # the supervisor's own crash: everything it started was stopped on the way out
        traceback.print_exc()
        return 1
    finally:
        pid_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
