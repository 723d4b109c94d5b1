"""Shared fixtures: every test runs with a clean course environment and a tiny model."""

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
