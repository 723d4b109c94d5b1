"""Shared fixtures: every test runs with a clean course environment; the tiny models tests share live here."""

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def course_env(request, monkeypatch, tmp_path):
    """Offline, not quick, data and torch caches in a temporary folder, CPU (even on a GPU machine), no mirror.

    Tests marked ``student_run`` execute whole notebooks: they keep the environment that
    `make student-test` gives them (offline mirror, data folder), like nbval does.
    """
    if request.node.get_closest_marker("student_run"):
        return tmp_path
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr("helpers.models._notices_shown", set())
    return tmp_path


class TinyNet(nn.Module):
    """A small smooth network (conv + tanh + linear) on 3x8x8 images, 4 classes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 4)

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


@pytest.fixture
def tiny_model():
    return TinyNet().eval()


@pytest.fixture
def tiny_input():
    generator = torch.Generator().manual_seed(1)
    return torch.rand((1, 3, 8, 8), generator=generator)


class Evidence(nn.Module):
    """Two logits: w·x + b for class 0 and a constant 0 for class 1, so P(0) = sigmoid(w·x + b).

    A linear model whose every pixel's contribution w_i x_i is known exactly: the ground truth
    against which deletion curves, IG and the exercise checks are tested. ``weights``: None for
    a seeded random initialisation, else the values of w (a tensor of ``side * side`` numbers).
    """

    def __init__(self, side: int, weights=None, bias: float | None = None):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(side * side, 1)
        with torch.no_grad():
            if weights is not None:
                self.linear.weight.copy_(torch.as_tensor(weights, dtype=torch.float32).view(1, -1))
            if bias is not None:
                self.linear.bias.fill_(bias)

    def forward(self, x):
        evidence = self.linear(x.flatten(1))
        return torch.cat([evidence, torch.zeros_like(evidence)], dim=1)


class CountingPaths:
    """An input iterator that counts how many paths the pipeline has taken from it."""

    def __init__(self, paths):
        self.paths, self.read = iter(paths), 0

    def __iter__(self):
        return self

    def __next__(self):
        path = next(self.paths)
        self.read += 1
        return path
