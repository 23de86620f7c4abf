"""`make load`: a classroom against the app, measured at the server.

Each simulated student is one websocket speaking Streamlit's own protocol (no browser per student):
it loads a page over HTTP like a browser would (through HAProxy this sets the stickiness cookie),
opens /_stcore/stream, asks for its page (BackMsg rerun_script with the page's URL path) and then
types sentences of its own into the sidebar text box: a rerun_script whose widget_states carry the
text box's new value, exactly what the browser sends on Ctrl+Enter. A sentence counts as drawn when
the server says the run finished (ForwardMsg script_finished, FINISHED_SUCCESSFULLY); the latency
is from sending the BackMsg until then. A few real Chromium browsers (Playwright) type alongside
and check what they show.

Why widget states and not the app's shared-link query string: a link's settings are applied only on
a session's first run (explorer/ui/sharing.py apply_link), so a link would need a new session per
sentence; typing is a rerun of an existing session, which is what a class does all day.

Every student has its own marker word (one token of the bundled tokenizer, absent from the pages'
own text) in each of its sentences; every ForwardMsg a student receives is scanned for the other
students' markers, and every run must show the student's own marker in the page's elements.

Server CPU comes from /proc of the app processes (and HAProxy), client CPU from /proc of this
process and of the browsers it started. Writes bench/load.json (one entry per class size and
number of processes, replaced on rerun) and the block between the load markers of bench/README.md.

  .venv/bin/python bench/load.py                       # 30 and 100 students, one app process
  .venv/bin/python bench/load.py --replicas 2          # 2 processes behind HAProxy
  .venv/bin/python bench/load.py --students 30 --rounds 2 --browsers 0
  .venv/bin/python bench/load.py --replicas 2 --students 20 --kill-after 20   # a fault run

A fault run (--kill-after S, through HAProxy and deploy/classroom.py's supervisor) SIGKILLs the app
process with the most students S seconds into the class. Each student does what a browser tab does
when its websocket drops: it asks /_stcore/health again (HAProxy answers from a live process and
sets the cookie anew), reopens the websocket with its session id, and reruns its page with the URL's
query string, which carries its text and settings; then it goes on with its sentences. The report
gives the students served again, the time from the kill until each one's page was drawn again
(median, p95), whether that page showed the student's own text again, the errors and the leaks, and
how long the classroom took to have every process healthy again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LOAD_JSON = ROOT / "bench" / "load.json"
README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- load -->", "<!-- /load -->"
GOAL_P95_S = 2.0  # at 30 students on 2 cores (issue 15)
GOAL_RECOVERY_P95_S = 5.0  # a fault run: from the kill until a moved student's page is drawn again (issue 22)
RECONNECT_DEADLINE_S = 60  # a student not served again within this is lost for good
RUN_TIMEOUT_S = 240  # one script run; longer counts as an error
TEXT_LABEL = "Your text: one sentence per line"
# The pages students work on, by URL path ("" is the home page, Pipeline), taken in turn.
PAGES = ("", "tokenizer", "model", "attention")
PAGE_TITLES = {
    "": "Pipeline",
    "tokenizer": "Tokenizer lab",
    "model": "Inside the model",
    "attention": "Attention",
}
# Marker words, one per student: harmless nouns; only those the tokenizer keeps whole (so that the
# word itself appears on the page) and that the pages do not already show are used.
CANDIDATES = """
badger camel eagle tiger lion horse sheep goat mouse rabbit wolf bear fox deer duck goose swan owl
frog snake shark whale dolphin monkey zebra panda otter beaver donkey cobra falcon parrot spider
turtle lizard penguin giraffe elephant kangaroo leopard jaguar buffalo moose squirrel hamster
pigeon raven crow sparrow robin hawk vulture pelican flamingo butterfly beetle ant bee wasp lobster
crab oyster salmon trout cod tuna octopus squid jellyfish coral seal walrus camel llama bison
apple banana cherry grape lemon melon orange peach pear plum mango olive tomato potato carrot onion
garlic pepper cabbage lettuce pumpkin walnut almond coconut strawberry raspberry chestnut
piano violin guitar drum trumpet flute harp cello saxophone clarinet trombone accordion harmonica
hammer anvil shovel ladder bucket kettle teapot spoon fork knife ribbon button needle thimble
lantern candle compass anchor helmet saddle blanket pillow carpet curtain mirror basket bicycle
canoe kayak sailboat tractor wagon sled chariot balloon kite umbrella volcano glacier canyon
meadow orchard vineyard lighthouse windmill castle cottage barn igloo pyramid tunnel bridge harbor
marble granite copper silver bronze velvet cotton wool silk leather pebble boulder crystal diamond
""".split()
# A MutationObserver sees every change of the app's script state, even a run shorter than one
# animation frame (as bench/run.py does it).
WATCH_RUN = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    window.__explorerRan = app.getAttribute('data-test-script-state') === 'running';
    new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') === 'running') window.__explorerRan = true;
    }).observe(app, {attributes: true});
}"""
SHOWS_WORD = """word => [...document.querySelectorAll("[data-testid='stMain']")]
    .some(element => element.textContent.toLowerCase().includes(word))"""


# ---------------------------------------------------------------------------------------------
# Pure helpers (tests/unit/test_load.py)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def marker_pattern(markers: Iterable[str]) -> re.Pattern[bytes]:
    """Matches any of ``markers`` (lowercase, as typed and as the uncased tokenizer shows them) as a
    whole word in raw bytes. Case matters and a neighbouring letter, digit, '+' or '/' rules a match
    out, so the words are not found by chance inside base64 images or other encoded data."""
    words = sorted({m.lower() for m in markers}, key=len, reverse=True)
    alternatives = b"|".join(re.escape(w.encode()) for w in words)
    return re.compile(rb"(?<![A-Za-z0-9+/])(" + alternatives + rb")(?![A-Za-z0-9+/])")


def found_markers(pattern: re.Pattern[bytes], data: bytes) -> set[str]:
    return {m.decode() for m in pattern.findall(data)}


def sentences_for(marker: str, index: int, rounds: int, texts: Sequence[str]) -> list[str]:
    """A student's sentences: each names the student's marker, each differs from the others."""
    return [f"{marker} says: {texts[(index * rounds + r) % len(texts)]}" for r in range(rounds)]


def replace_block(document: str, block: str, begin: str = BEGIN, end: str = END) -> str:
    """``document`` with the text between ``begin`` and ``end`` replaced by ``block`` (markers kept);
    the marked block is appended when the document has none."""
    marked = f"{begin}\n{block.strip()}\n{end}"
    start, stop = document.find(begin), document.find(end)
    if start == -1 or stop == -1 or stop < start:
        return document.rstrip("\n") + "\n\n" + marked + "\n"
    return document[:start] + marked + document[stop + len(end) :]


def merge_cookies(new: Iterable[str], old: str | None) -> str | None:
    """A Cookie header from the cookies a response set (``new``, each "name=value") and the header
    sent before: a cookie set anew replaces the old one of the same name (as a browser does)."""
    jar: dict[str, str] = {}
    for pair in [*new, *(old.split("; ") if old else [])]:
        name = pair.split("=", 1)[0].strip()
        if name and name not in jar:
            jar[name] = pair.strip()
    return "; ".join(jar.values()) or None


def url_carries(pattern: re.Pattern[bytes], query_string: str) -> bool:
    """Whether a page's query string (URL-encoded: 'text=otter+says%3A+...') names a marker."""
    return bool(pattern.search(urllib.parse.unquote_plus(query_string).encode()))


def recovery_times(students: Iterable[Student], killed_at: float) -> list[float]:
    """Seconds from the kill until each dropped student's page was drawn again (those served again)."""
    times = []
    for s in students:
        if s.drops:
            after = [t for t in s.served_again if t >= killed_at]
            if after:
                times.append(min(after) - killed_at)
    return times


def merge_runs(previous: list[dict], new: list[dict]) -> list[dict]:
    """Runs kept in bench/load.json: a new run replaces the one with the same class size and
    number of processes (a fault run only another fault run)."""
    key = lambda run: (  # noqa: E731
        run["students"],
        run["replicas"],
        run["through_proxy"],
        run.get("kill_after_s") or 0,
    )
    replaced = {key(run) for run in new}
    kept = [run for run in previous if key(run) not in replaced]
    return sorted(kept + new, key=key)


# ---------------------------------------------------------------------------------------------
# CPU and memory from /proc

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (after "pid (comm)")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one live process (all its threads)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if fields else 0.0


def children_map() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int, tree: dict[int, list[int]], skip: AbstractSet[int] = frozenset()) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current in skip or current in found:
            continue
        found.add(current)
        todo.extend(tree.get(current, []))
    return found


def tree_cpu_s(pids: Iterable[int]) -> float:
    return sum(process_cpu_s(pid) for pid in pids)


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


def memory_mb(pid: int) -> dict[str, float]:
    status = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                status[name] = int(value.split()[0]) / 1024
    except OSError:
        return {}
    return {"rss_mb": round(status.get("VmRSS", 0), 1), "peak_mb": round(status.get("VmHWM", 0), 1)}


def _reaped_children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds of the server processes, the proxy, this client and its browsers over a window."""

    def __init__(self, app_pids: list[int], proxy_pid: int | None):
        self.app_pids, self.proxy_pid = app_pids, proxy_pid

    def sample(self) -> dict[str, float]:
        tree = children_map()
        servers = set().union(*(descendants(p, tree) for p in self.app_pids))
        proxy = descendants(self.proxy_pid, tree) if self.proxy_pid else set()
        me = os.getpid()
        ours = set(self.app_pids) | ({self.proxy_pid} if self.proxy_pid is not None else set())
        browsers = descendants(me, tree, skip=ours) - {me}
        return {
            "server": tree_cpu_s(servers),
            "proxy": tree_cpu_s(proxy),
            "client": process_cpu_s(me),
            # live browser processes, and those already ended (reaped: counted in our children's usage)
            "browsers": tree_cpu_s(browsers) + _reaped_children_cpu_s(),
            "machine": machine_busy_s(),
            "wall": time.monotonic(),
        }

    @staticmethod
    def report(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        wall = max(after["wall"] - before["wall"], 1e-9)
        used = {
            k: max(after[k] - before[k], 0.0) for k in ("server", "proxy", "client", "browsers", "machine")
        }
        others = max(
            used["machine"] - used["server"] - used["proxy"] - used["client"] - used["browsers"], 0.0
        )
        return {
            "seconds": round(wall, 1),
            "server_cpu_s": round(used["server"], 1),
            "server_cores": round(used["server"] / wall, 2),
            "proxy_cpu_s": round(used["proxy"], 1),
            "client_cpu_s": round(used["client"], 1),
            "client_cores": round(used["client"] / wall, 2),
            "browsers_cpu_s": round(used["browsers"], 1),
            "machine_busy_cores": round(used["machine"] / wall, 2),
            "other_programs_cores": round(others / wall, 2),
        }


# ---------------------------------------------------------------------------------------------
# A student speaking Streamlit's protocol


@dataclass
class Student:
    index: int
    marker: str
    page: str
    sentences: list[str]
    latencies: list[float] = field(default_factory=list)
    first_visit_s: float | None = None
    bytes_per_rerun: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    runs_without_own_text: int = 0
    replica: str | None = None  # the process HAProxy sent it to (through the proxy)
    session_id: str | None = None
    drops: list[float] = field(default_factory=list)  # when its connection dropped (perf_counter)
    served_again: list[float] = field(default_factory=list)  # when its page was drawn after a drop
    moved_to: str | None = None  # the process that served it again after a drop
    views_expected: int = 0  # drops after the student had typed (its URL carried its own text)
    views_restored: int = 0  # of those, pages drawn again that showed the student's own text


class Session:
    """One websocket to Streamlit: sends rerun requests, and reads every ForwardMsg (scanning it for
    other students' markers) until the run finishes."""

    def __init__(self, student: Student, others: re.Pattern[bytes] | None, own: re.Pattern[bytes]):
        self.student, self.others, self.own = student, others, own
        self.socket: ClientConnection | None = None
        self.page_hash = ""  # of the page drawn last, sent back on each rerun like the browser does
        self.drawn_page: str | None = None
        self.query_string = ""
        self.text_id: str | None = None
        self.url = ""
        self.record: list[bytes] | None = None  # every message received, when a list is given

    async def open(self, base_url: str, cookie: str | None, existing_session: str | None = None):
        """Open the websocket (a reconnection when ``existing_session``); return the upgrade
        response's headers."""
        import websockets
        from websockets.typing import Subprotocol

        # the browser's order: protocol, a token (checked only with an Origin header), session to resume
        protocols = ["streamlit"] if existing_session is None else ["streamlit", "token", existing_session]
        self.url = f"{base_url}/{self.student.page}"
        self.socket = socket = await websockets.connect(
            base_url.replace("http", "ws", 1) + "/_stcore/stream",
            subprotocols=[Subprotocol(p) for p in protocols],
            additional_headers={"Cookie": cookie} if cookie else None,
            max_size=None,
            ping_interval=None,  # a browser does not ping either; a busy server must not drop us
            open_timeout=120,
        )
        assert socket.response is not None  # the upgrade response, once connected
        return socket.response.headers

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    async def rerun(self, text: str | None = None, first: bool = False) -> tuple[float, int, bool]:
        """Ask for a run (with a new text box value when ``text``); return its latency, the bytes
        received and whether the page's elements showed the student's marker."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = BackMsg()
        state = message.rerun_script
        if first:
            state.page_name = self.student.page  # what the browser sends for the URL it opened
        else:
            state.page_script_hash = self.page_hash
        state.query_string = self.query_string
        state.context_info.url = self.url + (f"?{self.query_string}" if self.query_string else "")
        state.context_info.timezone = "UTC"
        if text is not None:
            if self.text_id is None:
                raise RuntimeError("the page drew no text box")
            widget = state.widget_states.widgets.add()
            widget.id = self.text_id
            widget.string_value = text
        started = time.perf_counter()
        socket = self.socket
        if socket is None:
            raise RuntimeError("rerun before open")
        await socket.send(message.SerializeToString())
        received, shown = 0, False
        while True:
            received_message = await asyncio.wait_for(socket.recv(), timeout=RUN_TIMEOUT_S)
            # Streamlit sends binary frames (protobuf); a text frame would be a protocol change
            raw = received_message if isinstance(received_message, bytes) else received_message.encode()
            received += len(raw)
            if self.record is not None:
                self.record.append(raw)
            if self.others is not None:
                match = self.others.search(raw)
                if match:
                    around = raw[max(match.start() - 60, 0) : match.end() + 60].decode("utf-8", "replace")
                    self.student.leaks.append(
                        f"student {self.student.index} ({self.student.marker}, page '{self.student.page}') "
                        f"received {sorted(found_markers(self.others, raw))[:3]}: ...{around!r}..."
                    )
            forward = ForwardMsg()
            forward.ParseFromString(raw)
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                if forward.new_session.initialize.session_id:
                    self.student.session_id = forward.new_session.initialize.session_id
            elif kind == "navigation":  # the page this run drew (with st.navigation)
                self.page_hash = forward.navigation.page_script_hash
                self.drawn_page = next(
                    (
                        "" if page.is_default else page.url_pathname
                        for page in forward.navigation.app_pages
                        if page.page_script_hash == self.page_hash
                    ),
                    None,
                )
            elif kind == "page_info_changed":
                self.query_string = forward.page_info_changed.query_string
            elif kind == "delta":
                shown = shown or bool(self.own.search(raw))
                delta = forward.delta
                if delta.WhichOneof("type") == "new_element":
                    element = delta.new_element
                    what = element.WhichOneof("type")
                    if what == "text_area" and element.text_area.label == TEXT_LABEL:
                        self.text_id = element.text_area.id
                    elif what == "exception":
                        self.student.errors.append(
                            f"student {self.student.index}: exception {element.exception.type}: "
                            f"{element.exception.message[:120]}"
                        )
            elif kind == "script_finished":
                if forward.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise RuntimeError("the script did not compile")
                if forward.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    if self.drawn_page != self.student.page:
                        raise RuntimeError(f"asked for page '{self.student.page}', got '{self.drawn_page}'")
                    return time.perf_counter() - started, received, shown


def http_get(url: str, cookie: str | None) -> tuple[str | None, str | None]:
    """GET a page like a browser opening it: (the cookies to send from now on, including the one
    HAProxy sets, and the process that answered)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        jar = [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []]
        replica = response.headers.get("X-Classroom-Replica")
    return merge_cookies(jar, cookie), replica


def connection_lost(error: BaseException) -> bool:
    """The websocket or its process went away (not a slow run or a wrong page)."""
    import websockets

    return isinstance(error, websockets.exceptions.ConnectionClosed | ConnectionError | EOFError)


async def read_or_drop(session: Session, seconds: float) -> bool:
    """The student reads for ``seconds``; True as soon as its connection drops meanwhile (a browser
    sees the websocket close at once)."""
    if session.socket is None:
        return True
    closed = asyncio.ensure_future(session.socket.wait_closed())
    done, _ = await asyncio.wait({closed}, timeout=seconds)
    if not done:
        closed.cancel()
    return bool(done)


async def reconnect(session: Session, base_url: str, cookie: str | None) -> str | None:
    """What a browser tab does when its websocket drops: ask /_stcore/health until a process answers
    (through HAProxy: a live one, which sets the cookie anew), reopen the websocket with the session
    id, rerun the page with the URL's query string. Returns the cookie to send from now on."""
    student = session.student
    student.drops.append(time.perf_counter())
    typed = url_carries(session.own, session.query_string)  # its own text is in its URL
    deadline = student.drops[-1] + RECONNECT_DEADLINE_S
    with contextlib.suppress(Exception):
        await session.close()
    while True:
        try:
            cookie, replica = await asyncio.to_thread(http_get, f"{base_url}/_stcore/health", cookie)
            headers = await session.open(base_url, cookie, existing_session=student.session_id)
            student.moved_to = headers.get("X-Classroom-Replica") or replica
            _, _, shown = await session.rerun(first=True)
            break
        except Exception as error:
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"not served again within {RECONNECT_DEADLINE_S} s ({type(error).__name__}: {error})"
                ) from error
            with contextlib.suppress(Exception):
                await session.close()
            await asyncio.sleep(0.5)  # a browser retries about as often
    student.served_again.append(time.perf_counter())
    if typed:
        student.views_expected += 1
        student.views_restored += shown
    return cookie


async def attend(
    student: Student,
    base_url: str,
    start_after: float,
    think: tuple[float, float],
    others,
    recover: bool = False,
) -> None:
    """One student's lesson: join, open the page, then type each sentence after some reading.
    With ``recover``, a dropped connection is reconnected as a browser tab does (reconnect) and the
    interrupted step done again; without, it is an error."""
    rng = random.Random(student.index)
    own = marker_pattern([student.marker])
    session = Session(student, others, own)
    await asyncio.sleep(start_after)
    cookie: str | None = None

    async def again_if_dropped(step):
        nonlocal cookie
        while True:
            try:
                return await step()
            except Exception as error:
                if not (recover and connection_lost(error)):
                    raise
                cookie = await reconnect(session, base_url, cookie)

    try:
        started = time.perf_counter()
        cookie, replica = await asyncio.to_thread(http_get, f"{base_url}/{student.page}", None)
        student.replica = replica
        headers = await session.open(base_url, cookie)
        socket_replica = headers.get("X-Classroom-Replica")
        if replica and socket_replica != replica:
            student.errors.append(
                f"student {student.index}: the page came from {replica} but the websocket went to {socket_replica}"
            )
        await again_if_dropped(lambda: session.rerun(first=True))
        student.first_visit_s = time.perf_counter() - started
        for sentence in student.sentences:
            reading = rng.uniform(*think)  # reading the page before typing again
            if not recover:
                await asyncio.sleep(reading)
            elif await read_or_drop(session, reading):
                cookie = await reconnect(session, base_url, cookie)
            latency, received, shown = await again_if_dropped(
                lambda sentence=sentence: session.rerun(sentence)
            )
            student.latencies.append(latency)
            student.bytes_per_rerun.append(received)
            if not shown:
                student.runs_without_own_text += 1
    except Exception as error:  # counted and reported; the class goes on
        first_line = (str(error).splitlines() or [""])[0][:160]
        student.errors.append(f"student {student.index}: {type(error).__name__}: {first_line}")
    finally:
        await session.close()


async def browser_student(
    browser, student: Student, base_url: str, start_after: float, think, others_text: re.Pattern[str]
) -> None:
    """A real Chromium tab typing its sentences; checks what the page shows."""
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from conftest import IDLE

    rng = random.Random(1000 + student.index)
    await asyncio.sleep(start_after)
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    page = await context.new_page()
    try:
        started = time.perf_counter()
        await page.goto(f"{base_url}/{student.page}", timeout=300_000)
        await page.wait_for_selector(IDLE, timeout=300_000)
        area = page.get_by_role("textbox", name=TEXT_LABEL)
        await area.wait_for(timeout=300_000)
        student.first_visit_s = time.perf_counter() - started
        for sentence in student.sentences:
            await asyncio.sleep(rng.uniform(*think))
            await area.fill(sentence)
            await page.wait_for_selector(IDLE, timeout=240_000)
            await page.evaluate(WATCH_RUN)
            started = time.perf_counter()
            await area.press("Control+Enter")
            # the app has run (seen by a MutationObserver, however short the run) and settled
            await page.wait_for_function("window.__explorerRan === true", timeout=60_000)
            await page.wait_for_selector(IDLE, timeout=240_000)
            student.latencies.append(time.perf_counter() - started)
            if not await page.evaluate(SHOWS_WORD, student.marker):
                student.runs_without_own_text += 1
            shown = (await page.inner_text("body")).lower()
            leaked = {m.lower() for m in others_text.findall(shown)}
            if leaked:
                student.leaks.append(f"browser {student.index} showed {sorted(leaked)[:3]}")
    except Exception as error:
        first_line = (str(error).splitlines() or [""])[0][:160]
        student.errors.append(f"browser {student.index}: {type(error).__name__}: {first_line}")
    finally:
        await context.close()


# ---------------------------------------------------------------------------------------------
# The class


def everyday_sentences() -> list[str]:
    with open(ROOT / "bench" / "everyday_sentences.csv", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def one_token_words(words: Iterable[str]) -> list[str]:
    """The words the bundled tokenizer keeps whole (the default classifier shares it)."""
    from transformers import AutoTokenizer

    from explorer.pipeline.checkpoints import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))
    seen, kept = set(), []
    for word in words:
        if word not in seen and tokenizer.tokenize(word) == [word]:
            seen.add(word)
            kept.append(word)
    return kept


async def probe(base_url: str, pages: Sequence[str]) -> bytes:
    """Warm a process up (imports, model loads) and return everything its pages send with the
    default text, to rule out marker words the pages show anyway."""
    everything: list[bytes] = []
    for page in pages:
        session = Session(Student(index=-1, marker="", page=page, sentences=[]), None, marker_pattern(["-"]))
        session.record = everything
        await session.open(base_url, None)
        try:
            await session.rerun(first=True)
        finally:
            await session.close()
    return b"".join(everything).lower()


def choose_markers(count: int, page_bytes: bytes, sentences: Sequence[str]) -> list[str]:
    text = " ".join(sentences).lower().encode()
    candidates = [w for w in one_token_words(CANDIDATES) if not marker_pattern([w]).search(page_bytes + text)]
    if len(candidates) < count:
        raise SystemExit(f"only {len(candidates)} marker words for {count} students; add words to CANDIDATES")
    return candidates[:count]


async def lesson(
    base_url: str,
    students: int,
    browsers: int,
    rounds: int,
    think: tuple[float, float],
    ramp: float,
    markers: list[str],
    texts: list[str],
    kill: tuple[object, float] | None = None,
) -> tuple[list[Student], list[Student], float, dict | None]:
    """Run one class; return the websocket students, the browser students, the seconds taken and,
    with ``kill`` (the classroom, seconds), what the fault did."""
    everyone = [
        Student(i, markers[i], PAGES[i % len(PAGES)], sentences_for(markers[i], i, rounds, texts))
        for i in range(students + browsers)
    ]
    socket_students, tab_students = everyone[:students], everyone[students:]
    pattern = {
        s.index: marker_pattern([m for m in markers[: len(everyone)] if m != s.marker]) for s in everyone
    }
    spacing = ramp / max(len(everyone), 1)
    started = time.perf_counter()
    recover = kill is not None
    tasks = [
        attend(s, base_url, s.index * spacing, think, pattern[s.index], recover) for s in socket_students
    ]
    fault: dict = {}
    if kill is not None:
        tasks.append(kill_busiest(kill[0], kill[1], socket_students, fault))
    if tab_students:
        sys.path.insert(0, str(ROOT / "tests" / "e2e"))
        from conftest import CHROMIUM_ARGS, chromium_path
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            for s in tab_students:
                others = re.compile(
                    r"(?<![a-z])("
                    + "|".join(m for m in markers[: len(everyone)] if m != s.marker)
                    + r")(?![a-z])"
                )
                tasks.append(browser_student(browser, s, base_url, s.index * spacing, think, others))
            await asyncio.gather(*tasks)
            await browser.close()
    else:
        await asyncio.gather(*tasks)
    return socket_students, tab_students, time.perf_counter() - started, fault or None


async def kill_busiest(room, after_s: float, students: list[Student], fault: dict) -> None:
    """``after_s`` into the class, SIGKILL the app process with the most students (as an operator
    would see a crash); then wait until the supervisor has every process healthy again."""
    import signal

    await asyncio.sleep(after_s)
    counts = {r.name: sum(s.replica == r.name for s in students) for r in room.replicas}
    victim = max(room.replicas, key=lambda r: counts[r.name])
    pid = victim.pid
    fault.update(
        killed=victim.name,
        killed_after_s=after_s,
        students_on_it=[s.index for s in students if s.replica == victim.name],
        killed_at=time.perf_counter(),
    )
    os.kill(pid, signal.SIGKILL)
    deadline = time.perf_counter() + 180
    while time.perf_counter() < deadline:
        if all(r.state == "up" for r in room.replicas) and victim.pid != pid:
            fault["back_to_all_healthy_s"] = round(time.perf_counter() - fault["killed_at"], 1)
            return
        await asyncio.sleep(0.1)  # polling the supervisor's state, bounded by the deadline
    fault["back_to_all_healthy_s"] = None


def fault_summary(fault: dict, students: list[Student]) -> dict:
    """What a fault run reports: who was moved, who was served again and how fast."""
    r = lambda x: round(x, 2) if x is not None else None  # noqa: E731
    dropped = [s for s in students if s.drops]
    served_again = [s for s in dropped if s.served_again]
    times = recovery_times(students, fault["killed_at"])
    return {
        "killed": fault["killed"],
        "killed_after_s": fault["killed_after_s"],
        "students_on_it": len(fault["students_on_it"]),
        "students_dropped": len(dropped),
        "students_served_again": len(served_again),
        "students_lost_for_good": len(dropped) - len(served_again),
        "views_expected_from_url": sum(s.views_expected for s in served_again),
        "views_restored_from_url": sum(s.views_restored for s in served_again),
        "reconnections": sum(len(s.drops) for s in students),
        "recovery_median_s": r(statistics.median(times)) if times else None,
        "recovery_p95_s": r(percentile(times, 95)),
        "recovery_max_s": r(max(times)) if times else None,
        "back_to_all_healthy_s": fault.get("back_to_all_healthy_s"),
        "goal_recovery_p95_s": GOAL_RECOVERY_P95_S,
    }


def summarize(
    students: list[Student], tabs: list[Student], seconds: float, cpu: dict, memory: list[dict], **settings
) -> dict:
    latencies = [t for s in students for t in s.latencies]
    firsts = [s.first_visit_s for s in students if s.first_visit_s is not None]
    tab_latencies = [t for s in tabs for t in s.latencies]
    r = lambda x: round(x, 2) if x is not None else None  # noqa: E731
    per_page = {}
    for page in PAGES:
        values = [t for s in students if s.page == page for t in s.latencies]
        if values:
            per_page[PAGE_TITLES[page]] = {
                "reruns": len(values),
                "median_s": r(statistics.median(values)),
                "p95_s": r(percentile(values, 95)),
                "received_kb_per_rerun": round(
                    statistics.median([b for s in students if s.page == page for b in s.bytes_per_rerun])
                    / 1000,
                    1,
                ),
            }
    replicas_used: dict[str, int] = {}
    for s in students:
        if s.replica:
            replicas_used[s.replica] = replicas_used.get(s.replica, 0) + 1
    expected = len(students) * settings["rounds"]
    return {
        **settings,
        "students": len(students),
        "browsers": len(tabs),
        "sentences_done": len(latencies),
        "sentences_expected": expected,
        "seconds": round(seconds, 1),
        "throughput_sentences_per_s": round(len(latencies) / seconds, 2) if seconds else None,
        "latency_median_s": r(statistics.median(latencies)) if latencies else None,
        "latency_p95_s": r(percentile(latencies, 95)),
        "latency_max_s": r(max(latencies)) if latencies else None,
        "first_visit_median_s": r(statistics.median(firsts)) if firsts else None,
        "first_visit_p95_s": r(percentile(firsts, 95)),
        "per_page": per_page,
        "browser_latency_median_s": r(statistics.median(tab_latencies)) if tab_latencies else None,
        "browser_latency_p95_s": r(percentile(tab_latencies, 95)),
        "browser_sentences_done": len(tab_latencies),
        "errors": [e for s in students + tabs for e in s.errors],
        "sessions_that_saw_another_students_text": [leak for s in students + tabs for leak in s.leaks],
        "runs_that_did_not_show_the_students_own_text": sum(s.runs_without_own_text for s in students + tabs),
        "students_per_process": replicas_used,
        "cpu": cpu,
        "memory_per_process": memory,
        "goal_p95_s": GOAL_P95_S,
    }


def run_class(args, students: int, texts: list[str]) -> dict:
    """Start the app (one process, or N behind HAProxy), warm it up, run one class, stop it."""
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    sys.path.insert(0, str(ROOT / "deploy"))
    from classroom import classroom
    from conftest import isolated_cache

    folder = Path(tempfile.mkdtemp(prefix="load-"))
    through_proxy = args.replicas > 1 or args.proxy
    if args.kill_after and not (through_proxy and args.replicas > 1):
        raise SystemExit("--kill-after needs --replicas 2 or more (the students move to a live process)")
    if through_proxy:
        env = {"EXPLORER_CACHE_DIR": str(isolated_cache(folder / "cache"))}
        room_context = classroom(args.replicas, folder, env=env)
    else:
        room_context = _one_process(folder)
    with room_context as room:
        pages = PAGES
        page_bytes = b""
        for url in room.replica_urls:  # every process loads its models before the class
            page_bytes += asyncio.run(probe(url, pages))
        markers = choose_markers(students + args.browsers, page_bytes, texts)
        meter = CpuMeter(room.app_pids, room.proxy_pid)
        loadavg = Path("/proc/loadavg").read_text().split()[:3]
        before = meter.sample()
        kill = (room, args.kill_after) if args.kill_after else None
        socket_students, tabs, seconds, fault = asyncio.run(
            lesson(
                room.url, students, args.browsers, args.rounds, args.think, args.ramp, markers, texts, kill
            )
        )
        cpu: dict[str, object] = dict(CpuMeter.report(before, meter.sample()))
        cpu["load_average_before"] = [float(v) for v in loadavg]
        if fault:  # the killed process's CPU seconds went with it: the server's share is unknown
            cpu.update(server_cpu_s=None, server_cores=None, other_programs_cores=None)
        memory = [memory_mb(pid) for pid in room.app_pids]
    summary = summarize(
        socket_students,
        tabs,
        seconds,
        cpu,
        memory,
        replicas=args.replicas,
        through_proxy=through_proxy,
        rounds=args.rounds,
        think_s=list(args.think),
        ramp_s=args.ramp,
        pages=[PAGE_TITLES[p] for p in PAGES],
    )
    if fault:
        summary["kill_after_s"] = args.kill_after
        summary["fault"] = fault_summary(fault, socket_students)
    return summary


class _OneProcess:
    def __init__(self, url: str, pid: int):
        self.url, self.replica_urls, self.app_pids, self.proxy_pid = url, [url], [pid], None


def _one_process(folder: Path):
    """One app process, started the way the browser tests start theirs (its own cache folder)."""
    import contextlib

    from conftest import SERVER_PIDS, serve

    @contextlib.contextmanager
    def started():
        with serve(folder / "streamlit.log") as url:
            yield _OneProcess(url, SERVER_PIDS[url])

    return started()


def _shown(value) -> str:
    return "n/a" if value is None else str(value)


def readme_block(runs: list[dict]) -> str:
    lines = [
        "## A classroom (`make load`, websocket students)",
        "",
        "Simulated students speak Streamlit's own websocket protocol (no browser each): each opens a page "
        "(Pipeline, Tokenizer lab, Inside the model or Attention, in turn), reads for a while and types "
        "sentences of its own into the sidebar; a sentence counts from sending it until the server's "
        "`script_finished`. A few Chromium tabs type alongside (typed -> drawn). Every message a student "
        "receives is scanned for the other students' words. CPU in cores (CPU seconds / wall seconds).",
        "",
        "| students | processes | sentences | median | p95 | max | browsers median / p95 | errors | leaks "
        "| server CPU | client CPU | other programs | memory per process (RSS / peak MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        cpu = run["cpu"]
        processes = f"{run['replicas']}" + (" behind HAProxy" if run["through_proxy"] else "")
        if run.get("fault"):
            processes += f", {run['fault']['killed']} SIGKILLed at {run['fault']['killed_after_s']:g} s"
        memory = ", ".join(
            f"{m.get('rss_mb', 0):.0f} / {m.get('peak_mb', 0):.0f}" for m in run["memory_per_process"]
        )
        lines.append(
            f"| {run['students']} | {processes} | {run['sentences_done']} of {run['sentences_expected']} "
            f"| {run['latency_median_s']} s | **{run['latency_p95_s']} s** | {run['latency_max_s']} s "
            f"| {run['browser_latency_median_s']} / {run['browser_latency_p95_s']} s "
            f"| {len(run['errors'])} | {len(run['sessions_that_saw_another_students_text'])} "
            f"| {_shown(cpu['server_cores'])} | {cpu['client_cores']} + browsers {cpu['browsers_cpu_s']} s "
            f"| {_shown(cpu['other_programs_cores'])} | {memory} |"
        )
    lines.append("")
    for run in runs:
        if run.get("fault"):
            lines.append(fault_line(run))
            continue
        pages = "; ".join(
            f"{title} {row['median_s']} / {row['p95_s']} s ({row['received_kb_per_rerun']} kB per rerun)"
            for title, row in run["per_page"].items()
        )
        verdict = (
            ""
            if run["students"] != 30 or run["latency_p95_s"] is None
            else (
                f" Goal p95 <= {run['goal_p95_s']} s: "
                + (
                    "met."
                    if run["latency_p95_s"] <= run["goal_p95_s"]
                    else f"missed by {run['latency_p95_s'] - run['goal_p95_s']:.2f} s."
                )
            )
        )
        lines.append(
            f"- {run['students']} students, {run['replicas']} process(es), measured {run.get('date', '?')}: "
            f"median / p95 per page: {pages}. First visit (page + first run) median {run['first_visit_median_s']} s, "
            f"p95 {run['first_visit_p95_s']} s. Reading time between sentences {run['think_s'][0]:g}-{run['think_s'][1]:g} s, "
            f"students joined over {run['ramp_s']:g} s. Load average before: {run['cpu']['load_average_before']}."
            f"{verdict}"
        )
    return "\n".join(lines)


def fault_line(run: dict) -> str:
    fault = run["fault"]
    p95 = fault["recovery_p95_s"]
    verdict = (
        "met"
        if p95 is not None and p95 <= fault["goal_recovery_p95_s"] and not fault["students_lost_for_good"]
        else "missed"
    )
    return (
        f"- Fault run, measured {run.get('date', '?')}: {run['students']} students through HAProxy on "
        f"{run['replicas']} processes, the busiest ({fault['killed']}, {fault['students_on_it']} students) "
        f"SIGKILLed {fault['killed_after_s']:g} s in. {fault['students_served_again']} of "
        f"{fault['students_dropped']} dropped students served again by a live process "
        f"(of those who had typed, {fault['views_restored_from_url']} of "
        f"{fault.get('views_expected_from_url', '?')} saw their own text again, from the URL), "
        f"{fault['students_lost_for_good']} lost for good; time from the kill until a moved student's page "
        f"was drawn again: median {fault['recovery_median_s']} s, p95 **{p95} s**, max "
        f"{fault['recovery_max_s']} s (goal p95 <= {fault['goal_recovery_p95_s']:g} s, nobody lost: {verdict}). "
        f"Every process healthy again after {fault['back_to_all_healthy_s']} s. "
        f"{run['sentences_done']} of {run['sentences_expected']} sentences, {len(run['errors'])} errors, "
        f"{len(run['sessions_that_saw_another_students_text'])} leaks."
    )


def write_readme(runs: list[dict]) -> None:
    document = README.read_text() if README.is_file() else "# Benchmarks\n"
    README.write_text(replace_block(document, readme_block(runs)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", default="30,100", help="class sizes, comma-separated (default 30,100)")
    parser.add_argument("--replicas", type=int, default=1, help="app processes; 2 or more go behind HAProxy")
    parser.add_argument("--proxy", action="store_true", help="go through HAProxy even with one process")
    parser.add_argument("--rounds", type=int, default=3, help="sentences each student types (default 3)")
    parser.add_argument("--think", default="10:30", help="seconds of reading between sentences, low:high")
    parser.add_argument("--ramp", type=float, default=20, help="seconds over which the students join")
    parser.add_argument("--browsers", type=int, default=2, help="real Chromium tabs alongside (default 2)")
    parser.add_argument(
        "--kill-after",
        type=float,
        default=0,
        help="a fault run: SIGKILL the busiest app process this many seconds into the class",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/ unchanged")
    args = parser.parse_args(argv)
    low, _, high = args.think.partition(":")
    args.think = (float(low), float(high or low))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = everyday_sentences()
    runs = []
    for size in (int(s) for s in args.students.split(",") if s.strip()):
        run = run_class(args, size, texts)
        run["date"] = datetime.date.today().isoformat()
        run["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
        runs.append(run)
        print(json.dumps(run, indent=2), flush=True)
    if args.no_write:
        return
    previous = json.loads(LOAD_JSON.read_text()).get("runs", []) if LOAD_JSON.is_file() else []
    merged = merge_runs(previous, runs)
    report = {"runs": merged}
    # The 30-student class on one process, also at the top level, for readers of the older format.
    headline = next(
        (r for r in merged if r["students"] == 30 and r["replicas"] == 1 and not r["through_proxy"]), None
    )
    if headline:
        report = {
            "students": headline["students"],
            "sentences_each": headline["rounds"],
            "sentences_done": headline["sentences_done"],
            "seconds": headline["seconds"],
            "throughput_sentences_per_s": headline["throughput_sentences_per_s"],
            "latency_median_s": headline["latency_median_s"],
            "latency_p95_s": headline["latency_p95_s"],
            "errors": headline["errors"],
            "sessions_that_saw_another_students_text": headline["sessions_that_saw_another_students_text"],
            **report,
        }
    LOAD_JSON.write_text(json.dumps(report, indent=2) + "\n")
    write_readme(merged)


if __name__ == "__main__":
    main()
