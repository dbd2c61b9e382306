"""The current rate is what moved over the last seconds, not an average since docking."""

from __future__ import annotations

from evidock.daemon.rate import RecentRate, eta_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def feed(rate: RecentRate, clock: Clock, seconds: int, per_second: int) -> None:
    for _ in range(seconds * 10):
        rate.add(per_second // 10)
        clock.now += 0.1


def test_a_stall_after_a_fast_start_shows_zero_not_the_early_average():
    clock = Clock()
    rate = RecentRate(window=10, clock=clock)
    feed(rate, clock, 30, 40_000_000)
    assert 39e6 < rate.bytes_per_second() < 41e6
    clock.now += 11  # the cable is loose: nothing moves
    assert 0 == rate.bytes_per_second()
    assert None is eta_seconds(1_000_000, rate.bytes_per_second())


def test_a_slowdown_shows_within_one_window():
    clock = Clock()
    rate = RecentRate(window=10, clock=clock)
    feed(rate, clock, 60, 40_000_000)  # a minute alone on the bus
    feed(rate, clock, 10, 10_000_000)  # then a second camera shares it
    assert 9e6 < rate.bytes_per_second() < 11e6  # an average since docking says 34 MB/s


def test_a_new_transfer_is_not_divided_by_the_whole_window():
    clock = Clock()
    rate = RecentRate(window=10, clock=clock)
    feed(rate, clock, 2, 20_000_000)
    assert 19e6 < rate.bytes_per_second() < 21e6
    assert 5 == eta_seconds(100_000_000, rate.bytes_per_second())
    assert 0 == eta_seconds(0, 0.0)
