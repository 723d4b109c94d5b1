"""The streaming, resumable pipeline (helpers.explain), on a tiny model so the tests stay fast."""

import csv
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from helpers.attribution import completeness_gap, integrated_gradients
from helpers.data import make_image_folder
from helpers.explain import SUMMARY_FIELDS, Options, explain_stream
from helpers.explain.cli import main
from helpers.explain.core import decode
from helpers.explain.inputs import Summary, iter_image_paths
from helpers.explain.memory import rss_growth, rss_profile
from helpers.images import load_image
from helpers.models import Classifier

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
    file, x, error = decode(str(missing), lambda image: image)
    assert x is None and "Image file not found" in error


def test_streaming_memory_is_flat_over_500_images(tmp_path):
    folder = make_image_folder(tmp_path / "many", 500, size=32)
    rows = explain_stream([folder], tmp_path / "out", tiny_classifier(), Options("saliency", 1, figures="none"),
                          progress=False)
    readings = rss_profile(rows, every=50)
    assert [n for n, _ in readings] == list(range(50, 501, 50))
    assert rss_growth(readings) < 10, f"RSS grew after warm-up: {readings}"
    assert len(read_summary(tmp_path / "out")) == 500


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
    assert sorted(files) == sorted(map(str, iter_image_paths([images]))) and len(set(files)) == 12
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


def test_killed_run_resumes_with_every_image_exactly_once(images, tmp_path):
    script = TINY + textwrap.dedent(f"""
        from helpers.explain import Options, explain_stream
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
    assert sorted(row["file"] for row in summary) == sorted(map(str, iter_image_paths([images])))
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
