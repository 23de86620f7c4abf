"""Waiting on a classroom without sleeping and hoping: poll with a deadline, and requests through
the proxy for as long as a fault lasts (tests/deploy, tests/integration/test_classroom.py)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

REPLICA_HEADER = "X-Classroom-Replica"  # deploy/classroom.py's: which process answered


def wait_for(condition, seconds: float, what: str):
    """Poll ``condition`` until it returns something true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def get(url: str, cookie: str | None = None) -> tuple[int, str, str | None]:
    """(status, body, the process that answered) of one request."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), response.headers.get(REPLICA_HEADER)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers.get(REPLICA_HEADER)


class Poller:
    """Requests through the proxy, one after another, for as long as a fault lasts."""

    def __init__(self, url: str, cookie: str | None = None):
        self.url, self.cookie = url, cookie
        self.results: list[tuple[int, str | None]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, _, replica = get(self.url, self.cookie)
                self.results.append((status, replica))
            except OSError as error:
                self.failures.append(repr(error))
            time.sleep(0.02)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=20)
