"""Tests of gopool.atomic, ported from Go's src/sync/atomic/atomic_test.go and value_test.go.

Each ported test names its Go original. Go tests each operation twice, as a
function (``AddInt32(&x, d)``) and as a method (``x.Add(d)``); gopool has
only the types (the function forms port to them), so one port covers both.
Left out, with why:

* the ``before``/``after`` magic words around each value: they catch a
  write past a machine word, which Python ints cannot do;
* ``TestNilDeref``, ``TestUnaligned64``, ``TestAutoAligned64``: no nil
  pointers and no alignment in Python;
* ``TestHammer32``'s 32-bit ``Uintptr`` rows run only where pointers are 32
  bits wide, as in Go.

The stress tests shorten the GIL's switch interval so that threads switch
inside the operations (on a free-threaded build they run in parallel), and
scale with ``GOPOOL_STRESS``.
"""

from __future__ import annotations

import doctest
import enum
import operator
import random
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import STRESS, YieldingInt, hammer

from gopool import atomic

pytestmark = pytest.mark.timeout(180)

PTR_BITS = struct.calcsize("P") * 8

# (type, bits, signed)
INTS: list[tuple[type[Any], int, bool]] = [
    (atomic.Int32, 32, True),
    (atomic.Uint32, 32, False),
    (atomic.Int64, 64, True),
    (atomic.Uint64, 64, False),
    (atomic.Uintptr, PTR_BITS, False),
]
INT_IDS = [cls.__name__ for cls, _, _ in INTS]


def go_int(x: int, bits: int, signed: bool) -> int:
    """``x`` converted to Go's intN/uintN: reduced modulo 2**bits, then signed if asked."""
    x %= 1 << bits
    if signed and x >= 1 << (bits - 1):
        x -= 1 << bits
    return x


def test_docstring_examples() -> None:
    """The examples in the module's docstrings run as shown."""
    assert doctest.testmod(atomic).failed == 0


def doublings(bits: int, signed: bool) -> Iterator[int]:
    """Go's ``for delta := 1; delta+delta > delta; delta += delta`` in the type's width."""
    delta = 1
    while go_int(delta + delta, bits, signed) > delta:
        yield delta
        delta += delta


# -- without contention: does each operation work as advertised? --


@pytest.mark.parametrize("op", ["swap", "add"])
@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_swap_and_add(cls: type[Any], bits: int, signed: bool, op: str) -> None:
    """Go's TestSwapInt32, TestSwapUint32, TestSwapInt64, TestSwapUint64, TestSwapUintptr,
    TestAddInt32, TestAddUint32, TestAddInt64, TestAddUint64, TestAddUintptr (and their
    Method forms): swap returns the previous value, add the new one."""
    x = cls()
    j = 0
    for delta in doublings(bits, signed):
        k = getattr(x, op)(delta)
        want = delta if op == "swap" else go_int(j + delta, bits, signed)
        assert x.load() == want and k == (j if op == "swap" else want), (delta, x.load(), j, k)
        j = want


@pytest.mark.parametrize("op", ["and_", "or_"])
@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_and_or(cls: type[Any], bits: int, signed: bool, op: str) -> None:
    """Go's TestAndInt32, TestAndUint32, TestAndInt64, TestAndUint64, TestAndUintptr,
    TestOrInt32, TestOrUint32, TestOrInt64, TestOrUint64, TestOrUintptr (and their Method
    forms): each single-bit mask in turn; the old value returned."""
    apply = operator.and_ if op == "and_" else operator.or_
    x = cls()
    j = 0
    for b in range(bits):  # Go's `for mask := 1; mask != 0; mask <<= 1`
        m = go_int(1 << b, bits, signed)
        old = x.load()
        k = getattr(x, op)(m)
        j = go_int(apply(j, m), bits, signed)
        assert x.load() == j and k == old, (m, x.load(), j, k, old)
    assert x.load() == (0 if op == "and_" else go_int(-1, bits, signed))


@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_and_from_all_ones(cls: type[Any], bits: int, signed: bool) -> None:
    """Go's TestAnd* start from zero, where AND changes nothing: clear one bit at a time from
    all ones, checking each old value."""
    x = cls()
    x.store(-1)
    j = go_int(-1, bits, signed)
    for b in range(bits):
        m = go_int(~(1 << b), bits, signed)
        assert x.and_(m) == j
        j = go_int(j & m, bits, signed)
        assert x.load() == j
    assert j == 0


@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_compare_and_swap(cls: type[Any], bits: int, signed: bool) -> None:
    """Go's TestCompareAndSwapInt32, TestCompareAndSwapUint32, TestCompareAndSwapInt64,
    TestCompareAndSwapUint64, TestCompareAndSwapUintptr (and their Method forms)."""
    x = cls()
    for val in doublings(bits, signed):
        x.store(val)
        assert x.compare_and_swap(val, val + 1), f"should have swapped {val:#x} {val + 1:#x}"
        assert x.load() == val + 1
        x.store(val + 1)
        assert not x.compare_and_swap(val, val + 2), f"should not have swapped {val:#x}"
        assert x.load() == val + 1


@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_load_and_store(cls: type[Any], bits: int, signed: bool) -> None:
    """Go's TestLoadInt32Method ... TestLoadUintptrMethod and TestStoreInt32Method ...
    TestStoreUintptrMethod."""
    x = cls()
    want = 0
    for delta in doublings(bits, signed):
        k = x.load()
        assert k == want
        x.store(k + delta)
        want = k + delta
    v = 0
    for delta in doublings(bits, signed):
        x.store(v)
        assert x.load() == v
        v += delta


@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_wrap_around(cls: type[Any], bits: int, signed: bool) -> None:
    """Go's conversions and overflow: arguments taken modulo 2**bits, results wrapped."""
    x = cls()
    assert x.load() == 0  # Go's zero value
    top = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    bottom = -(1 << (bits - 1)) if signed else 0
    x.store(top)
    assert x.add(1) == bottom and x.load() == bottom
    assert x.add(-1) == top
    x.store(0)
    assert x.add(-1) == go_int(-1, bits, signed)
    x.store(1 << bits)  # stored modulo the width
    assert x.load() == 0
    x.store(-1)
    assert x.load() == go_int(-1, bits, signed)
    assert x.swap(1 << bits | 5) == go_int(-1, bits, signed)
    assert x.load() == 5
    # compare_and_swap's arguments are converted too.
    assert x.compare_and_swap(5 - (1 << bits), 3 << bits | 7)
    assert x.load() == 7
    assert x.add(5 << bits) == 7  # a delta of a whole multiple of 2**bits adds nothing
    # and_/or_ masks are converted and the old value returned.
    x.store(0)
    assert x.or_(-1) == 0 and x.load() == go_int(-1, bits, signed)
    assert x.and_(1 << bits | 6) == go_int(-1, bits, signed) and x.load() == 6


def test_spec_examples() -> None:
    """The SPEC's own cases: Int32 overflow and Uint64 underflow; Uintptr's width."""
    n = atomic.Int32()
    n.store(2**31 - 1)
    assert n.add(1) == -(2**31)
    assert atomic.Uint64().add(-1) == 2**64 - 1
    u = atomic.Uintptr()
    u.store(-1)
    assert u.load() == 2**PTR_BITS - 1


class Small(enum.IntEnum):
    TWO = 2


@pytest.mark.parametrize("cls", [cls for cls, _, _ in INTS], ids=INT_IDS)
def test_integer_arguments_are_checked(cls: type[Any]) -> None:
    """Go has no implicit conversion: a float, a str or a bool is a TypeError naming the method."""
    x = cls()
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("store", (1.0,)),
        ("swap", ("1",)),
        ("add", (True,)),
        ("and_", (None,)),
        ("or_", (1.5,)),
        ("compare_and_swap", (0, 1.0)),
        ("compare_and_swap", (False, 1)),
    ]
    for method, args in calls:
        with pytest.raises(TypeError, match=rf"{cls.__name__}\.{method}: .*must be an int"):
            getattr(x, method)(*args)
    assert x.load() == 0  # nothing was changed by a refused call
    # An int subclass other than bool is taken as its int value.
    assert x.add(Small.TWO) == 2
    assert type(x.load()) is int


def test_bool() -> None:
    """Go's atomic.Bool: zero value False, store/swap/compare_and_swap; bool arguments only."""
    b = atomic.Bool()
    assert b.load() is False
    b.store(True)
    assert b.load() is True
    assert b.swap(False) is True and b.load() is False
    assert not b.compare_and_swap(True, True)
    assert b.compare_and_swap(False, True) and b.load() is True
    for bad in (1, 0, None, "yes"):
        with pytest.raises(TypeError, match=r"Bool\.store: argument must be a bool"):
            b.store(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"Bool\.compare_and_swap"):
            b.compare_and_swap(True, bad)  # type: ignore[arg-type]
    assert b.load() is True


def test_pointers() -> None:
    """Go's TestSwapPointerMethod, TestCompareAndSwapPointerMethod, TestLoadPointerMethod and
    TestStorePointerMethod, over distinct objects and None (Go's testPointers)."""
    pointers: list[object] = [bytearray(1) for _ in range(10)] + [object(), None]
    x: atomic.Pointer[object] = atomic.Pointer()
    assert x.load() is None  # the zero value is nil
    j: object = None
    for p in pointers:
        k = x.swap(p)
        assert x.load() is p and k is j
        j = p
    q = object()
    for p in pointers:
        x.store(p)
        assert x.load() is p
        assert x.compare_and_swap(p, q)
        assert x.load() is q
        assert not x.compare_and_swap(p, None)
        assert x.load() is q


def test_pointer_compares_identity() -> None:
    """Pointer.compare_and_swap swaps only the very object, not an equal one."""
    x: atomic.Pointer[list[int]] = atomic.Pointer()
    first = [1, 2]
    x.store(first)
    assert not x.compare_and_swap([1, 2], [3])
    assert x.load() is first
    assert x.compare_and_swap(first, [3])
    assert x.load() == [3]


# -- Value: Go's value_test.go --


def test_value() -> None:
    """Go's TestValue."""
    v: atomic.Value[int] = atomic.Value()
    assert v.load() is None, "initial Value is not nil"
    v.store(42)
    x = v.load()
    assert type(x) is int and x == 42
    v.store(84)
    x = v.load()
    assert type(x) is int and x == 84


def test_value_large() -> None:
    """Go's TestValueLarge."""
    v: atomic.Value[str] = atomic.Value()
    v.store("foo")
    assert v.load() == "foo"
    v.store("barbaz")
    assert v.load() == "barbaz"


def test_value_panic() -> None:
    """Go's TestValuePanic: Go's panic texts, as ValueError and TypeError."""
    nil_err = "sync/atomic: store of nil value into Value"
    bad_err = "sync/atomic: store of inconsistently typed value into Value"
    v: atomic.Value[Any] = atomic.Value()
    with pytest.raises(ValueError) as e:
        v.store(None)
    assert str(e.value) == nil_err
    v.store(42)
    with pytest.raises(TypeError) as t:
        v.store("foo")
    assert str(t.value) == bad_err
    with pytest.raises(ValueError) as e:
        v.store(None)
    assert str(e.value) == nil_err
    assert v.load() == 42


def test_value_type_is_exact() -> None:
    """The type of every value must be exactly that of the first: bool is not int, nor a
    subclass its base."""
    v: atomic.Value[Any] = atomic.Value()
    v.store(1)
    for other in (True, Small.TWO, 1.0):
        with pytest.raises(TypeError, match="store of inconsistently typed value"):
            v.store(other)
        with pytest.raises(TypeError, match="swap of inconsistently typed value"):
            v.swap(other)
    assert v.load() == 1 and type(v.load()) is int


@pytest.mark.parametrize(
    "values",
    [
        [0, 2**16 - 1, 1 + (2 << 8), 3 + (4 << 8)],
        [0, 2**64 - 1, 1 + (2 << 32), 3 + (4 << 32)],
        [complex(0, 0), complex(1, 2), complex(3, 4), complex(5, 6)],
        ["", "foo", "barbaz", "x" * 1000],
    ],
    ids=["uint16", "uint64", "complex", "str"],
)
def test_value_concurrent(values: list[Any], fast_switch: None) -> None:
    """Go's TestValueConcurrent: every load returns one of the values stored, never another."""
    v: atomic.Value[Any] = atomic.Value()
    n = STRESS.iterations(2_000)

    def body(i: int) -> bool:
        r = random.Random(i)
        for _ in range(n):
            v.store(r.choice(values))
            if v.load() not in values:
                return False
        return True

    assert all(hammer(8, body))


@pytest.mark.parametrize(
    ("init", "new", "want", "err"),
    [
        (None, None, None, "sync/atomic: swap of nil value into Value"),
        (None, True, None, None),
        (True, "", None, "sync/atomic: swap of inconsistently typed value into Value"),
        (True, False, True, None),
    ],
)
def test_value_swap(init: Any, new: Any, want: Any, err: str | None) -> None:
    """Go's TestValue_Swap (its table)."""
    v: atomic.Value[Any] = atomic.Value()
    if init is not None:
        v.store(init)
    if err is not None:
        with pytest.raises((ValueError, TypeError)) as e:
            v.swap(new)
        assert str(e.value) == err
        assert v.load() is init  # a refused swap changes nothing
        return
    assert v.swap(new) is want
    assert v.load() is new


def test_value_swap_concurrent(fast_switch: None) -> None:
    """Go's TestValueSwapConcurrent: each value swapped in comes out exactly once."""
    v: atomic.Value[int] = atomic.Value()
    m, n = 16, STRESS.iterations(1_000)

    def body(i: int) -> int:
        c = 0
        for new in range(i * n, i * n + n):
            old = v.swap(new)
            if old is not None:
                c += old
        return c

    count = sum(hammer(m, body))
    last = v.load()
    assert last is not None
    assert count + last == (m * n - 1) * (m * n) // 2


@dataclass(frozen=True)
class Box:
    n: int


HEAP_A, HEAP_B = Box(0), Box(0)
CAS_BAD_VALUE = "sync/atomic: compare and swap of inconsistently typed value into Value"


@pytest.mark.parametrize(
    ("init", "new", "old", "want", "err"),
    [
        (None, None, None, False, "sync/atomic: compare and swap of nil value into Value"),
        (None, True, "", False, "sync/atomic: compare and swap of inconsistently typed values"),
        (None, True, True, False, None),
        (None, True, None, True, None),
        (True, "", None, False, CAS_BAD_VALUE),
        (True, True, False, False, None),
        (True, True, True, True, None),
        (HEAP_A, Box(1), HEAP_B, True, None),
    ],
)
def test_value_compare_and_swap(init: Any, new: Any, old: Any, want: bool, err: str | None) -> None:
    """Go's TestValue_CompareAndSwap (its table; the last row compares equal values that are
    distinct objects)."""
    v: atomic.Value[Any] = atomic.Value()
    if init is not None:
        v.store(init)
    if err is not None:
        with pytest.raises((ValueError, TypeError)) as e:
            v.compare_and_swap(old, new)
        assert str(e.value) == err
        assert v.load() is init
        return
    assert v.compare_and_swap(old, new) is want
    assert v.load() is (new if want else init)


def test_value_compare_and_swap_none_on_set_value() -> None:
    """compare_and_swap(None, new) swaps only an empty Value."""
    v: atomic.Value[int] = atomic.Value()
    v.store(1)
    assert not v.compare_and_swap(None, 2)
    assert v.load() == 1


def test_value_compare_and_swap_runs_eq_without_the_lock() -> None:
    """The == of compare_and_swap runs with no lock held: __eq__ may use the Value itself."""
    v: atomic.Value[Any] = atomic.Value()

    @dataclass(eq=False)
    class Probe:
        def __eq__(self, other: object) -> bool:
            v.store(self)  # would deadlock if compare_and_swap held the lock
            return True

    first = Probe()
    v.store(first)
    assert v.compare_and_swap(Probe(), Probe())


def test_value_compare_and_swap_concurrent(fast_switch: None) -> None:
    """Go's TestValueCompareAndSwapConcurrent: m threads take turns incrementing through CAS."""
    v: atomic.Value[int] = atomic.Value()
    v.store(0)
    m, n = 8, STRESS.iterations(50)

    def body(i: int) -> None:
        j = i
        end = time.monotonic() + 120
        while j < m * n:
            if v.compare_and_swap(j, j + 1):
                j += m
            else:
                time.sleep(0)  # Go's runtime.Gosched()
                assert time.monotonic() < end, f"stuck at {v.load()}"

    hammer(m, body)
    assert v.load() == m * n


def test_value_compare_and_swap_counts_exactly(fast_switch: None) -> None:
    """Stress: 8 threads increment a Value with compare_and_swap loops while its == yields
    between the comparison and the swap; no increment is lost."""
    v: atomic.Value[YieldingInt] = atomic.Value()
    v.store(YieldingInt(0))
    n = STRESS.iterations(1_000)

    def body(_: int) -> None:
        for _ in range(n):
            while True:
                cur = v.load()
                assert cur is not None
                if v.compare_and_swap(cur, YieldingInt(cur + 1)):
                    break

    hammer(8, body)
    assert v.load() == 8 * n


# -- with contention: is each operation atomic? (Go's hammer tests) --


def _hammer_swap(x: Any, bits: int, seed: int, count: int) -> None:
    half = bits // 2
    low = (1 << half) - 1
    for i in range(count):
        s = (seed + i) & low
        old = x.swap((s << half) | s) % (1 << bits)
        assert old >> half == old & low, f"{type(x).__name__}.swap is not atomic: {old:#x}"


def _hammer_add(x: Any, bits: int, seed: int, count: int) -> None:
    for _ in range(count):
        x.add(1)


def _hammer_compare_and_swap(x: Any, bits: int, seed: int, count: int) -> None:
    for _ in range(count):
        while True:
            v = x.load()
            if x.compare_and_swap(v, v + 1):
                break


HAMMERS = {"swap": _hammer_swap, "add": _hammer_add, "compare_and_swap": _hammer_compare_and_swap}


@pytest.mark.parametrize("name", list(HAMMERS))
@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_hammer(cls: type[Any], bits: int, signed: bool, name: str, fast_switch: None) -> None:
    """Go's TestHammer32 and TestHammer64: threads add 1 (by add, or by a load/CAS loop) and
    the total is exact; threads swap values whose halves match and never get a torn one."""
    threads, n = 8, STRESS.iterations(10_000)
    x = cls()
    hammer(threads, lambda i: HAMMERS[name](x, bits, 1000 * i, n))
    if name != "swap":
        assert x.load() == threads * n


@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_hammer_store_load(cls: type[Any], bits: int, signed: bool, fast_switch: None) -> None:
    """Go's TestHammerStoreLoad: stores and loads from 8 threads never show a torn value."""
    half = bits // 2
    low = (1 << half) - 1
    x = cls()
    n = STRESS.iterations(5_000)

    def body(_: int) -> None:
        for _ in range(n):
            v = x.load() % (1 << bits)
            assert v & low == v >> half, f"{cls.__name__}: {v & low:#x} != {v >> half:#x}"
            new = v + 1 + (1 << half)
            if v & low == 10_000:
                new = 0
            x.store(new)

    hammer(8, body)


@pytest.mark.parametrize("cls", [atomic.Int32, atomic.Int64], ids=["32", "64"])
def test_store_load_seq_cst(cls: type[Any]) -> None:
    """Go's TestStoreLoadSeqCst32 and TestStoreLoadSeqCst64: Dekker's handshake. Each thread
    stores its round then loads the other's; at least one of them must see the other's store."""
    n = STRESS.iterations(300)
    xs = [cls(), cls()]
    ack = [[cls() for _ in range(3)] for _ in range(2)]
    for row in ack:
        for a in row:
            a.store(-1)
    end = time.monotonic() + 120

    def body(me: int) -> None:
        he = 1 - me
        for i in range(1, n):
            xs[me].store(i)
            my = xs[he].load()
            ack[me][i % 3].store(my)
            while ack[he][i % 3].load() == -1:
                time.sleep(0)  # Go's runtime.Gosched()
                assert time.monotonic() < end, "handshake stuck"
            his = ack[he][i % 3].load()
            assert my in (i, i - 1) and his in (i, i - 1), f"invalid values: {my}/{his} ({i})"
            assert my == i or his == i, f"store/load not sequentially consistent: {my}/{his} ({i})"
            ack[me][(i - 1) % 3].store(-1)

    hammer(2, body)


@pytest.mark.parametrize("cls", [atomic.Int32, atomic.Int64], ids=["32", "64"])
def test_store_load_rel_acq(cls: type[Any]) -> None:
    """Go's TestStoreLoadRelAcq32 and TestStoreLoadRelAcq64: data written before a store of
    the signal is seen by the thread that loads that signal."""
    n = STRESS.iterations(300)
    signal = cls()
    data: dict[str, Any] = {"d1": 0, "d2": 0.0}
    end = time.monotonic() + 120

    def body(p: int) -> None:
        for i in range(1, n):
            if (i + p) % 2 == 0:
                data["d1"] = i
                data["d2"] = float(i)
                signal.store(i)
            else:
                while signal.load() != i:
                    time.sleep(0)
                    assert time.monotonic() < end, "signal never came"
                assert data["d1"] == i and data["d2"] == float(i), f"incorrect data ({i})"

    hammer(2, body)


@pytest.mark.parametrize(("cls", "bits", "signed"), INTS, ids=INT_IDS)
def test_and_or_bits_from_many_threads(
    cls: type[Any], bits: int, signed: bool, fast_switch: None
) -> None:
    """Each thread sets and clears its own bits with or_/and_ over and over; no update is lost:
    at the end exactly the bits each thread left set are set."""
    threads = 8
    n = STRESS.iterations(1_000)
    x = cls()

    def body(i: int) -> None:
        for b in range(i, bits, threads):
            bit = go_int(1 << b, bits, signed)
            for _ in range(n // bits + 1):
                assert x.or_(bit) & bit == 0  # nobody else touches this bit
                assert x.and_(go_int(~(1 << b), bits, signed)) & bit == bit
            x.or_(bit)

    hammer(threads, body)
    assert x.load() == go_int(-1, bits, signed)


def test_bool_as_a_spin_lock(fast_switch: None) -> None:
    """Bool.compare_and_swap as a spin lock around a plain counter: mutual exclusion holds,
    so the count is exact."""
    held = atomic.Bool()
    count = [0]
    n = STRESS.iterations(2_000)

    def body(_: int) -> None:
        for _ in range(n):
            while not held.compare_and_swap(False, True):
                time.sleep(0)
            count[0] += 1  # a read-modify-write that only mutual exclusion keeps exact
            assert held.swap(False) is True

    hammer(8, body)
    assert count[0] == 8 * n
