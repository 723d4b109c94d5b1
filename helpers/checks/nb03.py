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


def check_fixed_grid_prediction(prediction, summary_csv, *, exercise: int, bar: float = 0.01) -> None:
    """Predict exercise: how many images of a fixed-grid run's ``summary.csv`` are under the gap ``bar``.

    Runs nothing new: reads the run's gaps and steps, prints them image by image (least confident first),
    then compares with ``prediction`` (an integer) and explains the outcome either way.
    """
    import pandas as pd

    guess = resolve(prediction, exercise, "prediction")
    if isinstance(guess, bool) or not isinstance(guess, int):
        fail(exercise, f"prediction should be a whole number of images, got {guess!r}.")
    rows = pd.read_csv(summary_csv)
    rows = rows[rows.error.isna()].sort_values("confidence")
    if not 0 <= guess <= len(rows):
        fail(exercise, f"prediction should be between 0 and {len(rows)} (the run explained {len(rows)} images), "
                       f"got {guess}.")
    steps = int(rows.steps.iloc[0])
    print(f"fixed grid of {steps} points, {len(rows)} images (least confident first):")
    for _, row in rows.iterrows():
        print(f"  confidence {row.confidence:6.1%}  gap {row.completeness_gap:7.2%}  "
              f"{'under' if row.completeness_gap <= bar else 'over'} the {bar:.0%} bar")
    under = int((rows.completeness_gap <= bar).sum())
    why = (f"{under} of {len(rows)} are under the bar: with {steps} points the grid is too coarse for the spikes of "
           f"the integrand (the adaptive runs of section 3 placed one to several hundred points per image)."
           if under < len(rows) else f"all {len(rows)} are under the bar even with {steps} points.")
    if guess != under:
        fail(exercise, f"you predicted {guess}, the run gives {under}. {why} A gap is not a property of the image "
                       f"alone: it is the quadrature's error, so it falls (not always monotonically) as the grid "
                       f"gets finer.")
    passed(exercise, f"{under} of {len(rows)}, as predicted. {why}")


def reference_batch_ig(model, x, n_steps: int = 32):
    """IG maps of each image of ``x`` for its own top-1 class (black baseline, trapezoid rule)."""
    from helpers.attribution import integrated_gradients

    with torch.no_grad():
        targets = model(x).argmax(dim=1)
    return integrated_gradients(model, x, targets, n_steps=n_steps)


def check_batch_ig(student_fn, model, x, *, exercise: int, n_steps: int = 32) -> None:
    """Debug exercise: ``student_fn(model, x, n_steps)`` gives each image's IG map for its own top-1 class.

    The hints name symptoms (what the maps add up to), measured on the batch and on each image alone.
    """
    maps = resolve(lambda: student_fn(*fresh((model, x)), n_steps=n_steps), exercise, "batch_ig(...)")
    if not isinstance(maps, torch.Tensor) or tuple(maps.shape) != tuple(x.shape):
        shape = tuple(maps.shape) if hasattr(maps, "shape") else type(maps).__name__
        fail(exercise, f"batch_ig should return a tensor of the batch's shape {tuple(x.shape)}, got {shape}.")
    expected = reference_batch_ig(model, x, n_steps)
    maps = maps.detach().to(expected.device, expected.dtype)
    scale = float(expected.abs().max()) or 1.0
    if torch.allclose(maps, expected, atol=1e-4 * scale, rtol=1e-3):
        passed(exercise, f"each of the {len(x)} maps is its image's IG for its own top-1 class, and adds up to that "
                         f"class's F(x) - F(black) within the {n_steps}-point rule's error.")
        return
    with torch.no_grad():
        logits = model(torch.cat([x, torch.zeros_like(x)]))
    n = len(x)
    targets = logits[:n].argmax(dim=1)
    rows = torch.arange(n)
    own = (logits[:n][rows, targets] - logits[n:][rows, targets]).double()
    sums = maps.flatten(1).sum(dim=1).double()
    alone = resolve(lambda: student_fn(*fresh((model, x[:1])), n_steps=n_steps), exercise, "batch_ig(...)")
    first_alone_right = torch.allclose(alone.detach().to(expected.dtype), expected[:1], atol=1e-4 * scale, rtol=1e-3)
    table = ", ".join(f"image {i}: sum {float(s):.3g} vs {float(c):.3g}" for i, (s, c) in enumerate(zip(sums, own)))
    if first_alone_right:
        fail(exercise, f"an image explained alone gets the right map, but in a batch of {n} it does not: the maps "
                       f"do not add up to their own class's F(x) - F(black) ({table}). Something couples the "
                       f"images of a batch: print the shape of the scores you differentiate.")
    probabilities = torch.softmax(logits, dim=1)
    own_probability = (probabilities[:n][rows, targets] - probabilities[n:][rows, targets]).double()
    if torch.allclose(sums, own_probability, rtol=0.2, atol=0.02 * float(own_probability.abs().max())):
        fail(exercise, f"the maps add up to the change of the class *probability*, not of its logit ({table}): "
                       f"IG here explains the logit F.")
    fail(exercise, f"the maps do not add up to their own class's F(x) - F(black) ({table}), even for an image "
                   f"alone. Compare the map with (x - x') times the average gradient along the path.")
