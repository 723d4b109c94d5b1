"""helpers.timing.paired_seconds, timed on a fake clock: exact, so it cannot flake under load."""

import pytest

from helpers import timing


class FakeClock:
    """perf_counter that only moves when a timed function says it took some seconds."""

    def __init__(self):
        self.now, self.calls = 0.0, []

    def __call__(self):
        return self.now

    def spend(self, seconds, name):
        def function():
            self.calls.append(name)
            self.now += seconds
        return function


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_paired_seconds_measures_both_sides_and_their_ratio(clock):
    fast, slow, ratio = timing.paired_seconds(clock.spend(0.01, "a"), clock.spend(0.03, "b"), repeats=3)
    assert (fast, slow) == pytest.approx((0.01, 0.03)) and ratio == pytest.approx(1 / 3)


def test_paired_seconds_warms_up_then_alternates(clock):
    timing.paired_seconds(clock.spend(1, "a"), clock.spend(1, "b"), repeats=3)
    assert clock.calls == ["a", "b"] * 4


def test_paired_seconds_takes_medians_so_one_slow_run_does_not_count(clock):
    times = iter([9.0, 1.0, 1.0, 1.0])  # warm-up, then one slow run out of three

    def uneven():
        clock.now += next(times)

    first, _, _ = timing.paired_seconds(uneven, clock.spend(1, "b"), repeats=3)
    assert first == pytest.approx(1.0)


def test_paired_seconds_counts_the_seconds_a_function_returns(clock):
    """A function that returns Seconds is timed by them (a steady state without its start-up)."""
    def steady():
        clock.now += 2.0
        return timing.Seconds(0.5)

    ours, other, ratio = timing.paired_seconds(steady, clock.spend(0.25, "b"), repeats=3)
    assert ours == 0.5 and other == pytest.approx(0.25) and ratio == pytest.approx(2.0)


def test_paired_seconds_ignores_other_return_values(clock):
    """A float that is not Seconds (a score, an AUC) is not taken for a time."""
    def scored():
        clock.now += 0.01
        return 123.0

    fast, _, _ = timing.paired_seconds(scored, clock.spend(0.03, "b"), repeats=3)
    assert fast == pytest.approx(0.01)
