"""Tests of gopool.sync.Map, ported from Go's src/sync/map_test.go and the tests of
internal/sync's HashTrieMap (hashtriemap_test.go), which back sync.Map since Go 1.24.

Each ported test names its Go original. Left out, with why:
``TestMapRangeNoAllocations`` and ``TestMapClearNoAllocations`` (allocation
counts have no Python counterpart), ``TestHashTrieMapBadHash`` and
``TestHashTrieMapTruncHash`` (they stub the trie's hash function; a dict's
collisions are the dict's business). ``TestIssue40999`` (a deleted key is
not kept alive) is ported as a check with weak references.

The stress tests shorten the GIL's switch interval so that threads switch
inside the operations (on a free-threaded build they run in parallel), and
scale with ``GOPOOL_STRESS``.
"""

from __future__ import annotations

import doctest
import gc
import math
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from conftest import STRESS, YieldingInt, hammer, join_all, spawn

import gopool
import gopool._sync_map
from gopool.sync import Map

pytestmark = pytest.mark.timeout(180)

TEST_DATA = [format(i, "b") for i in range(128)]  # Go's testData
MAX_INT = 2**63 - 1  # Go's math.MaxInt, a value never stored


def filled() -> Map[str, int]:
    """A map of TEST_DATA[i] -> i, built as Go's tests build it, checking each step."""
    m: Map[str, int] = Map()
    for i, s in enumerate(TEST_DATA):
        assert m.load(s) == (None, False)
        assert m.load_or_store(s, i) == (i, False)
        assert m.load(s) == (i, True)
        assert m.load_or_store(s, 0) == (i, True)
    return m


def visited(m: Map[Any, Any], check: Callable[[Any, Any], object] = lambda k, v: None) -> list[Any]:
    """The keys range shows, in order, after ``check(key, value)`` on each."""
    keys: list[Any] = []

    def f(k: Any, v: Any) -> bool:
        check(k, v)
        keys.append(k)
        return True

    m.range(f)
    return keys


def contents(m: Map[Any, Any]) -> dict[Any, Any]:
    """Every entry, through range."""
    seen: dict[Any, Any] = {}

    def add(k: Any, v: Any) -> bool:
        assert k not in seen, f"range visited {k!r} twice"
        seen[k] = v
        return True

    m.range(add)
    return seen


def test_docstring_examples() -> None:
    """The examples in the module's docstrings run as shown."""
    assert doctest.testmod(gopool._sync_map).failed == 0


def test_importable() -> None:
    """Map is gopool.sync's, and the top level's."""
    assert gopool.sync.Map is gopool._sync_map.Map
    assert gopool.Map is Map


def test_load_empty() -> None:
    """Go's HashTrieMap LoadEmpty."""
    m: Map[str, int] = Map()
    for s in TEST_DATA:
        assert m.load(s) == (None, False)


def test_load_or_store() -> None:
    """Go's HashTrieMap LoadOrStore."""
    m = filled()
    for i, s in enumerate(TEST_DATA):
        assert m.load(s) == (i, True)
        assert m.load_or_store(s, 0) == (i, True)


def test_range_all() -> None:
    """Go's HashTrieMap All (testAll): range visits every entry once with its value."""
    m = filled()
    assert contents(m) == {s: i for i, s in enumerate(TEST_DATA)}


def test_range_stops_on_false() -> None:
    """range stops at the first false value f returns (Go's `return false`)."""
    m = filled()
    calls = []
    m.range(lambda k, v: calls.append(k) or len(calls) < 5)  # type: ignore[func-returns-value]
    assert len(calls) == 5
    calls.clear()
    m.range(lambda k, v: calls.append(k))  # type: ignore[arg-type, func-returns-value]
    assert len(calls) == 1  # None is false
    with pytest.raises(TypeError, match=r"Map\.range: .* is not callable"):
        m.range(42)  # type: ignore[arg-type]


# -- One and Multiple: an operation on some keys leaves the others alone --


def _compare_and_delete(m: Map[str, int], i: int) -> int | None:
    s = TEST_DATA[i]
    assert not m.compare_and_delete(s, MAX_INT)
    assert m.compare_and_delete(s, i)
    assert not m.compare_and_delete(s, i)
    assert m.load(s) == (None, False)
    return None


def _compare_and_swap(m: Map[str, int], i: int) -> int | None:
    s = TEST_DATA[i]
    assert not m.compare_and_swap(s, MAX_INT, i + 1)
    assert m.compare_and_swap(s, i, i + 1)
    assert not m.compare_and_swap(s, i, i + 1)
    return i + 1


def _swap(m: Map[str, int], i: int) -> int | None:
    assert m.swap(TEST_DATA[i], i + 1) == (i, True)
    return i + 1


def _load_and_delete(m: Map[str, int], i: int) -> int | None:
    s = TEST_DATA[i]
    assert m.load(s) == (i, True)
    assert m.load_and_delete(s) == (i, True)
    assert m.load(s) == (None, False)
    assert m.load_and_delete(s) == (None, False)
    return None


OPS = {
    "CompareAndDelete": _compare_and_delete,
    "CompareAndSwap": _compare_and_swap,
    "Swap": _swap,
    "LoadAndDelete": _load_and_delete,
}


@pytest.mark.parametrize("indices", [[15], [1, 105, 6, 85]], ids=["One", "Multiple"])
@pytest.mark.parametrize("op", list(OPS))
def test_one_and_multiple(op: str, indices: list[int]) -> None:
    """Go's HashTrieMap {CompareAndDelete,CompareAndSwap,Swap,LoadAndDelete}/{One,Multiple}."""
    m = filled()
    after = {i: OPS[op](m, i) for i in indices}
    for i, s in enumerate(TEST_DATA):
        want = after.get(i, i)
        assert m.load(s) == ((None, False) if want is None else (want, True))


def test_compare_and_delete_all() -> None:
    """Go's HashTrieMap CompareAndDelete/All and LoadAndDelete/All: three rounds of filling
    the map and emptying it key by key."""
    for delete in (_compare_and_delete, _load_and_delete):
        m: Map[str, int] = Map()
        for _ in range(3):
            for i, s in enumerate(TEST_DATA):
                assert m.load_or_store(s, i) == (i, False)
            for i in range(len(TEST_DATA)):
                delete(m, i)
            assert contents(m) == {}


def test_compare_and_swap_and_swap_all() -> None:
    """Go's HashTrieMap CompareAndSwap/All and Swap/All: three rounds over every key."""
    m = filled()
    for j in range(3):
        for i, s in enumerate(TEST_DATA):
            assert m.load(s) == (i + j, True)
            assert not m.compare_and_swap(s, MAX_INT, i + j + 1)
            assert m.compare_and_swap(s, i + j, i + j + 1)
            assert not m.compare_and_swap(s, i + j, i + j + 1)
    for i, s in enumerate(TEST_DATA):
        assert m.load(s) == (i + 3, True)
    m2: Map[str, int] = Map()
    for i, s in enumerate(TEST_DATA):
        assert m2.swap(s, i) == (None, False)
        assert m2.swap(s, i) == (i, True)
    for j in range(3):
        for i, s in enumerate(TEST_DATA):
            assert m2.swap(s, i + j + 1) == (i + j, True)
    assert contents(m2) == {s: i + 3 for i, s in enumerate(TEST_DATA)}


@pytest.mark.parametrize("delete", [_compare_and_delete, _load_and_delete], ids=["CAD", "LAD"])
def test_delete_while_ranging(delete: Callable[[Map[str, int], int], object]) -> None:
    """Go's HashTrieMap CompareAndDelete/Iterate and LoadAndDelete/Iterate: f deletes the
    entry it is shown (so no lock is held while f runs)."""
    m = filled()

    def f(s: str, i: int) -> bool:
        assert TEST_DATA[i] == s
        delete(m, i)
        return True

    m.range(f)
    assert contents(m) == {}


# -- concurrent: unshared and shared keys --


def _unshared(op: str, m: Map[str, int], tid: int) -> None:
    keys = [f"{s}-{tid}" for s in TEST_DATA]
    for key in keys:
        assert m.load(key) == (None, False)
        if op == "Swap":
            assert m.swap(key, tid) == (None, False)
        else:
            assert m.load_or_store(key, tid) == (tid, False)
        assert m.load(key) == (tid, True)
        assert m.load_or_store(key, 0) == (tid, True)
    for key in keys:
        if op == "CompareAndDelete":
            assert m.compare_and_delete(key, tid)
        elif op == "LoadAndDelete":
            assert m.load_and_delete(key) == (tid, True)
        elif op == "CompareAndSwap":
            assert m.compare_and_swap(key, tid, tid + 1)
        else:
            assert m.swap(key, tid + 1) == (tid, True)
    final = None if op.endswith("Delete") else tid + 1
    for key in keys:
        assert m.load(key) == ((None, False) if final is None else (final, True))


@pytest.mark.parametrize("op", list(OPS))
def test_concurrent_unshared_keys(op: str, fast_switch: None) -> None:
    """Go's HashTrieMap */ConcurrentUnsharedKeys: threads on keys of their own never see
    each other's entries."""
    m: Map[str, int] = Map()
    for _ in range(STRESS.iterations(1)):
        hammer(8, lambda tid: _unshared(op, m, tid))
        m.clear()


@pytest.mark.parametrize("op", ["CompareAndSwap", "Swap"])
def test_concurrent_unshared_keys_with_delete(op: str, fast_switch: None) -> None:
    """Go's HashTrieMap CompareAndSwap/ConcurrentUnsharedKeysWithDelete and
    Swap/ConcurrentUnsharedKeysWithDelete."""
    m: Map[str, int] = Map()

    def body(tid: int) -> None:
        for s in TEST_DATA:
            key = f"{s}-{tid}"
            assert m.load_or_store(key, tid) == (tid, False)
            if op == "CompareAndSwap":
                assert m.compare_and_swap(key, tid, tid + 1)
            else:
                assert m.swap(key, tid + 1) == (tid, True)
            assert m.compare_and_delete(key, tid + 1)
            assert not m.compare_and_swap(key, tid + 1, tid + 2)
            assert not m.compare_and_delete(key, tid + 1)
            assert m.load(key) == (None, False)

    for _ in range(STRESS.iterations(1)):
        hammer(8, body)
    assert contents(m) == {}


@pytest.mark.parametrize("op", list(OPS))
def test_concurrent_shared_keys(op: str, fast_switch: None) -> None:
    """Go's HashTrieMap */ConcurrentSharedKeys: every thread applies the same change to the
    same keys; each key ends changed once."""

    def body(_: int) -> None:
        for i, s in enumerate(TEST_DATA):
            if op == "CompareAndDelete":
                assert not m.compare_and_delete(s, MAX_INT)
                m.compare_and_delete(s, i)
                assert m.load(s) == (None, False)
            elif op == "LoadAndDelete":
                m.load_and_delete(s)
                assert m.load(s) == (None, False)
            elif op == "CompareAndSwap":
                assert not m.compare_and_swap(s, MAX_INT, i + 1)
                m.compare_and_swap(s, i, i + 1)
                assert m.load(s) == (i + 1, True)
            else:
                m.swap(s, i + 1)
                assert m.load(s) == (i + 1, True)

    for _ in range(STRESS.iterations(1)):
        m = filled()
        hammer(8, body)
        want = {} if op.endswith("Delete") else {s: i + 1 for i, s in enumerate(TEST_DATA)}
        assert contents(m) == want


# -- sync/map_test.go --


class Reference:
    """Go's RWMutexMap of map_reference_test.go: a dict under a lock, the obvious way."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.d: dict[Any, Any] = {}

    def load(self, k: Any) -> tuple[Any, bool]:
        with self.lock:
            return (self.d[k], True) if k in self.d else (None, False)

    def store(self, k: Any, v: Any) -> None:
        with self.lock:
            self.d[k] = v

    def load_or_store(self, k: Any, v: Any) -> tuple[Any, bool]:
        with self.lock:
            if k in self.d:
                return self.d[k], True
            self.d[k] = v
            return v, False

    def load_and_delete(self, k: Any) -> tuple[Any, bool]:
        with self.lock:
            return (self.d.pop(k), True) if k in self.d else (None, False)

    def delete(self, k: Any) -> None:
        self.load_and_delete(k)

    def swap(self, k: Any, v: Any) -> tuple[Any, bool]:
        with self.lock:
            previous = self.load_unlocked(k)
            self.d[k] = v
            return previous

    def load_unlocked(self, k: Any) -> tuple[Any, bool]:
        return (self.d[k], True) if k in self.d else (None, False)

    def compare_and_swap(self, k: Any, old: Any, new: Any) -> bool:
        with self.lock:
            if k not in self.d or self.d[k] != old:
                return False
            self.d[k] = new
            return True

    def compare_and_delete(self, k: Any, old: Any) -> bool:
        with self.lock:
            if k not in self.d or self.d[k] != old:
                return False
            del self.d[k]
            return True

    def range(self, f: Callable[[Any, Any], bool]) -> None:
        with self.lock:
            items = list(self.d.items())
        for k, v in items:
            if not f(k, v):
                break

    def clear(self) -> None:
        with self.lock:
            self.d.clear()


MAP_OPS = [
    "load",
    "store",
    "load_or_store",
    "load_and_delete",
    "delete",
    "swap",
    "compare_and_swap",
    "compare_and_delete",
    "clear",
]


def apply_call(m: Any, op: str, k: str, v: str, new: int) -> tuple[Any, bool]:
    """Go's mapCall.apply: one call on m, as a (value, ok) pair."""
    if op in ("load", "load_and_delete"):
        result: tuple[Any, bool] = getattr(m, op)(k)
        return result
    if op in ("store", "delete", "clear"):
        getattr(m, op)(*((k, v) if op == "store" else (k,) if op == "delete" else ()))
        return None, False
    if op in ("load_or_store", "swap"):
        result = getattr(m, op)(k, v)
        return result
    if op == "compare_and_swap":
        if m.compare_and_swap(k, v, new):
            m.delete(k)
            return v, True
        return None, False
    if m.compare_and_delete(k, v):
        if not m.load(k)[1]:
            return None, True
    return None, False


def rand_value(r: random.Random) -> str:
    """Go's randValue: a short string of lower-case letters."""
    return "".join(chr(ord("a") + r.randrange(26)) for _ in range(r.randrange(4)))


def test_map_matches_reference() -> None:
    """Go's TestMapMatchesRWMutex and TestMapMatchesDeepCopy (testing/quick): random call
    sequences give the same results and contents on Map as on a dict under a lock."""
    r = random.Random(1)
    for _ in range(STRESS.iterations(200)):
        calls = [
            (r.choice(MAP_OPS), rand_value(r), rand_value(r), r.randrange(1 << 30))
            for _ in range(r.randrange(1, 60))
        ]
        got, want = Map[str, Any](), Reference()
        assert [apply_call(got, *c) for c in calls] == [apply_call(want, *c) for c in calls]
        assert contents(got) == want.d


def test_concurrent_range(fast_switch: None) -> None:
    """Go's TestConcurrentRange: while threads store multiples of each key, range sees every
    key once, each with a multiple of it."""
    map_size = 1 << 10
    m: Map[int, int] = Map()
    for n in range(1, map_size + 1):
        m.store(n, n)
    stop = threading.Event()

    def writer(g: int) -> None:
        r = random.Random(g)
        i = 0
        while not stop.is_set():
            for n in range(1, map_size):
                if r.randrange(map_size) == 0:
                    m.store(n, n * i * g)
                else:
                    m.load(n)
            i += 1

    def check_multiple(k: int, v: int) -> None:
        assert v % k == 0, f"while storing multiples of {k}, range saw {v}"

    writers = [spawn(writer, g) for g in range(1, 5)]
    try:
        for _ in range(STRESS.iterations(16)):
            keys = visited(m, check_multiple)
            assert len(set(keys)) == len(keys), "range visited a key twice"
            assert len(keys) == map_size
    finally:
        stop.set()
        join_all(writers)


def test_deleted_entries_are_not_kept_alive() -> None:
    """Go's TestIssue40999: a deleted key (and its value) is not kept by the map; likewise
    after load_and_delete, compare_and_delete and clear."""

    class Key:
        pass

    m: Map[Key, Key] = Map()
    m.store(Key(), Key())  # Go's initial entry, biasing its miss counting

    def delete(k: Key, v: Key) -> None:
        m.delete(k)

    def load_and_delete(k: Key, v: Key) -> None:
        assert m.load_and_delete(k) == (v, True)

    def compare_and_delete(k: Key, v: Key) -> None:
        assert m.compare_and_delete(k, v)

    def clear(k: Key, v: Key) -> None:
        m.clear()

    for remove in (delete, load_and_delete, compare_and_delete, clear):
        k, v = Key(), Key()
        refs = [weakref.ref(k), weakref.ref(v)]
        m.store(k, v)
        remove(k, v)
        del k, v
        gc.collect()
        assert [r() for r in refs] == [None, None], remove.__name__


def test_range_nested_call() -> None:
    """Go's TestMapRangeNestedCall (issue 46399): f may range, load, store and delete on the
    same map; a range of deletes empties it."""
    m: Map[int, str] = Map()
    for i, v in enumerate(["hello", "world", "Go"]):
        m.store(i, v)

    def outer(key: int, value: str) -> bool:
        def inner(key: int, value: str) -> bool:
            assert m.load(key) == (value, True)
            assert m.load_or_store(42, "dummy") == ("dummy", False)
            m.store(42, "sync.Map")
            assert m.load_and_delete(42) == ("sync.Map", True)
            return True

        m.range(inner)
        m.delete(key)
        return True

    m.range(outer)
    assert contents(m) == {}


def test_compare_and_swap_non_existing_key() -> None:
    """Go's TestCompareAndSwap_NonExistingKey: no swap of an absent key, even from None."""
    m: Map[Any, Any] = Map()
    assert not m.compare_and_swap(m, None, 42)
    assert not m.compare_and_delete(m, None)
    assert m.load(m) == (None, False)


def test_concurrent_clear(fast_switch: None) -> None:
    """Go's TestConcurrentClear: stores, loads and clears from 30 threads, then a clear
    leaves the map empty."""
    m: Map[int, int] = Map()

    def body(i: int) -> None:
        kind, k = divmod(i, 10)
        for _ in range(STRESS.iterations(100)):
            if kind == 0:
                m.store(k, k * 10)
            elif kind == 1:
                value, ok = m.load(k)
                assert not ok or value == k * 10
            else:
                m.clear()

    hammer(30, body)
    m.clear()
    assert contents(m) == {}
    assert m.load(0) == (None, False)


def test_clear_then_reuse() -> None:
    """After clear the map is empty and works as new (Go 1.23's Map.Clear)."""
    m = filled()
    m.clear()
    assert contents(m) == {}
    assert m.load(TEST_DATA[3]) == (None, False)
    assert m.load_or_store(TEST_DATA[3], 7) == (7, False)
    assert contents(m) == {TEST_DATA[3]: 7}


def test_values_compare_with_eq() -> None:
    """compare_and_* compare values with ==: an equal object matches, NaN never does."""
    m: Map[str, Any] = Map()
    m.store("list", [1, 2])
    assert m.compare_and_swap("list", [1, 2], [3])
    assert m.load("list") == ([3], True)
    assert m.compare_and_delete("list", [3])
    nan = math.nan
    m.store("nan", nan)
    assert not m.compare_and_swap("nan", nan, 0.0)
    assert not m.compare_and_delete("nan", nan)
    m.store(None, None)  # type: ignore[arg-type]
    assert m.load(None) == (None, True)  # type: ignore[arg-type]
    assert m.swap(None, 1) == (None, True)  # type: ignore[arg-type]


def test_compare_runs_eq_without_the_lock() -> None:
    """The values' == runs with no lock held: __eq__ may use the map (Go: f and comparisons
    may call any method)."""
    m: Map[str, Any] = Map()

    class Probe:
        def __eq__(self, other: object) -> bool:
            m.store("other", 1)  # would deadlock if the lock were held
            return True

        __hash__ = None  # type: ignore[assignment]

    m.store("k", Probe())
    assert m.compare_and_swap("k", "anything", 2)
    m.store("k", Probe())
    assert m.compare_and_delete("k", "anything")
    assert contents(m) == {"other": 1}


class YieldingKey(int):
    """An int key whose hashing yields the processor: a thread switch inside every lookup."""

    def __hash__(self) -> int:
        time.sleep(0)
        return int.__hash__(self)


def test_load_or_store_has_one_winner(fast_switch: None) -> None:
    """Stress: 16 threads load_or_store the same keys with values of their own; for each key
    exactly one stores, and every thread gets that thread's value. The keys' hashing yields,
    so threads interleave between a lookup and a store."""
    m: Map[int, int] = Map()
    keys = STRESS.iterations(500)

    def body(tid: int) -> list[tuple[int, bool]]:
        return [m.load_or_store(YieldingKey(k), tid) for k in range(keys)]

    results = hammer(16, body)
    for k in range(keys):
        winners = [tid for tid in range(16) if not results[tid][k][1]]
        assert len(winners) == 1, (k, winners)
        assert {results[tid][k][0] for tid in range(16)} == {winners[0]}
        assert m.load(k) == (winners[0], True)


def test_compare_and_swap_counts_exactly(fast_switch: None) -> None:
    """Stress: 8 threads increment a few shared keys with compare_and_swap loops; no
    increment is lost. The values' == yields, so threads interleave between the comparison
    and the swap."""
    m: Map[str, int] = Map()
    keys = ["a", "b", "c"]
    for k in keys:
        m.store(k, YieldingInt(0))
    n = STRESS.iterations(1_000)

    def body(tid: int) -> None:
        for i in range(n):
            k = keys[(tid + i) % len(keys)]
            while True:
                v, ok = m.load(k)
                assert ok and v is not None
                if m.compare_and_swap(k, v, YieldingInt(v + 1)):
                    break

    hammer(8, body)
    assert sum(contents(m).values()) == 8 * n


def test_range_sees_each_key_at_most_once_under_churn(fast_switch: None) -> None:
    """Stress: while threads delete and re-store half of the keys over and over, range never
    shows a key twice and always shows every key that stays."""
    m: Map[int, int] = Map()
    size = 512
    for k in range(size):
        m.store(k, k)
    stop = threading.Event()

    def churn(g: int) -> None:
        while not stop.is_set():
            for k in range(g % 2, size, 2):
                if k % 4 < 2:
                    continue  # keys with k % 4 < 2 stay
                m.delete(k)
                m.store(k, k)

    def check_same(k: int, v: int) -> None:
        assert v == k

    churners = [spawn(churn, g) for g in range(4)]
    try:
        for _ in range(STRESS.iterations(50)):
            seen = visited(m, check_same)
            assert len(seen) == len(set(seen))
            assert {k for k in range(size) if k % 4 < 2} <= set(seen)
    finally:
        stop.set()
        join_all(churners)
