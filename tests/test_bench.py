from tools import bench


def test_own_peak_rss_is_a_plausible_number_of_megabytes():
    assert 20 < bench.own_peak_rss_mb() < 24_000


def test_print_table_aligns_columns(capsys):
    bench.print_table([("a", "1 s", "<= 1.1", "met"), ("longer name", "2 s", "", "")])
    lines = capsys.readouterr().out.splitlines()
    assert len({len(line) for line in lines}) == 1 and lines[2].startswith("| a ")
