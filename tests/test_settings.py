import pytest
import torch

from helpers import settings


def test_flags_read_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    assert settings.quick_mode() and not settings.offline_mode()
    assert settings.knob(full=50, quick=5) == 5
    monkeypatch.setenv("COURSE_QUICK", "no")
    assert not settings.quick_mode()
    assert settings.knob(full=50, quick=5) == 50


def test_data_dir_is_created_where_asked(monkeypatch, tmp_path):
    target = tmp_path / "somewhere" / "data"
    monkeypatch.setenv("COURSE_DATA_DIR", str(target))
    assert settings.data_dir() == target and target.is_dir()


def test_default_data_dir_is_inside_the_project(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert settings.data_dir() == settings.PROJECT_ROOT / "data"


def test_device_choice_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(settings, "_mps_available", lambda: False)
    assert settings.pick_device().type == "cpu"
    monkeypatch.setattr(settings, "_mps_available", lambda: True)
    assert settings.pick_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert settings.pick_device().type == "cuda"


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert settings.pick_device() == torch.device("cpu")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        settings.pick_device("tpu")


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda' was requested but is not available"):
        settings.pick_device("cuda")


def test_describe_mentions_modes(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    line = settings.describe()
    assert "quick mode: on" in line and "network: not used (COURSE_OFFLINE=1)" in line and "device: cpu" in line


@pytest.mark.parametrize("reachable, words", [(True, "network: reachable"), (False, "network: unreachable, offline fallbacks in use")])
def test_environment_line_says_what_happened_to_the_network(monkeypatch, reachable, words):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(settings, "network_reachable", lambda: reachable)
    assert words in settings.describe()


def test_network_probe_is_false_when_nothing_listens(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    settings.network_reachable.cache_clear()
    assert settings.network_reachable(("127.0.0.1", 9), timeout=0.5) is False  # discard port: nothing there
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert settings.network_reachable(("127.0.0.1", 9)) is False


def test_display_path_hides_this_machine(monkeypatch, tmp_path):
    assert settings.display_path(settings.PROJECT_ROOT / "data" / "x.pt") == "data/x.pt"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings.display_path(tmp_path / ".cache" / "torch") == "~/.cache/torch"
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert "data: data" in settings.describe()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "course-data"))
    assert "data: ~/course-data" in settings.describe()


def test_path_from_display_inverts_display_path(monkeypatch, tmp_path):
    inside = settings.PROJECT_ROOT / "data" / "03_subset" / "bag" / "image_0001.jpg"
    assert settings.path_from_display(settings.display_path(inside)) == inside
    monkeypatch.setenv("HOME", str(tmp_path))
    home_file = tmp_path / "photos" / "cat.jpg"
    assert settings.display_path(home_file) == "~/photos/cat.jpg"
    assert settings.path_from_display("~/photos/cat.jpg") == home_file
