import csv
import subprocess
import sys

import pytest

from tools.bench import peak_rss_mb
from helpers.data import save_sample_images
from helpers.attribution import completeness_gap, integrated_gradients
from helpers.explain import GAP_THRESHOLD, explain_files, output_name
from helpers.explain.cli import main
from helpers.images import load_image
from helpers.models import load_classifier


@pytest.fixture(scope="module")
def lite0():
    return load_classifier("efficientnet_lite0")


@pytest.fixture
def batch_folder(tmp_path):
    folder = tmp_path / "photos"
    save_sample_images(folder, ["chelsea", "coffee"])
    (folder / "empty.jpg").touch()
    (folder / "notes.png").write_text("this is not a picture")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    return folder


def read_summary(folder):
    with open(folder / "summary.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_good_and_bad_files_in_one_batch(lite0, batch_folder, tmp_path):
    out = tmp_path / "out"
    rows = explain_files([batch_folder, tmp_path / "missing.jpg"], out, lite0, "ig", n_steps=4, progress=False)
    summary = read_summary(out)
    names = [row["file"].rsplit("/", 1)[-1] for row in summary]
    assert names[2:] == ["empty.jpg", "notes.png", "missing.jpg"] and names[:2][0].startswith("chelsea.")
    by_name = dict(zip(names, summary))
    coffee = by_name[names[1]]
    assert coffee["top1_label"] == "espresso" and float(coffee["confidence"]) > 0.5
    assert (out / coffee["figure"]).stat().st_size > 10_000
    assert "empty (0 bytes)" in by_name["empty.jpg"]["error"]
    assert "not a readable image" in by_name["notes.png"]["error"]
    assert "not found" in by_name["missing.jpg"]["error"]
    assert len(rows) == 5


@pytest.mark.slow
def test_summary_gaps_are_the_completeness_gap_of_ig(lite0, tmp_path):
    photo = save_sample_images(tmp_path / "in", ["chelsea"])[0]
    row = explain_files([photo], tmp_path / "out", lite0, "ig", n_steps=4, progress=False)[0]
    x, target = lite0.input_batch(load_image(photo)), int(row["top1_index"])
    delta = completeness_gap(lite0.model, x, target, integrated_gradients(lite0.model, x, target, n_steps=4)).item()
    change = (lite0.model(x)[0, target] - lite0.model(0 * x)[0, target]).item()
    assert float(row["convergence_delta"]) == pytest.approx(delta, rel=1e-3)
    assert float(row["completeness_gap"]) == pytest.approx(delta / abs(change), rel=1e-3)
    assert float(row["completeness_gap"]) > GAP_THRESHOLD  # 4 steps are not enough: the column says so


def test_figure_names_are_unique_per_file():
    names = {output_name(p) for p in ["a/cat.jpg", "b/cat.jpg", "a/cat.png", "cat.jpg"]}
    assert len(names) == 4 and all(name.startswith("cat_") for name in names)
    assert output_name("a/cat.jpg") == output_name("a/cat.jpg")


@pytest.mark.parametrize("method", ["saliency", "smoothgrad"])
def test_other_methods_write_figures_without_delta(lite0, tmp_path, method):
    photos = save_sample_images(tmp_path / "in", ["rocket"])
    rows = explain_files(photos, tmp_path / "out", lite0, method, n_steps=3, progress=False)
    assert rows[0]["error"] == "" and rows[0]["convergence_delta"] == rows[0]["completeness_gap"] == ""
    assert rows[0]["figure"].endswith(f"_{method}.png") and (tmp_path / "out" / rows[0]["figure"]).exists()


def test_bad_arguments_to_the_function(lite0, tmp_path):
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        explain_files([tmp_path], tmp_path / "out", lite0, n_steps=0)
    with pytest.raises(ValueError, match="Unknown method 'lime'"):
        explain_files([tmp_path], tmp_path / "out", lite0, method="lime")


@pytest.mark.slow
def test_cli_good_batch(batch_folder, tmp_path, capsys):
    code = main([str(batch_folder), "--model", "efficientnet_lite0", "--n-steps", "3", "--out", str(tmp_path / "o"),
                 "--quiet"])
    assert code == 0
    assert "2 image(s) explained, 2 failed" in capsys.readouterr().out
    assert len(read_summary(tmp_path / "o")) == 4


@pytest.mark.parametrize("args, message", [
    (["--n-steps", "0"], "argument --n-steps: must be an integer >= 1, got '0'"),
    (["--n-steps", "ten"], "argument --n-steps: must be an integer >= 1, got 'ten'"),
    (["--model", "vgg16"], "argument --model: invalid choice: 'vgg16'"),
    (["--method", "lime"], "argument --method: invalid choice: 'lime'"),
    (["--target-gap", "0"], "argument --target-gap: must be a number > 0 (the course's bar: 0.01), got '0'"),
    (["--target-gap", "-0.01"], "argument --target-gap: must be a number > 0"),
    (["--target-gap", "1%"], "argument --target-gap: must be a number > 0 (the course's bar: 0.01), got '1%'"),
    (["--max-steps", "16"], "argument --max-steps: must be an integer >= 17, got '16'"),
    (["--max-steps", "many"], "argument --max-steps: must be an integer >= 17, got 'many'"),
    (["--n-steps", "50", "--target-gap", "0.02"], "--target-gap applies only to adaptive IG (--method ig "
                                                   "without --n-steps)"),
    (["--method", "smoothgrad", "--max-steps", "100"], "--max-steps applies only to adaptive IG"),
])
def test_cli_bad_options_exit_non_zero_with_one_line(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "helpers.explain", str(tmp_path), *args],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr


def test_cli_help_documents_every_option():
    result = subprocess.run([sys.executable, "-m", "helpers.explain", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ["IMAGE_OR_DIR", "--model", "--method", "--n-steps", "--target-gap", "--max-steps", "--batch-size",
                   "--out", "--figures",
                   "--save-maps", "--resume", "--workers", "--engine", "--address", "--quiet"]:
        assert option in result.stdout


@pytest.mark.slow
def test_ig_memory_does_not_grow_with_n_steps():
    few, many = peak_rss_mb(16), peak_rss_mb(160)  # fresh processes: model + one IG run each
    assert many - few < 150, f"peak RSS grew from {few:.0f} MB to {many:.0f} MB"
    assert many < 2048, f"IG with the default internal batch peaked at {many:.0f} MB"
