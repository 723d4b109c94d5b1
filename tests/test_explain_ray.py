"""``--engine ray``: same results as the local engine, clear errors without Ray or without a cluster."""

import importlib.util
import os
import socket
import sys

import numpy as np
import pytest

from helpers.data import make_image_folder
from helpers.explain import EngineError, Options, explain_stream
from helpers.explain.cli import main
from helpers.explain.inputs import iter_image_paths
from helpers.explain.ray_engine import INSTALL_HINT, connect, plan_actors

from conftest import CountingPaths

HAVE_RAY = importlib.util.find_spec("ray") is not None
if not HAVE_RAY and os.environ.get("CI"):
    raise RuntimeError(f"CI must test the Ray engine: install the extra with {INSTALL_HINT}")
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason=f"Ray not installed: {INSTALL_HINT}")
GB = 2**30


@pytest.fixture
def ray_instance():
    """A local Ray instance for one test, shut down afterwards (tests stay independent)."""
    yield
    import ray

    ray.shutdown()


@pytest.mark.slow
@needs_ray
def test_ray_and_local_engines_give_the_same_results(tmp_path, ray_instance, monkeypatch):
    images = make_image_folder(tmp_path / "images", 4, size=48, per_folder=2)
    (images / "part000" / "broken.png").write_text("not a picture")
    options = Options("ig", 4, figures="none", save_maps=True)
    local = list(explain_stream([images], tmp_path / "local", "efficientnet_lite0", options, progress=False))
    monkeypatch.setattr("helpers.explain.ray_engine.CHUNK_FILES", 2)  # 5 files: chunks of 2, 2 and 1
    paths = CountingPaths(iter_image_paths([images]))
    stream = explain_stream(paths, tmp_path / "ray", "efficientnet_lite0", options, engine="ray", progress=False)
    remote = [next(stream)]
    assert paths.read == 2, f"{paths.read} of 5 paths read before the first row (chunks of 2)"
    remote.extend(stream)
    assert [row["file"] for row in remote] == [row["file"] for row in local]
    for ours, theirs in zip(local, remote):
        for field in ("top1_label", "top1_index", "confidence", "error", "map"):
            assert ours[field] == theirs[field], (field, ours, theirs)
        if not ours["error"]:
            assert float(ours["completeness_gap"]) == pytest.approx(float(theirs["completeness_gap"]), rel=1e-3)
            np.testing.assert_allclose(np.load(tmp_path / "local" / ours["map"]),
                                       np.load(tmp_path / "ray" / theirs["map"]), atol=1e-5)
    assert sum(bool(row["error"]) for row in remote) == 1


def test_missing_ray_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(EngineError, match=r"pip install -e \"\.\[scale\]\""):
        connect()
    assert main([str(tmp_path), "--engine", "ray", "--quiet"]) == 2
    assert "make setup-scale" in capsys.readouterr().err


@needs_ray
def test_unreachable_address_is_a_clear_error(tmp_path, capsys):
    with socket.socket() as probe:  # a port nobody listens on, on this machine
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EngineError, match=f"Cannot reach a Ray cluster at 127.0.0.1:{port}"):
        connect(f"127.0.0.1:{port}")
    assert main([str(tmp_path), "--engine", "ray", "--address", "no-port-here", "--quiet"]) == 2
    assert "--address must look like HOST:PORT" in capsys.readouterr().err


@pytest.mark.parametrize("resources, plan", [
    ({"CPU": 2.0, "memory": 16 * GB}, {"actors": 1, "num_cpus": 1.0, "num_gpus": 0, "threads": 2}),
    ({"CPU": 1.0, "memory": 16 * GB}, {"actors": 1, "num_cpus": 0.5, "num_gpus": 0, "threads": 1}),
    ({"CPU": 16.0, "memory": 64 * GB}, {"actors": 15, "num_cpus": 1.0, "num_gpus": 0, "threads": 1}),
    ({"CPU": 16.0, "memory": 8 * GB}, {"actors": 4, "num_cpus": 3.75, "num_gpus": 0, "threads": 4}),
    ({"CPU": 8.0, "GPU": 2.0, "memory": 64 * GB}, {"actors": 2, "num_cpus": 1.0, "num_gpus": 1, "threads": 1}),
])
def test_actor_plan_from_cluster_resources(resources, plan):
    assert plan_actors(resources) == plan
