"""`make classroom REPLICAS=N`: N Streamlit processes of the app behind HAProxy, with cookie-based
session stickiness (deploy/haproxy.cfg.in), on one machine.

Each process is `streamlit run streamlit_app.py` on its own loopback port; HAProxy listens on the
app's usual port and sends every browser to the process that holds its session. Stop with Ctrl+C
(every process started here is stopped, by its process id). The load test (bench/load.py
--replicas N) and tests/integration/test_classroom.py start the same thing with `classroom(...)`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "haproxy.cfg.in"
COOKIE = "CLASSROOM_REPLICA"  # set by HAProxy; names the process that holds the session
REPLICA_HEADER = "X-Classroom-Replica"  # which process answered (set by HAProxy on every response)
HAPROXY_MISSING = (
    "HAProxy is not installed: run `make classroom` or `make test` (they install the Debian package "
    "as root), or `sudo apt-get install haproxy`."
)


class ClassroomError(RuntimeError):
    """A process of the classroom did not start; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def replica_name(index: int) -> str:
    return f"app{index + 1}"


def haproxy_config(ports: list[int], port: int, bind: str = "127.0.0.1") -> str:
    """The HAProxy configuration for app processes on ``ports`` (loopback), served on ``bind:port``."""
    servers = "\n".join(
        f"    server {replica_name(i)} 127.0.0.1:{p} check inter 2s cookie {replica_name(i)}"
        for i, p in enumerate(ports)
    )
    return Template(TEMPLATE.read_text()).substitute(bind=bind, port=port, servers=servers)


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
    )


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, seconds: float, expect: bytes) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if urllib.request.urlopen(url, timeout=2).read() == expect:
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise ClassroomError(f"{url} did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)  # polling a health endpoint, bounded by the deadline


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # the process group started here, never by name
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@dataclass
class Classroom:
    url: str  # the proxy
    replica_urls: list[str]  # each process, directly
    app_pids: list[int]
    proxy_pid: int
    config: Path
    processes: list[subprocess.Popen] = field(default_factory=list, repr=False)


@contextlib.contextmanager
def classroom(
    replicas: int,
    folder: Path,
    port: int | None = None,
    bind: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> Iterator[Classroom]:
    """Start ``replicas`` app processes and HAProxy in front of them; logs and the configuration go
    to ``folder``. Everything started here is stopped on exit."""
    haproxy = haproxy_path()
    if haproxy is None:
        raise ClassroomError(HAPROXY_MISSING)
    folder.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), **(env or {}))
    ports = [free_port() for _ in range(replicas)]
    port = port or free_port()
    processes: list[subprocess.Popen] = []
    try:
        for i, app_port in enumerate(ports):
            log = folder / f"{replica_name(i)}.log"
            with open(log, "w") as out:
                processes.append(
                    subprocess.Popen(
                        [python, "-m", "streamlit", "run", "streamlit_app.py"]
                        + ["--server.port", str(app_port), "--server.address", "127.0.0.1"],
                        cwd=ROOT,
                        env=environment,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        for i, (app_port, process) in enumerate(zip(ports, processes, strict=True)):
            _wait_healthy(
                f"http://127.0.0.1:{app_port}/_stcore/health",
                process,
                folder / f"{replica_name(i)}.log",
                180,
                b"ok",
            )
        config = folder / "haproxy.cfg"
        config.write_text(haproxy_config(ports, port, bind))
        log = folder / "haproxy.log"
        with open(log, "w") as out:
            check = subprocess.run([haproxy, "-c", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise ClassroomError(f"HAProxy refused {config}:\n{log.read_text()[-3000:]}")
        with open(log, "a") as out:
            proxy = subprocess.Popen(
                [haproxy, "-f", str(config), "-db"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(proxy)
        host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
        url = f"http://{host}:{port}"
        _wait_healthy(f"{url}/_stcore/health", proxy, log, 30, b"ok")
        yield Classroom(
            url=url,
            replica_urls=[f"http://127.0.0.1:{p}" for p in ports],
            app_pids=[p.pid for p in processes[:replicas]],
            proxy_pid=proxy.pid,
            config=config,
            processes=processes,
        )
    finally:
        for process in reversed(processes):
            _stop(process)


def main() -> None:
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
    args = parser.parse_args()
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    stop = {"now": False}

    def request_stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)  # Ctrl+C (also when started in the background)
    try:
        with classroom(args.replicas, args.logs, port=args.port, bind=args.bind) as room:
            print(
                f"Transformer Explorer for a classroom: {room.url} ({args.replicas} processes behind "
                f"HAProxy; logs in {args.logs}). Ctrl+C stops it.",
                flush=True,
            )
            while not stop["now"]:
                if any(p.poll() is not None for p in room.processes):
                    print(f"A process of the classroom stopped; see the logs in {args.logs}.", flush=True)
                    break
                time.sleep(1)  # watching the processes until Ctrl+C
        print("Stopped.", flush=True)
    except ClassroomError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
