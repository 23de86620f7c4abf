"""A real browser against a real server: `streamlit run` on a free 127.0.0.1 port, driven by
Playwright with Debian's Chromium (never a browser that Playwright downloads)."""

from __future__ import annotations

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
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "Chromium is not installed: run `make test` (it installs it), or `sudo apt-get install chromium`."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_cache(folder: Path) -> Path:
    """A cache folder for a test server: the prepared bundled models and the default classifier
    linked from the real cache (read-only use), and an empty place for what the tests save."""
    from explorer.paths import cache_dir
    from explorer.training.finetune import DEFAULT_NAME, PAIR_NAME
    from explorer.training.ner import NAME as NER_NAME

    real = cache_dir()
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    if (real / "bundled").is_dir():
        (folder / "bundled").symlink_to(real / "bundled", target_is_directory=True)
    for name in (DEFAULT_NAME, PAIR_NAME, NER_NAME):  # what `make models` built
        if (real / "checkpoints" / name).is_dir():
            (folder / "checkpoints" / name).symlink_to(real / "checkpoints" / name, target_is_directory=True)
    return folder


SERVER_PIDS: dict[str, int] = {}  # URL -> process id of the server serve() started


@contextlib.contextmanager
def serve(log: Path, entry: str = "streamlit_app.py", **environment: str) -> Iterator[str]:
    """`streamlit run` on a free loopback port, in its own process group, with its own cache
    folder beside the log; yields the URL."""
    port = _free_port()
    cache = isolated_cache(log.parent / "cache")
    env = dict(os.environ, HF_HUB_OFFLINE="1", EXPLORER_CACHE_DIR=str(cache), **environment)
    with open(log, "w") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                entry,
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)  # polling the health endpoint, bounded by the deadline
        SERVER_PIDS[url] = server.pid
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the process group we started, never by name
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    """One server for the browser tests."""
    with serve(tmp_path_factory.mktemp("server") / "streamlit.log") as url:
        yield url


@pytest.fixture
def fresh_app_url(tmp_path) -> Iterator[str]:
    """A server no browser has visited yet (its first run decides how pages are routed)."""
    with serve(tmp_path / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Visit:
    """A page in a fresh browser context that records every request it makes."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 2400})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.url = url

    def outside_requests(self) -> list[str]:
        local = {"127.0.0.1", "localhost", "::1"}
        return [
            u
            for u in self.requests
            if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).hostname not in local
        ]

    def settle(self, timeout_ms: int = 120_000) -> None:
        """Wait until Streamlit's script run has finished (the app's own idle marker)."""
        self.page.wait_for_selector(IDLE, timeout=timeout_ms)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def visit(browser, app_url) -> Iterator[Visit]:
    v = Visit(browser, app_url)
    yield v
    v.context.close()
