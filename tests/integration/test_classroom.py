"""The classroom server on loopback: two app processes behind HAProxy (deploy/classroom.py). A
browser stays on the process its cookie names (pages, health checks and the websocket alike); a
few students typing through the proxy each see only their own text; a dropped websocket gets its
session back only on its own process, which is why the proxy must be sticky."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest

from tests.scripts import script_module

pytestmark = pytest.mark.bundled


def run_async(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright (sync API) keeps an event
    loop running in this thread for the whole session, and asyncio.run refuses to nest in it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


classroom = script_module("deploy_classroom", "deploy/classroom.py")
load = script_module("bench_load", "bench/load.py")
e2e = script_module("e2e_conftest", "tests/e2e/conftest.py")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    if classroom.haproxy_path() is None:
        pytest.skip(classroom.HAPROXY_MISSING)
    folder = tmp_path_factory.mktemp("classroom")
    cache = e2e.isolated_cache(folder / "cache")
    with classroom.classroom(2, folder, env={"EXPLORER_CACHE_DIR": str(cache)}) as started:
        yield started


def get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        return response.headers


def ours(headers) -> str | None:
    """The stickiness cookie a response sets (Streamlit sets its own XSRF cookie too)."""
    found = [
        c.split(";")[0] for c in headers.get_all("Set-Cookie") or [] if c.startswith(classroom.COOKIE + "=")
    ]
    return found[0] if found else None


def test_the_cookie_keeps_a_browser_on_its_process(room):
    # new visitors are spread over both processes, each told by a cookie where it went
    first_visits = [get(f"{room.url}/") for _ in range(4)]
    cookies = [ours(h) for h in first_visits]
    answered = [h.get(classroom.REPLICA_HEADER) for h in first_visits]
    assert cookies == [f"{classroom.COOKIE}={name}" for name in answered]
    assert set(answered) == {"app1", "app2"}
    # with the cookie, every request goes to that process, and no new cookie is set
    for name in ("app1", "app2"):
        cookie = f"{classroom.COOKIE}={name}"
        for path in ("/", "/tokenizer", "/attention", "/_stcore/health", "/_stcore/host-config"):
            headers = get(f"{room.url}{path}", cookie)
            assert headers.get(classroom.REPLICA_HEADER) == name, path
            assert ours(headers) is None, path


def test_students_through_the_proxy_each_see_only_their_own_text(room):
    texts = load.everyday_sentences()
    markers = ["otter", "falcon", "walnut", "violin"]
    students = [
        load.Student(i, markers[i], ("", "tokenizer")[i % 2], load.sentences_for(markers[i], i, 2, texts))
        for i in range(len(markers))
    ]

    # a control: a student told to look for its own word must find it in what it receives
    control = load.Student(9, "canoe", "tokenizer", load.sentences_for("canoe", 9, 1, texts))

    async def lesson():
        await asyncio.gather(
            *(
                load.attend(
                    s, room.url, 0, (0, 0), load.marker_pattern([m for m in markers if m != s.marker])
                )
                for s in students
            ),
            load.attend(control, room.url, 0, (0, 0), load.marker_pattern(["canoe"])),
        )

    run_async(lesson())
    assert control.errors == [] and control.leaks, "the scan would not have seen a leak"
    for s in students:
        assert s.errors == [], s.errors  # includes: the websocket went to the cookie's process
        assert s.leaks == [], s.leaks
        assert len(s.latencies) == 2, s.index
        assert s.runs_without_own_text == 0, s.index  # the scan sees the student's own words
    assert {s.replica for s in students} == {"app1", "app2"}


def test_a_reconnection_finds_its_session_only_on_its_own_process(room):
    """A dropped websocket reconnects with its session id (what the browser does); the session
    lives in one process's memory, so only the process the cookie names can resume it."""
    texts = load.everyday_sentences()
    owner = load.Student(0, "lantern", "tokenizer", load.sentences_for("lantern", 0, 1, texts))

    async def scenario():
        await load.attend(owner, room.url, 0, (0, 0), None)
        assert owner.session_id and owner.errors == []
        resumed = {}
        for name in ("app1", "app2"):
            again = load.Student(1, "anchor", "tokenizer", [])
            session = load.Session(again, None, load.marker_pattern(["anchor"]))
            headers = await session.open(
                room.url, f"{classroom.COOKIE}={name}", existing_session=owner.session_id
            )
            assert headers.get(classroom.REPLICA_HEADER) == name
            try:
                await session.rerun(first=True)
            finally:
                await session.close()
            resumed[name] = again.session_id
        return resumed

    resumed = run_async(scenario())
    other = ({"app1", "app2"} - {owner.replica}).pop()
    assert resumed[owner.replica] == owner.session_id  # its own process gave the session back
    assert resumed[other] not in (None, owner.session_id)  # the other one could only start afresh
