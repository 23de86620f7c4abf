"""The run caches are bounded by the bytes of their arrays, not only by a count: a few long texts
kept GBs (a run with attention weights holds up to 400 MB)."""

import gc
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from explorer.pipeline.run import MAX_ATTENTION_VALUES
from explorer.ui.cache import HEAVY_RUNS, LIGHT_RUNS, RUN_BYTES
from explorer.ui.memory import (
    COLLECT_AFTER_BYTES,
    FIRST_WAIT,
    LONGEST_DEFERRAL,
    QUIET_POLL,
    BoundedCache,
    Collector,
    _start_timer,
    array_bytes,
)


@dataclass(frozen=True)
class Run:
    attentions: np.ndarray
    logits: np.ndarray | None
    shapes: tuple[int, ...]


class Timers:
    """Stands in for threading.Timer: records the waits; the test runs the due action itself."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.actions: list = []

    def __call__(self, wait: float, action) -> None:
        self.waits.append(wait)
        self.actions.append(action)

    def run_next(self) -> None:
        self.actions.pop(0)()


def run_of(megabytes: int) -> Run:
    return Run(np.zeros(megabytes * 250_000, dtype=np.float32), None, (1, 2))  # 4 bytes a value


def test_array_bytes_counts_each_array_once_through_dataclasses_and_tuples():
    shared = np.zeros(1000, dtype=np.float32)
    assert array_bytes((Run(shared, shared, (3,)), {"x": np.zeros(10, dtype=np.int64)})) == 4000 + 80


def test_the_oldest_runs_go_when_the_bytes_exceed_the_budget():
    cache: BoundedCache[Run] = BoundedCache(
        max_entries=10, max_bytes=25_000_000, collector=Collector(start_timer=Timers())
    )
    for i in range(4):
        cache.get(i, lambda: run_of(10))
    assert len(cache) == 2 and cache.bytes == 20_000_000  # 10 entries allowed, 25 MB are not
    computed = []
    cache.get(3, lambda: computed.append(3) or run_of(10))  # kept: not computed again
    cache.get(0, lambda: computed.append(0) or run_of(10))  # evicted: computed again
    assert computed == [0]
    cache.get(4, lambda: run_of(10))
    assert len(cache) == 2 and cache.bytes <= 25_000_000
    assert cache._kept(0) and cache._kept(4) and not cache._kept(3)  # 3 was used least recently


def test_a_run_bigger_than_the_budget_is_returned_but_not_kept():
    cache: BoundedCache[Run] = BoundedCache(
        max_entries=3, max_bytes=5_000_000, collector=Collector(start_timer=Timers())
    )
    cache.get("small", lambda: run_of(1))
    big = cache.get("big", lambda: run_of(10))
    assert big.attentions.nbytes == 10_000_000
    assert len(cache) == 1 and cache._kept("small")  # nothing was evicted for it


def test_the_count_still_bounds_small_runs():
    cache: BoundedCache[Run] = BoundedCache(
        max_entries=2, max_bytes=10**9, collector=Collector(start_timer=Timers())
    )
    for i in range(5):
        cache.get(i, lambda: run_of(1))
    assert len(cache) == 2


def test_two_sessions_asking_at_once_compute_once():
    cache: BoundedCache[Run] = BoundedCache(
        max_entries=2, max_bytes=10**9, collector=Collector(start_timer=Timers())
    )
    calls = []

    def slow() -> Run:
        calls.append(1)
        time.sleep(0.2)
        return run_of(1)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 3 and all(r is results[0] for r in results)


def test_a_failed_run_is_not_kept_and_can_be_asked_again():
    cache: BoundedCache[Run] = BoundedCache(
        max_entries=2, max_bytes=10**9, collector=Collector(start_timer=Timers())
    )

    def fail() -> Run:
        raise ValueError("too long")

    for _ in range(2):
        try:
            cache.get("k", fail)
        except ValueError:
            pass
    assert len(cache) == 0 and cache.get("k", lambda: run_of(1)).shapes == (1, 2)


def test_the_app_s_run_caches_have_byte_budgets():
    assert LIGHT_RUNS.max_bytes == RUN_BYTES["light"] <= 256_000_000
    assert HEAVY_RUNS.max_bytes == RUN_BYTES["heavy"] <= 600_000_000
    biggest = MAX_ATTENTION_VALUES * 4  # the attention weights of the biggest run allowed
    assert HEAVY_RUNS.max_bytes >= biggest + 40_000_000  # it is kept, with its hidden states


def test_a_miss_after_big_drops_collects_the_cycles_that_still_hold_them():
    """Streamlit keeps a rerun's page namespace in reference cycles, which only the cyclic collector
    frees; the cache collects once COLLECT_AFTER_BYTES have been dropped, before the next run."""
    megabytes = COLLECT_AFTER_BYTES // 1_000_000 + 1
    automatic = gc.isenabled()
    gc.disable()  # the test decides when a collection may happen
    try:
        cache: BoundedCache[Run] = BoundedCache(
            max_entries=1, max_bytes=10**9, collector=Collector(start_timer=Timers())
        )
        held = cache.get("first text", lambda: run_of(megabytes))
        page = {"run": held}
        page["self"] = page  # a cycle, as a page's globals and the functions it defines
        gone = weakref.ref(held.attentions)
        del held, page
        cache.get("second text", lambda: run_of(1))  # evicts the first (max_entries=1)
        assert gone() is not None  # unreachable, but no collection has run
        cache.get("third text", lambda: run_of(1))  # a miss after 64 MB dropped: collect first
        assert gone() is None
    finally:
        if automatic:
            gc.enable()


def test_small_drops_do_not_collect(monkeypatch):
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    cache: BoundedCache[Run] = BoundedCache(
        max_entries=1, max_bytes=10**9, collector=Collector(start_timer=Timers())
    )
    evictions = COLLECT_AFTER_BYTES // 16_000_000  # 16 MB dropped at a time
    for i in range(evictions + 1):  # each miss found less than COLLECT_AFTER_BYTES dropped
        cache.get(i, lambda: run_of(16))
    assert collections == []
    cache.get("one more", lambda: run_of(16))  # now 64 MB have been dropped
    assert len(collections) == 1
    cache.get("and another", lambda: run_of(16))  # counted afresh: 16 MB since
    assert len(collections) == 1


@contextmanager
def collections_by_hand():
    """No automatic collection while the test runs: it decides when one happens."""
    automatic = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if automatic:
            gc.enable()


def test_a_dropped_run_a_page_still_holds_is_freed_in_the_background_once_the_page_lets_go():
    """A closed tab: its session's page namespace (a cycle) holds the run the cache drops when
    another student types. The background collection tries again, each wait twice the last (up to
    the longest), until the session is gone, then frees the run without anybody typing."""
    megabytes = COLLECT_AFTER_BYTES // 1_000_000 + 1
    timers = Timers()
    collector = Collector(first_wait=5, longest_wait=20, start_timer=timers, busy=lambda: False)
    cache: BoundedCache[Run] = BoundedCache(max_entries=1, max_bytes=10**9, collector=collector)
    with collections_by_hand():
        page = {"run": cache.get("a long text", lambda: run_of(megabytes))}
        page["self"] = page  # a cycle, as a page's globals and the functions it defines
        gone = weakref.ref(page["run"].attentions)
        assert timers.waits == []  # nothing dropped yet
        cache.get("another student's text", lambda: run_of(1))  # drops the long text's run
        assert timers.waits == [5]
        cache.get("a third text", lambda: run_of(1))  # one background collection waits at a time
        assert timers.waits == [5]
        for waits in ([5, 10], [5, 10, 20], [5, 10, 20, 20]):
            timers.run_next()  # the tab is still open: its page holds the run
            assert gone() is not None
            assert timers.waits == waits
        del page  # the session ends: its namespace is garbage, in a cycle
        assert gone() is not None
        timers.run_next()
        assert gone() is None
        assert timers.actions == []  # nothing left to free: no more collections
        held = cache.get("a long text again", lambda: run_of(megabytes))
        cache.get("a short text", lambda: run_of(1))
        assert timers.waits[-1] == 5  # the next drop starts from the first wait again
        del held
        assert collector.collections >= 2


def test_the_background_collection_does_not_collect_when_the_dropped_runs_are_already_freed():
    """A dropped run nothing else holds is freed at once (reference counting): the waiting
    collection then finds nothing to do and arms no other."""
    timers = Timers()
    collector = Collector(start_timer=timers)
    cache: BoundedCache[Run] = BoundedCache(max_entries=1, max_bytes=10**9, collector=collector)
    for i in range(8):
        cache.get(i, lambda: run_of(COLLECT_AFTER_BYTES // 1_000_000 + 1))
    assert timers.waits == [FIRST_WAIT]  # armed by the first big drop, once
    before = collector.collections  # those made before each miss
    assert collector.held_bytes() == 0
    timers.run_next()
    assert collector.collections == before
    assert timers.actions == []


def test_the_background_wait_runs_on_a_daemon_thread():
    ran = threading.Event()
    threads: list[threading.Thread] = []

    def action() -> None:
        threads.append(threading.current_thread())
        ran.set()

    _start_timer(0, action)
    assert ran.wait(10)
    assert threads[0] is not threading.main_thread() and threads[0].daemon


def test_the_background_collection_waits_until_no_page_is_running():
    """During a rerun the run before is still held by its fragments (and a collection would pause
    the page ~1 s): the collection waits for a quiet moment, then frees it."""
    megabytes = COLLECT_AFTER_BYTES // 1_000_000 + 1
    timers, running = Timers(), [True]
    collector = Collector(first_wait=2, start_timer=timers, busy=lambda: running[0])
    cache: BoundedCache[Run] = BoundedCache(max_entries=1, max_bytes=10**9, collector=collector)
    with collections_by_hand():
        page = {"run": cache.get("a long text", lambda: run_of(megabytes))}
        page["self"] = page
        gone = weakref.ref(page["run"].attentions)
        cache.get("the next text", lambda: run_of(1))  # the rerun that drops the long text's run
        for _ in range(3):
            timers.run_next()  # the rerun is still drawing: look again soon, collect nothing
        assert timers.waits == [2, QUIET_POLL, QUIET_POLL, QUIET_POLL]
        assert collector.collections == 0
        del page  # the rerun ended: Streamlit let go of the run before's page
        running[0] = False
        timers.run_next()
        assert gone() is None
        assert collector.collections == 1


def test_a_server_that_is_never_quiet_is_collected_anyway():
    megabytes = COLLECT_AFTER_BYTES // 1_000_000 + 1
    timers = Timers()
    collector = Collector(first_wait=2, start_timer=timers, busy=lambda: True)
    cache: BoundedCache[Run] = BoundedCache(max_entries=1, max_bytes=10**9, collector=collector)
    with collections_by_hand():
        page = {"run": cache.get("a long text", lambda: run_of(megabytes))}
        page["self"] = page
        gone = weakref.ref(page["run"].attentions)
        cache.get("the next text", lambda: run_of(1))
        del page
        polls = 0
        while collector.collections == 0:
            timers.run_next()
            polls += 1
            assert polls <= LONGEST_DEFERRAL / QUIET_POLL + 1
        assert gone() is None
