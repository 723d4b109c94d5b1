"""A disk cache for expensive, pure computations of the notebooks (``joblib.Memory``).

Usage::

    from helpers.cache import cached

    @cached
    def completeness_sweep(model, x, target, step_grid):
        ...

A call is looked up by a key made of the function's source code, the values of the global
and enclosing variables it reads (knobs such as ``N_STEPS``), and *every* argument: an
``nn.Module`` by its architecture, weights and the classes it is made of (course classes,
those of ``helpers``, the tests or a notebook, by the code of all their methods; library classes by
name and package version); a tensor by its values, dtype and
shape; a function by its source and the variables it reads, recursively; anything else as
``joblib.hash`` sees it. Changed code, inputs, settings or weights therefore never return
an old result. Results live in
``<data folder>/cache`` (``make clean-cache`` empties it).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import inspect
import sys
from pathlib import Path

import joblib
import numpy as np
import torch
from torch import nn

from helpers.settings import PROJECT_ROOT, data_dir


def cache_dir():
    """Where cached results are stored: ``<data folder>/cache``."""
    return data_dir() / "cache"


def cached(func):
    """Decorate a pure function so that its results are stored on disk and reused (see module doc)."""
    def compute(key, args, kwargs):
        return func(*args, **kwargs)

    compute.__module__ = func.__module__
    compute.__name__ = compute.__qualname__ = f"{func.__qualname__}".replace("<", "_").replace(">", "_")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        key = joblib.hash((fingerprint(func), fingerprint(args), fingerprint(kwargs)))
        memory = joblib.Memory(cache_dir(), verbose=0)
        return memory.cache(compute, ignore=["args", "kwargs"])(key, args, kwargs)

    wrapper.uncached = func
    return wrapper


def fingerprint(value, _seen=None):
    """A hashable stand-in for ``value`` that captures everything the result may depend on."""
    _seen = set() if _seen is None else _seen
    if isinstance(value, nn.Module):  # every class inside it (course classes by their code), its weights
        weights = {name: _array(tensor) for name, tensor in value.state_dict().items()}
        classes = list(dict.fromkeys(type(module) for module in value.modules()))
        return ("module", [fingerprint(cls, _seen) for cls in classes], repr(value), joblib.hash(weights))
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype), tuple(value.shape), joblib.hash(_array(value)))
    if isinstance(value, np.ndarray):
        return ("array", str(value.dtype), value.shape, joblib.hash(np.ascontiguousarray(value)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [fingerprint(item, _seen) for item in value])
    if isinstance(value, dict):
        return ("dict", [(fingerprint(k, _seen), fingerprint(v, _seen)) for k, v in value.items()])
    if isinstance(value, type):  # a course class by the code of its methods, a library class by version
        return _class_fingerprint(value, _seen) if _is_course_code(value) else ("type", *_library_key(value))
    if inspect.isfunction(value) or inspect.ismethod(value):
        function = inspect.unwrap(getattr(value, "__func__", value))
        if not _is_course_code(function):  # library code: its name and version, not its internals
            return ("function", *_library_key(function))
        return _function_fingerprint(function, _seen)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. a Classifier: its class and fields
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        return (fingerprint(type(value), _seen), fingerprint(fields, _seen))
    if _is_course_code(type(value)):  # an instance of a course class: its class's code and its state
        state = getattr(value, "__dict__", None)
        return (fingerprint(type(value), _seen), joblib.hash(value) if state is None else fingerprint(state, _seen))
    return value


def _class_fingerprint(cls, seen):
    """A course class: its name, the code of every function defined in it, and its base classes."""
    if id(cls) in seen:
        return ("type", cls.__qualname__)
    seen.add(id(cls))
    members = []
    for name, member in sorted(vars(cls).items()):
        function = getattr(member, "__func__", member)  # staticmethod / classmethod
        if isinstance(member, property):
            function = member.fget
        if inspect.isfunction(function):
            members.append((name, _function_fingerprint(inspect.unwrap(function), seen)))
    bases = [fingerprint(base, seen) for base in cls.__bases__ if base is not object]
    return ("type", cls.__qualname__, members, bases)


def _function_fingerprint(func, seen):
    """A function's source plus the values of the globals and closure variables it reads."""
    if id(func) in seen:  # recursion, or a helper already described
        return ("function", func.__qualname__)
    seen.add(id(func))
    try:
        variables = inspect.getclosurevars(func)
        reads = {**variables.globals, **variables.nonlocals}
    except (TypeError, ValueError):
        reads = {}
    used = sorted((name, value) for name, value in reads.items() if not inspect.ismodule(value))
    return ("function", func.__qualname__, _source_hash(func),
            [(name, _hashable(func, name, fingerprint(value, seen))) for name, value in used])


def _is_course_code(obj) -> bool:
    """True for functions and classes of the course (helpers, tests, notebooks), whose source may change."""
    module = getattr(obj, "__module__", None)
    if module == "__main__":
        return True
    try:
        source = inspect.getsourcefile(obj) if inspect.isfunction(obj) else getattr(sys.modules.get(module), "__file__", None)
    except TypeError:  # built-in
        return False
    path = Path(source).resolve() if source else None
    return path is not None and PROJECT_ROOT in path.parents and ".venv" not in path.parts


def _library_key(obj) -> tuple:
    """(module, qualified name, version of its top-level package) for library code."""
    module = getattr(obj, "__module__", None) or ""
    try:
        version = importlib.metadata.version(module.split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        version = sys.version
    return module, getattr(obj, "__qualname__", repr(obj)), version


def _hashable(func, name, value):
    """``value`` if joblib can hash it, else a TypeError that says what to do."""
    try:
        joblib.hash(value)
    except Exception as error:
        raise TypeError(
            f"The cached function {func.__qualname__} reads {name!r} ({type(value).__name__}), which cannot be "
            f"hashed into a cache key ({error}); pass it as an argument or compute it inside the function."
        ) from None
    return value


def _array(tensor: torch.Tensor) -> np.ndarray:
    """The values as a C-ordered array: the key does not depend on strides or memory layout."""
    tensor = tensor.detach().cpu()
    return np.ascontiguousarray((tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy())


def _source_hash(func) -> str:
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):  # no source (built-in, code typed at a prompt...): the code object
        code = getattr(func, "__code__", None)
        source = repr((code.co_code, code.co_consts, code.co_names) if code else func)
    return hashlib.sha256(source.encode()).hexdigest()
