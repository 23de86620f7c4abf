"""Process-wide memory of the runs: a cache bounded by the bytes of its arrays, and the collector
that frees what the cache let go of.

Why a collector: a dropped run is freed only once nothing refers to it, and a page run refers to
its data from reference cycles (the page's namespace <-> the functions it defines, e.g. its
st.fragment functions). Python frees cycles only in a full collection, which a server process with
its ~490,000 long-lived objects runs rarely, so old runs of long texts (300 MB of attention each)
piled up: measured up to 1.5 GB above what the caches keep, and a closed tab's last runs stayed
until somebody else typed a long text. Two collections free them:

- before the next miss, once COLLECT_AFTER_BYTES have been dropped since the last collection (so a
  new run is not computed beside the dropped ones: the peak);
- in the background, a few seconds after a drop, while the dropped values are still alive, at a
  moment when no page is running: Streamlit lets go of the run before's fragments only once the
  script has ended (a collection during the rerun finds them still reachable, and would pause it:
  0.26-0.36 s measured on a quiet machine, 1.2-1.6 s on a busy one), and a session that ends later
  (a closed tab lives server.disconnectedSessionTTL, 120 s) is caught by the next try. The waits double while a live session still holds a dropped value (up to
  LONGEST_WAIT), so an idle student costs a collection every few minutes, not every few seconds.

No Streamlit here: the caches that use this live in explorer/ui/cache.py.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import numpy as np

COLLECT_AFTER_BYTES = 64_000_000
FIRST_WAIT = 2.0  # seconds from a drop to the first background collection
LONGEST_WAIT = 300.0
QUIET_POLL = 1.0  # while a page is running, look again this much later…
LONGEST_DEFERRAL = 30.0  # …but collect anyway after this long (a class that never pauses)
SCRIPT_THREAD = "ScriptRunner.scriptThread"  # the thread Streamlit runs each page run on


def a_page_is_running() -> bool:
    """Whether any session's page script is running now: a collection then would find the run
    before still held (its fragments are let go of at the script's end) and would pause it."""
    return any(thread.name == SCRIPT_THREAD for thread in threading.enumerate())


def _glibc() -> Any | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (present in glibc only)
        return libc
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to tune
        return None


_LIBC = _glibc()
if _LIBC is not None:
    # glibc keeps freed blocks below its dynamic mmap threshold (up to 32 MB) in its heap, so the
    # memory of evicted runs stayed in the process (RSS grew with every long text). A fixed
    # threshold puts every block of 4 MB or more in its own mapping, returned when freed.
    _LIBC.mallopt(-3, 4 * 1024 * 1024)  # M_MMAP_THRESHOLD


def release_to_the_system() -> None:
    """Give the free pages of glibc's heaps back (the many small blocks a freed run leaves there:
    ~150 MB measured on SmolLM2 long texts)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def array_bytes(value: Any) -> int:
    """Bytes of the numpy arrays in ``value`` (dataclasses, tuples, lists, dicts), each counted once."""
    seen: set[int] = set()

    def walk(item: Any) -> int:
        if id(item) in seen:
            return 0
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            return int(item.nbytes)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return sum(walk(getattr(item, field.name)) for field in dataclasses.fields(item))
        if isinstance(item, (tuple, list)):
            return sum(walk(part) for part in item)
        if isinstance(item, dict):
            return sum(walk(part) for part in item.values())
        return 0

    return walk(value)


def _weak_refs(value: Any) -> list[weakref.ref]:
    """Weak references to ``value``, or to the parts of a tuple or list that take one (a run is
    (Encoding, ModelRun)); empty when nothing can be watched."""
    try:
        return [weakref.ref(value)]
    except TypeError:
        if isinstance(value, (tuple, list)):
            return [ref for part in value for ref in _weak_refs(part)]
        return []


def _start_timer(wait: float, action: Callable[[], None]) -> None:
    timer = threading.Timer(wait, action)
    timer.daemon = True  # never keeps the server from stopping
    timer.start()


class Collector:
    """Frees the reference cycles that still hold values the caches dropped (see the module's
    docstring). One per process (COLLECTOR), shared by the caches; ``start_timer`` is replaceable so
    tests can run the background collection themselves."""

    def __init__(
        self,
        first_wait: float = FIRST_WAIT,
        longest_wait: float = LONGEST_WAIT,
        start_timer: Callable[[float, Callable[[], None]], None] = _start_timer,
        busy: Callable[[], bool] = a_page_is_running,
    ) -> None:
        self.first_wait, self.longest_wait = first_wait, longest_wait
        self._start_timer, self._busy = start_timer, busy
        self._deferred = 0.0  # seconds the waiting collection has waited for a quiet moment
        self._lock = threading.Lock()
        self._since = 0  # bytes dropped since the last collection
        self._held: list[tuple[list[weakref.ref], int]] = []  # dropped values not yet seen freed
        self._wait = first_wait
        self._armed = False  # a background collection is waiting
        self.collections = 0

    def dropped(self, value: Any, size: int) -> None:
        """A cache let go of ``value`` (``size`` bytes of arrays): free it once it is garbage."""
        refs = _weak_refs(value)
        with self._lock:
            self._since += size
            if refs:
                self._held.append((refs, size))
        self._arm()

    def held_bytes(self) -> int:
        """Bytes of the dropped values still alive (held by a session, or garbage in a cycle)."""
        with self._lock:
            self._held = [(refs, size) for refs, size in self._held if any(ref() for ref in refs)]
            return sum(size for _, size in self._held)

    def before_a_miss(self) -> None:
        """Collect before a new value is made, when COLLECT_AFTER_BYTES were dropped since the last
        collection: the new run is not computed beside the old ones."""
        with self._lock:
            due = self._since >= COLLECT_AFTER_BYTES
        if due:
            self.collect()

    def collect(self) -> None:
        with self._lock:
            self._since = 0
        gc.collect()
        release_to_the_system()
        with self._lock:
            self.collections += 1

    def _arm(self) -> None:
        """Start the background wait unless one is running or nothing big is held."""
        if self.held_bytes() < COLLECT_AFTER_BYTES:
            return
        with self._lock:
            if self._armed:
                return
            self._armed, wait = True, self._wait
        self._start_timer(wait, self.in_the_background)

    def in_the_background(self) -> None:
        """The timer's work: once no page is running (or after LONGEST_DEFERRAL), collect if
        dropped values are still alive; wait twice as long before the next try while some stay
        alive (a live session holds them), else start afresh."""
        if self._deferred < LONGEST_DEFERRAL and self._busy():
            self._deferred += QUIET_POLL
            self._start_timer(QUIET_POLL, self.in_the_background)  # still armed
            return
        with self._lock:
            self._armed, self._deferred = False, 0.0
        if self.held_bytes() >= COLLECT_AFTER_BYTES:
            self.collect()
        still_held = self.held_bytes() >= COLLECT_AFTER_BYTES  # a live session holds them
        with self._lock:
            self._wait = min(self._wait * 2, self.longest_wait) if still_held else self.first_wait
        self._arm()


COLLECTOR = Collector()

T = TypeVar("T")


class BoundedCache(Generic[T]):
    """A process-wide LRU cache, shared by every session like st.cache_resource, bounded by entries
    and by the bytes of the arrays its values hold. Values are frozen and never mutated. Two
    sessions asking for the same key at once compute it once. What it lets go of goes to the
    collector, which frees it once no session holds it."""

    def __init__(self, max_entries: int, max_bytes: int, collector: Collector | None = None) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.collector = collector or COLLECTOR
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _kept(self, key: Hashable) -> tuple[T] | None:
        """(value,) when ``key`` is kept (the most recently used from now on), else None."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return (self._entries[key][0],)
            return None

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if kept := self._kept(key):
            return kept[0]
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            if kept := self._kept(key):  # another session computed it meanwhile
                return kept[0]
            self.collector.before_a_miss()
            try:
                result = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            self._keep(key, result)
            return result

    def _keep(self, key: Hashable, value: T) -> None:
        size = array_bytes(value)
        dropped: list[tuple[T, int]] = []
        if size > self.max_bytes:
            dropped.append((value, size))  # returned to the page, garbage after its run
        else:
            with self._lock:
                self._entries[key] = (value, size)
                total = sum(kept for _, kept in self._entries.values())
                while len(self._entries) > self.max_entries or total > self.max_bytes:
                    _, oldest = self._entries.popitem(last=False)
                    total -= oldest[1]
                    dropped.append(oldest)
        for old, old_size in dropped:
            self.collector.dropped(old, old_size)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
