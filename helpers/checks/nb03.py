"""The checks of notebook 03's exercises."""

from __future__ import annotations

import torch

from helpers.checks.common import fail, passed, resolve, check_completeness, fresh


def check_batch_explainer(student_fn, model, x, targets, *, exercise: int, n_steps: int = 16,
                          tolerance: float | None = None) -> None:
    """``student_fn(model, x, targets, n_steps)`` explains a batch: the contract of a batch explain function.

    A tensor of x's shape on x's device; each image's map is that image explained alone
    (targets not mixed up across the batch); with ``tolerance``, it also adds up to
    F(x) - F(black) within it (meaningful only with enough ``n_steps`` for the model).
    """
    from helpers.attribution import integrated_gradients

    maps = resolve(lambda: student_fn(*fresh((model, x, targets, n_steps))), exercise, "explain_batch(...)")
    if not isinstance(maps, torch.Tensor):
        fail(exercise, f"explain_batch should return a torch.Tensor, got {type(maps).__name__}.")
    if tuple(maps.shape) != tuple(x.shape):
        fail(exercise, f"the maps should have the batch's shape {tuple(x.shape)} (one map per image, every "
                       f"channel), got {tuple(maps.shape)}: did you sum over a dimension or drop the batch one?")
    if maps.device.type != x.device.type:
        fail(exercise, f"the maps should be on the batch's device ({x.device.type}), got {maps.device.type}.")
    for i in range(len(x)):
        alone = integrated_gradients(model, x[i:i + 1], int(targets[i]), n_steps=n_steps)
        scale = float(alone.abs().max()) or 1.0
        if not torch.allclose(maps[i:i + 1].detach().cpu(), alone.cpu(), atol=1e-3 * scale, rtol=1e-3):
            same_as_first = torch.allclose(maps[i:i + 1].detach().cpu(), integrated_gradients(
                model, x[i:i + 1], int(targets[0]), n_steps=n_steps).cpu(), atol=1e-3 * scale, rtol=1e-3)
            hint = (" It matches the map for targets[0]: use each image's own target." if i and same_as_first
                    else " Explain each image for its own target, with the black baseline and the trapezoid rule "
                         "(helpers.attribution.integrated_gradients does both).")
            fail(exercise, f"the map of image {i} differs from that image explained alone (max difference "
                           f"{float((maps[i].detach().cpu() - alone[0].cpu()).abs().max()):.3g}).{hint}")
    if tolerance is not None:
        check_completeness(maps, model, x, targets, exercise=exercise, tolerance=tolerance)
        return
    passed(exercise, f"explain_batch returns one map per image ({tuple(x.shape)}, on {x.device.type}), each "
                     f"equal to its image explained alone for its own target.")


def check_ranking(student_fn, *, exercise: int) -> None:
    """``student_fn(summary)`` returns the rows of a summary DataFrame without errors, most confident first."""
    import pandas as pd

    summary = pd.DataFrame({
        "file": ["a.png", "b.png", "broken.jpg", "c.png", "empty.jpg"],
        "top1_label": ["tabby", "espresso", None, "rocket", None],
        "confidence": [0.41, 0.93, None, 0.67, None],
        "figure": [None] * 5,  # --figures none: an empty column, as in a real summary
        "error": [None, None, "not a readable image", None, "empty (0 bytes)"],
    })
    ranked = resolve(lambda: student_fn(*fresh((summary,))), exercise, "rank_by_confidence(summary)")
    if not isinstance(ranked, pd.DataFrame):
        fail(exercise, f"rank_by_confidence should return a pandas DataFrame, got {type(ranked).__name__}.")
    files = list(ranked["file"]) if "file" in ranked else []
    if not files or set(files) - {"a.png", "b.png", "c.png"}:
        if not files:
            fail(exercise, "the result has no rows (or no 'file' column): dropna() without subset= drops every "
                           "row that has any empty cell, e.g. the empty 'figure' column. Filter on 'error'.")
        fail(exercise, f"the result still contains files with an error: {sorted(set(files) - {'a.png', 'b.png', 'c.png'})}. "
                       f"Keep only the rows whose 'error' is empty.")
    if sorted(files) != ["a.png", "b.png", "c.png"]:
        fail(exercise, f"expected the 3 explained files, got {files}: keep every row without an error.")
    if files == ["a.png", "c.png", "b.png"]:
        fail(exercise, "the least confident image comes first: sort in descending order (ascending=False).")
    if files != ["b.png", "c.png", "a.png"]:
        fail(exercise, f"the rows should be ordered by confidence, highest first; got {files}.")
    passed(exercise, "error rows removed, the 3 explained images ranked by confidence (0.93, 0.67, 0.41).")
