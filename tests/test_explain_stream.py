"""The streaming, resumable batch explainer (helpers.explain: inputs, local engine, stream, cli), on a tiny model so the tests stay fast."""

import csv
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torchvision.transforms as T

from helpers.attribution import completeness_gap, integrated_gradients
from helpers.data import make_image_folder
from helpers.explain import SUMMARY_FIELDS, Options, explain_stream
from helpers.explain.cli import main
from helpers.explain.core import decode
from helpers.explain.inputs import Summary, iter_image_paths
from helpers.explain.memory import rss_growth, rss_profile
from helpers.images import load_image
from helpers.models import Classifier
from helpers.settings import display_path

from conftest import CountingPaths

TINY = """
import torch, torchvision.transforms as T
from torch import nn
from helpers.models import Classifier
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
TINY = Classifier("tiny", "tiny", net.eval(), T.Compose([T.Resize(32), T.CenterCrop(32), T.ToTensor()]),
                  [f"class {i}" for i in range(5)], {}, "tiny.pt")
"""


def tiny_classifier() -> Classifier:
    namespace = {}
    exec(TINY, namespace)
    return namespace["TINY"]


def read_summary(folder):
    with open(folder / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("gen") / "images", 12, size=40, per_folder=5)


def test_tree_is_walked_recursively_in_sorted_order(images):
    files = [p.relative_to(images).as_posix() for p in iter_image_paths([images])]
    assert files == [f"part{i // 5:03d}/img{i:05d}.png" for i in range(12)]


def test_folders_give_image_suffixes_only_and_a_missing_input_is_a_row_error(tmp_path):
    for name in ["b.png", "a.JPG", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in iter_image_paths([tmp_path])] == ["a.JPG", "b.png"]
    missing = tmp_path / "missing"
    assert list(iter_image_paths([missing])) == [missing]
    file, x, error = decode(str(missing), "missing", lambda image: image)
    assert x is None and "Image file not found" in error


@pytest.mark.slow
def test_streaming_memory_is_flat_over_400_images(tmp_path):
    # The classifier takes 224x224 inputs, so keeping anything per image (its tensor: 0.57 MB)
    # would add ~114 MB over the 200 images between the two halves of the readings; the bar is
    # a quarter of that, far above the allocator's noise.
    folder = make_image_folder(tmp_path / "many", 400, size=32)
    tiny = tiny_classifier()
    tiny.preprocess = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor()])
    rows = explain_stream([folder], tmp_path / "out", tiny, Options("saliency", 1, figures="none"), progress=False)
    readings = rss_profile(rows, every=40)
    assert [n for n, _ in readings] == list(range(40, 401, 40))
    per_image_mb = 3 * 224 * 224 * 4 / 2**20
    leak_mb = per_image_mb * 400 * (1 - 0.2) / 2  # images between the halves, after warm-up (rss_growth)
    assert rss_growth(readings) < leak_mb / 4, f"RSS grew after warm-up: {readings}"
    assert len(read_summary(tmp_path / "out")) == 400


def test_rss_growth_tells_flat_from_climbing():
    flat = [(i, 900 + (i % 3)) for i in range(10)]
    climbing = [(i, 900 + 5 * i) for i in range(10)]
    assert rss_growth(flat) <= 2 and rss_growth(climbing) >= 20
    with pytest.raises(ValueError, match="at least 2 readings"):
        rss_growth([(1, 900)])


def test_figures_none_save_maps_and_the_relative_gap(images, tmp_path):
    tiny = tiny_classifier()
    rows = list(explain_stream([images / "part000"], tmp_path, tiny, Options("ig", 6, figures="none", save_maps=True),
                               progress=False))
    assert not (tmp_path / "figures").exists() and all(row["figure"] == "" for row in rows)
    row = rows[0]
    saved = np.load(tmp_path / row["map"])
    assert saved.dtype == np.float16 and saved.shape == (3, 32, 32)
    x = tiny.input_batch(load_image(row["file"]))
    target = int(row["top1_index"])
    attribution = integrated_gradients(tiny.model, x, target, n_steps=6)
    np.testing.assert_allclose(saved, attribution[0].numpy(), rtol=1e-3, atol=1e-4)
    change = (tiny.model(x)[0, target] - tiny.model(torch.zeros_like(x))[0, target]).item()
    delta = completeness_gap(tiny.model, x, target, attribution).item()
    assert float(row["convergence_delta"]) == pytest.approx(delta, rel=1e-3, abs=1e-6)
    assert float(row["completeness_gap"]) == pytest.approx(delta / abs(change), rel=1e-3)


def test_resume_skips_done_files_and_refuses_other_settings(images, tmp_path):
    tiny, options = tiny_classifier(), Options("saliency", 1, figures="none")
    first = list(explain_stream([images / "part000"], tmp_path, tiny, options, progress=False))
    second = list(explain_stream([images], tmp_path, tiny, options, resume=True, progress=False))
    assert len(first) == 5 and len(second) == 7
    files = [row["file"] for row in read_summary(tmp_path)]
    assert sorted(files) == sorted(map(display_path, iter_image_paths([images]))) and len(set(files)) == 12
    with pytest.raises(ValueError, match=r"other settings \(details, method, n_steps"):
        list(explain_stream([images], tmp_path, tiny, Options("ig", 4), resume=True, progress=False))


def test_a_torn_last_line_is_cut_and_redone(images, tmp_path):
    tiny, options = tiny_classifier(), Options("saliency", 1, figures="none")
    list(explain_stream([images / "part000"], tmp_path, tiny, options, progress=False))
    with open(tmp_path / "summary.csv", "a") as handle:
        handle.write(f"{images / 'part001' / 'img00005.png'},class 1,")  # a kill in the middle of a row
    list(explain_stream([images], tmp_path, tiny, options, resume=True, progress=False))
    summary = read_summary(tmp_path)
    assert len(summary) == 12 and all(row["error"] == "" and row["top1_label"] for row in summary)


@pytest.mark.slow
def test_killed_run_resumes_with_every_image_exactly_once(images, tmp_path):
    # After its 3rd row the child explains slowly (each later image waits 5 s after its figure is
    # written, before its row is appended), so the kill always lands mid-run: between a finished
    # figure and its row, with at least 3 and at most a few rows done, however loaded the machine.
    script = TINY + textwrap.dedent(f"""
        import time
        import helpers.explain.local as local
        from helpers.explain import Options, explain_stream
        explain, done = local.explain_input, []
        def slow_after_three(*args, **kwargs):
            row = explain(*args, **kwargs)
            if len(done) >= 3:
                time.sleep(5)
            done.append(row)
            return row
        local.explain_input = slow_after_three
        for row in explain_stream([{str(images)!r}], {str(tmp_path)!r}, TINY, Options("ig", 64), progress=False):
            pass
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (tmp_path / "summary.csv").exists() and len(read_summary(tmp_path)) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(read_summary(tmp_path))
    assert 3 <= done_before < 12, "the run should have been killed in the middle"
    rows = list(explain_stream([images], tmp_path, tiny_classifier(), Options("ig", 64), resume=True,
                               progress=False))
    summary = read_summary(tmp_path)
    assert len(rows) == 12 - done_before
    assert sorted(row["file"] for row in summary) == sorted(map(display_path, iter_image_paths([images])))
    assert all((tmp_path / row["figure"]).stat().st_size > 1000 for row in summary)


def test_unique_figure_names_for_same_stems(tmp_path):
    from PIL import Image

    for relative in ["a/cat.jpg", "b/cat.jpg", "a/cat.png"]:
        (tmp_path / relative).parent.mkdir(exist_ok=True)
        Image.new("RGB", (40, 40), "orange").save(tmp_path / relative)
    rows = list(explain_stream([tmp_path / "a", tmp_path / "b"], tmp_path / "out", tiny_classifier(),
                               Options("saliency", 1), progress=False))
    figures = [row["figure"] for row in rows]
    assert len(set(figures)) == 3 and all((tmp_path / "out" / f).exists() for f in figures)


def test_summary_header_and_settings_record(tmp_path):
    with Summary(tmp_path, {"model": "m", "method": "ig"}) as summary:
        summary.append(dict.fromkeys(SUMMARY_FIELDS, "x,y"))  # commas are quoted
    assert (tmp_path / "summary.csv").read_text().splitlines() == [",".join(SUMMARY_FIELDS),
                                                                    ",".join(['"x,y"'] * len(SUMMARY_FIELDS))]
    assert '"method": "ig"' in (tmp_path / "run.json").read_text()


@pytest.mark.slow
def test_cli_figures_none_save_maps_and_resume(images, tmp_path, capsys):
    args = [str(images / "part000"), "--model", "efficientnet_lite0", "--method", "saliency", "--figures", "none",
            "--save-maps", "--out", str(tmp_path), "--quiet", "--workers", "1"]
    assert main(args) == 0
    assert "5 image(s) explained, 0 failed" in capsys.readouterr().out
    assert main(args + ["--resume"]) == 0
    assert "0 image(s) explained, 0 failed" in capsys.readouterr().out
    assert len(list((tmp_path / "maps").glob("*.npy"))) == 5 and not (tmp_path / "figures").exists()


def test_cli_address_needs_the_ray_engine(tmp_path, capsys):
    assert main([str(tmp_path), "--address", "127.0.0.1:1"]) == 2
    assert "--address needs --engine ray" in capsys.readouterr().err


# --------------------------------------------------------------------------- device, settings, resume key, retries


class RecordingClassifier(Classifier):
    """The tiny classifier, remembering where it was asked to move (it stays on the CPU)."""

    moved_to = None

    def to(self, device):
        self.moved_to = torch.device(device)
        return self


def recording_classifier() -> RecordingClassifier:
    tiny = tiny_classifier()
    return RecordingClassifier(**{name: getattr(tiny, name) for name in tiny.__dataclass_fields__})


@pytest.mark.parametrize("via", ["explain_files", "cli"])
def test_a_model_given_by_name_goes_to_pick_device(images, tmp_path, monkeypatch, capsys, via):
    from helpers.explain import explain_files

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # pick_device may choose CUDA ...
    monkeypatch.setenv("COURSE_DEVICE", "cuda")  # ... and is told to
    fake = recording_classifier()
    monkeypatch.setattr("helpers.explain.stream.load_classifier", lambda name: fake)
    if via == "cli":
        assert main([str(images / "part000"), "--model", "efficientnet_lite0", "--method", "saliency", "--figures",
                     "none", "--out", str(tmp_path), "--quiet", "--workers", "0"]) == 0
    else:
        explain_files([images / "part000"], tmp_path, "efficientnet_lite0", "saliency", progress=False, workers=0,
                      figures="none")
    assert fake.moved_to == torch.device("cuda")


def test_a_classifier_object_stays_where_it_is(images, tmp_path):
    fake = recording_classifier()
    list(explain_stream([images / "part000"], tmp_path, fake, Options("saliency", 1, figures="none"), workers=0,
                        progress=False))
    assert fake.moved_to is None


@pytest.mark.parametrize("function, index, value, method", [
    ("smoothgrad", 1, 0.3, "smoothgrad"),  # __defaults__ of smoothgrad: n_samples, noise_level, ...
    ("integrated_gradients", 2, "gausslegendre", "ig"),  # ... of integrated_gradients: baseline, n_steps, method
])
def test_run_json_details_follow_the_defaults_of_the_attribution_functions(images, tmp_path, monkeypatch, function,
                                                                            index, value, method):
    import helpers.attribution as attribution

    tiny, options = tiny_classifier(), Options(method, 2, figures="none")
    before = options.settings(tiny)
    list(explain_stream([images / "part000" / "img00000.png"], tmp_path, tiny, options, progress=False, workers=0))
    target = getattr(attribution, function)
    defaults = list(target.__defaults__)
    assert defaults[index] != value
    defaults[index] = value
    monkeypatch.setattr(target, "__defaults__", tuple(defaults))
    after = options.settings(tiny)
    assert after != before and value in after["details"].values()
    with pytest.raises(ValueError, match=r"other settings \(details;"):
        list(explain_stream([images / "part000"], tmp_path, tiny, options, resume=True, progress=False))


def test_run_json_details_name_what_core_passes_explicitly():
    details = Options("smoothgrad").settings(tiny_classifier())["details"]
    assert details["seed"] == 0 and details["noise_level"] == 0.15 and "batch_size" not in details
    assert Options("ig", 50).settings(tiny_classifier())["details"]["method"] == "riemann_trapezoid"
    adaptive = Options("ig").settings(tiny_classifier())
    assert adaptive["n_steps"] is None and adaptive["target_gap"] == 0.01 and adaptive["max_steps"] == 4096
    assert "method" not in adaptive["details"] and "target_gap" not in adaptive["details"]


def test_ig_is_adaptive_by_default_and_the_summary_records_steps_gap_and_convergence(images, tmp_path):
    from helpers.attribution import adaptive_integrated_gradients

    tiny = tiny_classifier()
    rows = list(explain_stream([images / "part000"], tmp_path, tiny, Options("ig", figures="none", save_maps=True),
                               progress=False, workers=0))
    assert rows == read_summary(tmp_path) and len(rows) == 5
    for row in rows:
        x, target = tiny.input_batch(load_image(row["file"])), int(row["top1_index"])
        attribution, info = adaptive_integrated_gradients(tiny.model, x, target)
        assert row["steps"] == str(int(info["steps"][0])) and row["converged"] == "True"
        assert float(row["completeness_gap"]) <= 0.01
        np.testing.assert_allclose(np.load(tmp_path / row["map"]), attribution[0].numpy(), rtol=1e-3, atol=1e-4)


def test_a_fixed_grid_records_its_steps_and_the_gap_against_the_bar(images, tmp_path):
    rows = list(explain_stream([images / "part000"], tmp_path, tiny_classifier(), Options("ig", 3, figures="none"),
                               progress=False, workers=0))
    assert {row["steps"] for row in rows} == {"3"}
    assert all(row["converged"] == str(float(row["completeness_gap"]) <= 0.01) for row in rows)
    saliency = list(explain_stream([images / "part000"], tmp_path / "s", tiny_classifier(),
                                   Options("saliency", figures="none"), progress=False, workers=0))
    assert all(row["steps"] == row["converged"] == "" for row in saliency)


@pytest.mark.parametrize("first, second, named", [
    (Options("ig", figures="none"), Options("ig", figures="none", target_gap=0.02), "target_gap"),
    (Options("ig", figures="none"), Options("ig", figures="none", max_steps=100), "max_steps"),
    (Options("ig", figures="none"), Options("ig", 64, figures="none"), "max_steps, n_steps, target_gap"),
])
def test_resume_refuses_other_adaptive_settings(images, tmp_path, first, second, named):
    tiny = tiny_classifier()
    list(explain_stream([images / "part000" / "img00000.png"], tmp_path, tiny, first, progress=False, workers=0))
    with pytest.raises(ValueError, match=rf"other settings \(.*{named}"):
        list(explain_stream([images / "part000"], tmp_path, tiny, second, resume=True, progress=False, workers=0))
    assert len(read_summary(tmp_path)) == 1  # nothing mixed in


@pytest.mark.parametrize("kwargs, message", [
    ({"target_gap": 0}, "target_gap must be a number > 0"),
    ({"target_gap": float("nan")}, "target_gap must be a number > 0"),
    ({"max_steps": 4}, "max_steps must be an integer >= 17"),
])
def test_options_reject_bad_adaptive_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Options("ig", **kwargs)


def test_resume_keys_on_the_resolved_path_and_stores_it_relative(images, tmp_path, monkeypatch):
    import shutil

    project = (tmp_path / "project").resolve()
    shutil.copytree(images / "part000", project / "photos")
    monkeypatch.setattr("helpers.settings.PROJECT_ROOT", project)
    monkeypatch.chdir(project)
    tiny, options = tiny_classifier(), Options("saliency", 1, figures="none")
    first = list(explain_stream(["photos/"], tmp_path / "out", tiny, options, progress=False, workers=0))
    assert [row["file"] for row in first] == [f"photos/img{i:05d}.png" for i in range(5)]
    for spelling in ["./photos", str(project / "photos"), "photos/../photos/"]:
        again = list(explain_stream([spelling], tmp_path / "out", tiny, options, resume=True, progress=False,
                                    workers=0))
        assert again == [], spelling
    assert [row["file"] for row in read_summary(tmp_path / "out")] == [row["file"] for row in first]


def test_resume_retries_the_files_whose_row_has_an_error(images, tmp_path):
    import shutil

    folder = tmp_path / "in"
    shutil.copytree(images / "part000", folder)
    broken = folder / "img00002.png"
    good_bytes = broken.read_bytes()
    broken.write_text("not a picture yet")
    tiny, options = tiny_classifier(), Options("saliency", 1, figures="none")
    first = list(explain_stream([folder], tmp_path / "out", tiny, options, progress=False, workers=0))
    assert [bool(row["error"]) for row in first] == [False, False, True, False, False]
    broken.write_bytes(good_bytes)  # repaired: --resume tries it again
    again = list(explain_stream([folder], tmp_path / "out", tiny, options, resume=True, progress=False, workers=0))
    assert [row["file"] for row in again] == [first[2]["file"]] and again[0]["error"] == ""
    summary = read_summary(tmp_path / "out")
    assert sorted(row["file"] for row in summary) == sorted(row["file"] for row in first)
    assert all(row["error"] == "" for row in summary)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["run.json", "summary.csv"]  # no temporary left


def test_write_atomic_replaces_whole_or_leaves_the_old_file(tmp_path):
    from helpers.explain.core import write_atomic

    target = tmp_path / "sub" / "run.json"
    write_atomic(target, lambda temporary: temporary.write_text("first"))
    assert target.read_text() == "first"

    def interrupted(temporary):
        temporary.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, interrupted)
    assert target.read_text() == "first" and [p.name for p in target.parent.iterdir()] == ["run.json"]


def test_a_decompression_bomb_is_that_images_error_row(tmp_path, monkeypatch):
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (20, 20), "orange").save(folder / "a_small.png")
    Image.new("RGB", (60, 60), "orange").save(folder / "b_huge.png")
    Image.new("RGB", (20, 20), "blue").save(folder / "c_small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 60x60 = 3600 > 2 x 1000: Pillow refuses it
    rows = list(explain_stream([folder], tmp_path / "out", tiny_classifier(), Options("saliency", 1, figures="none"),
                               progress=False, workers=0))
    assert [row["error"] == "" for row in rows] == [True, False, True]
    assert "b_huge.png" in rows[1]["error"] and "DecompressionBombError" in rows[1]["error"]


# --------------------------------------------------------------------------- streaming: read lazily, bounded


@pytest.mark.parametrize("workers", [0, 2])
def test_local_engine_reads_the_inputs_lazily(tmp_path, workers):
    folder = make_image_folder(tmp_path / "many", 60, size=32, per_folder=20)
    paths = CountingPaths(iter_image_paths([folder]))
    rows = explain_stream(paths, tmp_path / "out", tiny_classifier(), Options("saliency", 1, figures="none"),
                          workers=workers, progress=True)
    first = next(rows)
    assert first["file"].endswith("img00000.png")
    assert paths.read <= 2 * max(workers, 1) + 2, f"{paths.read} of 60 paths read before the first row"
    assert len([first, *rows]) == 60 and paths.read == 60


def test_the_progress_total_is_counted_in_the_background(images):
    from helpers.explain.inputs import BackgroundCount

    count = BackgroundCount([images], skip=frozenset())
    count.join(timeout=30)
    assert count.value == 12
