"""The checks of notebook 05's exercises."""

from __future__ import annotations

import numpy as np

from helpers.checks.common import fail, passed, resolve, as_array, fresh


def reference_sampled_additivity(sample_sums, f_x, f_background):
    """(gap, standard error) of a sampled additivity check: mean(sums) - (f_x - mean f_background), s.e. of the mean."""
    sums = np.asarray(sample_sums, dtype=np.float64).reshape(-1)
    gap = sums.mean() - (float(f_x) - np.asarray(f_background, dtype=np.float64).mean())
    return np.array([gap, sums.std(ddof=1) / np.sqrt(len(sums))])


def check_sampled_additivity(student_fn, sample_sums, f_x, f_background, *, exercise: int) -> None:
    """``student_fn(sample_sums, f_x, f_background)`` returns (gap, standard error) as the reference does."""
    value = as_array(resolve(lambda: student_fn(*fresh((sample_sums, f_x, f_background))), exercise,
                             "sampled_additivity(...)"), exercise).reshape(-1)
    if value.shape != (2,):
        fail(exercise, f"return two numbers, (gap, standard_error); got {value.size} value(s).")
    gap, error = reference_sampled_additivity(sample_sums, f_x, f_background)
    sums = np.asarray(sample_sums, dtype=np.float64).reshape(-1)
    n, target = len(sums), float(f_x) - float(np.mean(f_background))
    if not np.isclose(value[0], gap, rtol=1e-6, atol=1e-9):
        if np.isclose(value[0], -gap, rtol=1e-6, atol=1e-9):
            fail(exercise, "the gap has the wrong sign: gap = estimate - target, with target = f_x - mean(f_background).")
        if np.isclose(value[0], sums.mean() - float(f_x), rtol=1e-6, atol=1e-9):
            fail(exercise, "the gap ignores the background: the target is f(x) minus the *average* background output.")
        if np.isclose(value[0], sums.sum() - target, rtol=1e-6, atol=1e-9):
            fail(exercise, "the estimate is the mean of the per-sample sums, not their total.")
        fail(exercise, f"gap {value[0]:.4g} does not match: estimate = mean of the sample sums, target = f_x - "
                       f"mean(f_background).")
    if not np.isclose(value[1], error, rtol=1e-6, atol=1e-12):
        for wrong, hint in ((sums.std(ddof=1) / n, "divide the standard deviation by sqrt(n), not by n"),
                            (sums.std(ddof=0) / np.sqrt(n), "use the sample standard deviation (ddof=1)"),
                            (sums.std(ddof=1), "that is the spread of one sample; the mean's error is smaller")):
            if np.isclose(value[1], wrong, rtol=1e-6, atol=1e-12):
                fail(exercise, f"standard error {value[1]:.4g} is not the standard error of the mean: {hint}.")
        fail(exercise, f"standard error {value[1]:.4g} does not match the standard error of the mean of {n} samples.")
    passed(exercise, f"gap {gap:.4g} and standard error {error:.4g} of the sampled additivity check "
                     f"({abs(gap) / error if error else float('inf'):.1f} standard errors).")
