from tools import bench


def test_own_peak_rss_is_a_plausible_number_of_megabytes():
    assert 20 < bench.own_peak_rss_mb() < 24_000


def test_print_table_aligns_columns(capsys):
    bench.print_table([("a", "1 s", "<= 1.1", "met"), ("longer name", "2 s", "", "")])
    lines = capsys.readouterr().out.splitlines()
    assert len({len(line) for line in lines}) == 1 and lines[2].startswith("| a ")


def test_smallest_passing_doubles_then_bisects_to_the_resolution():
    from tools.ig_bench import smallest_passing

    asked = []

    def passes_at(n):
        asked.append(n)
        return n >= 300

    found = smallest_passing(passes_at, start=16, resolution=0.125)
    assert asked[:6] == [16, 32, 64, 128, 256, 512] and 300 <= found <= 300 * 1.125 + 1
    assert smallest_passing(lambda n: n >= 300, start=16, resolution=0) == 300
    assert smallest_passing(lambda n: True, start=16) == 16
    assert smallest_passing(lambda n: False, start=16, limit=100) is None


def test_smallest_passing_tries_the_limit_itself():
    from tools.ig_bench import smallest_passing

    asked = []

    def passes_at(n):
        asked.append(n)
        return n >= 640

    assert smallest_passing(passes_at, start=16, limit=640, resolution=0) == 640
    assert asked[:7] == [16, 32, 64, 128, 256, 512, 640]
    assert smallest_passing(lambda n: n >= 641, start=16, limit=640) is None


def test_smallest_fixed_finds_the_grid_that_passes_on_every_photo(tiny_model, tiny_input):
    """On a tiny smooth model the search returns an n that passes on both images and n // 2 - 1 does not."""
    import torch

    from helpers.attribution import integrated_gradients
    from tools import ig_bench

    photos = {"a": (tiny_input, 1), "b": (tiny_input.flip(-1), 2)}
    references = {}
    for name, (x, target) in photos.items():
        with torch.no_grad():
            change = float(tiny_model(x)[0, target] - tiny_model(0 * x)[0, target])
        references[name] = (integrated_gradients(tiny_model, x, target, n_steps=1024), change)
    n, seconds = ig_bench.smallest_fixed(tiny_model, photos, references, "riemann_left", start=2, limit=1024)
    assert n is not None and seconds > 0
    for name, (x, target) in photos.items():
        assert ig_bench.passes(integrated_gradients(tiny_model, x, target, n_steps=n, method="riemann_left"),
                               *references[name])
    assert not all(ig_bench.passes(integrated_gradients(tiny_model, x, target, n_steps=max(1, n // 2 - 1),
                                                        method="riemann_left"), *references[name])
                   for name, (x, target) in photos.items())


def test_the_ig_row_searches_every_rule_of_captum_once():
    from helpers.attribution import IG_METHODS
    from tools.ig_bench import SEARCH_ORDER

    assert sorted(SEARCH_ORDER) == sorted(IG_METHODS)


def test_the_ig_rows_report_every_rule_and_the_ratio(tiny_model, tiny_input, monkeypatch):
    from tools import ig_bench

    photos = {"a": (tiny_input, 0), "b": (tiny_input.flip(-1), 1)}
    monkeypatch.setattr(ig_bench, "course_photos", lambda classifier=None: (tiny_model, photos))
    monkeypatch.setattr(ig_bench, "ig_reference", ig_bench.ig_reference.uncached)
    rows = ig_bench.measure_ig()
    names = [row[0] for row in rows]
    assert all(any(method in name for name in names) for method in ig_bench.SEARCH_ORDER)
    best = min(int(row[1].split(" x ")[0]) for row in rows if " x 2 photos" in row[1])
    assert rows[-1][0] == "IG gradients, adaptive / best fixed rule"
    assert rows[-1][1].split(" / ")[1].startswith(str(best * 2))
