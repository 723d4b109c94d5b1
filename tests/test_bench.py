import time

import pytest

from helpers import bench


def test_paired_seconds_measures_both_sides_and_their_ratio():
    fast, slow, ratio = bench.paired_seconds(lambda: time.sleep(0.01), lambda: time.sleep(0.03), repeats=3)
    assert 0.009 < fast < slow
    assert ratio == pytest.approx(1 / 3, abs=0.15)


def test_own_peak_rss_is_a_plausible_number_of_megabytes():
    assert 20 < bench.own_peak_rss_mb() < 24_000


def test_print_table_aligns_columns(capsys):
    bench.print_table([("a", "1 s", "<= 1.1", "met"), ("longer name", "2 s", "", "")])
    lines = capsys.readouterr().out.splitlines()
    assert len({len(line) for line in lines}) == 1 and lines[2].startswith("| a ")


def test_paired_seconds_counts_the_seconds_a_function_returns():
    """A function that returns Seconds is timed by them (a steady state without its start-up)."""
    ours, other, ratio = bench.paired_seconds(lambda: (time.sleep(0.02), bench.Seconds(0.5))[1],
                                              lambda: time.sleep(0.01), repeats=3)
    assert ours == 0.5 and 0.005 < other < 0.1 and ratio > 4


def test_paired_seconds_ignores_other_return_values():
    """A float that is not Seconds (a score, an AUC) is not taken for a time."""
    fast, slow, _ = bench.paired_seconds(lambda: (time.sleep(0.01), 123.0)[1], lambda: time.sleep(0.03), repeats=3)
    assert 0.009 < fast < slow
