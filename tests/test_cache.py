"""The disk cache computes once per distinct (code, inputs, settings, weights) and never mixes them up."""

import os
from pathlib import Path

import joblib
import pytest
import torch
from torch import nn

from helpers import cache
from helpers.cache import cached

SCALE = 2.0  # a "knob" read as a global by the cached function


def record_run():
    """Append a line to the log file named by $CACHE_TEST_LOG (one line per real computation)."""
    with open(os.environ["CACHE_TEST_LOG"], "a") as log:
        log.write("run\n")


def runs() -> int:
    return len(Path(os.environ["CACHE_TEST_LOG"]).read_text().splitlines())


@pytest.fixture(autouse=True)
def run_log(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHE_TEST_LOG", str(tmp_path / "runs.log"))
    (tmp_path / "runs.log").write_text("")


@cached
def scaled_output(model, x, power=1):
    """A tiny expensive-looking computation that records each real run."""
    record_run()
    with torch.no_grad():
        return model(x) ** power * SCALE


def test_same_call_is_computed_once_and_changes_recompute(monkeypatch):
    model = nn.Linear(3, 2)
    x = torch.ones(1, 3)
    first = scaled_output(model, x)
    again = scaled_output(model, x)
    assert runs() == 1 and torch.equal(first, again)
    assert cache.cache_dir().is_dir()

    scaled_output(model, x + 1)  # other input values
    assert runs() == 2
    scaled_output(model, x, power=2)  # another setting
    assert runs() == 3
    with torch.no_grad():
        model.weight.add_(1.0)  # same model object, changed weights
    changed = scaled_output(model, x)
    assert runs() == 4 and not torch.equal(changed, first)
    monkeypatch.setattr(__import__(__name__), "SCALE", 3.0)  # a global knob it reads
    scaled_output(model, x)
    assert runs() == 5
    scaled_output(model, x)
    assert runs() == 5


def test_other_architecture_with_equal_weights_is_another_key():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(3, 2))
    torch.manual_seed(0)
    with_relu = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    x = torch.ones(1, 3)
    scaled_output(plain, x)
    scaled_output(with_relu, x)
    assert runs() == 2


def test_functions_as_arguments_are_keyed_by_their_source():
    @cached
    def apply(function, value):
        record_run()
        return function(value)

    def double(v):
        return 2 * v

    def triple(v):
        return 3 * v

    assert apply(double, 5) == 10 and apply(double, 5) == 10
    assert apply(triple, 5) == 15
    assert runs() == 2


def test_a_global_that_cannot_be_hashed_is_a_clear_error():
    import threading

    lock = threading.Lock()

    @cached
    def uses_a_lock(value):
        with lock:
            return value

    with pytest.raises(TypeError, match="uses_a_lock reads 'lock'.*pass it as an argument"):
        uses_a_lock(1)


def test_library_functions_and_classes_are_keyed_by_name_and_version():
    from torchvision.transforms.functional import gaussian_blur

    from helpers.evaluation import blurred

    @cached
    def blur(x):
        record_run()
        return blurred(x) + gaussian_blur(x, [3, 3], [1.0, 1.0]) * 0  # reaches torchvision's internals

    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(blur(x), blur(x))
    assert runs() == 1
    assert cache.fingerprint(nn.Linear)[0] == "type"


def test_the_key_does_not_depend_on_memory_layout():
    import numpy as np

    @cached
    def total(values):
        record_run()
        return float(values.sum())

    array = np.arange(12.0).reshape(3, 4)
    total(array)
    total(np.asfortranarray(array))  # same values, other layout
    tensor = torch.arange(12.0).reshape(4, 3)
    total(tensor.t().contiguous())
    total(tensor.t())  # a transposed view: same values as the line above
    assert runs() == 2


def test_editing_a_course_layer_recomputes(monkeypatch):
    """Normalize is course code: a changed forward must never return the old result."""
    from helpers.models import Normalize

    model, x = nn.Sequential(Normalize([0.5], [0.5]), nn.Flatten()), torch.rand(1, 1, 2, 2)
    first = scaled_output(model, x)
    monkeypatch.setattr(Normalize, "forward", lambda self, x: x - self.mean)  # an edited forward
    second = scaled_output(model, x)
    assert runs() == 2 and not torch.equal(first, second)


def test_a_class_defined_in_a_notebook_is_keyed_by_its_code():
    """Two versions of a module class typed in a notebook (module __main__), same name, other forward."""
    source = ("import torch\nfrom torch import nn\nclass Twice(nn.Module):\n"
              "    def forward(self, x):\n        return x * {factor}\n")
    keys = []
    for factor in (2, 3):
        namespace = {"__name__": "__main__"}
        exec(compile(source.format(factor=factor), f"<cell {factor}>", "exec"), namespace)
        keys.append(cache.fingerprint(namespace["Twice"]()))
    assert keys[0] != keys[1]


class Doubler:
    """A method object of the course's kind: a class whose __call__ computes the map."""

    def __call__(self, x):
        return x * 2


def test_a_method_class_is_keyed_by_its_call(monkeypatch):
    """An instance of a course class carries the code of its __call__ into the key."""
    before = joblib.hash(cache.fingerprint(Doubler()))
    monkeypatch.setattr(Doubler, "__call__", lambda self, x: x * 3)
    assert joblib.hash(cache.fingerprint(Doubler())) != before
