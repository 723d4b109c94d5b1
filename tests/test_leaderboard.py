"""The method registry and the leaderboard (helpers/methods.py, helpers/leaderboard.py)."""

import pandas as pd
import pytest
import torch
from torch import nn

from helpers.leaderboard import (
    METRICS, block_groups, cascade, completeness_scores, faithfulness_scores, format_leaderboard, leaderboard, per_photo,
    randomization_scores, robustness_scores,
    run_methods, seconds_table,
)
from helpers.methods import METHOD_NAMES, Method, MethodSettings, guided_model, make_methods

SMALL = MethodSettings(ig_max_steps=64, sg_samples=4, occlusion_window=4, occlusion_stride=4, shap_samples=4,
                       lime_samples=16, lime_segments=8, batch=8)


def linear_model(side=8, seed=0):
    """Two logits: [w . x, 0], so P(class 0) = sigmoid(w . x); w has both signs."""
    torch.manual_seed(seed)
    linear = nn.Linear(3 * side * side, 2, bias=False)
    with torch.no_grad():
        linear.weight[0] = torch.randn(3 * side * side)
        linear.weight[1] = 0
    return nn.Sequential(nn.Flatten(), linear).eval()


def tiny_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU6(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()


def test_every_method_returns_a_map_of_the_image():
    model, x = tiny_cnn(), torch.rand(1, 3, 16, 16)
    methods = make_methods(SMALL)
    assert list(methods) == list(METHOD_NAMES)
    for name, method in methods.items():
        attribution = method(model, x, 1)
        assert attribution.shape in [(1, 3, 16, 16), (1, 1, 16, 16)], name
        assert torch.isfinite(attribution).all(), name
        assert torch.equal(attribution, method(model, x, 1)), f"{name} is not reproducible"


def test_registry_rejects_bad_names_and_inputs():
    with pytest.raises(ValueError, match="Unknown method"):
        make_methods(names=["Saliency", "CAM++"])
    with pytest.raises(TypeError, match="MethodSettings"):
        make_methods({"ig_max_steps": 4})
    with pytest.raises(ValueError, match="one image"):
        make_methods(names=["Saliency"])["Saliency"](tiny_cnn(), torch.rand(2, 3, 8, 8), 0)


def test_leaderboard_ranks_a_linear_model_as_known():
    """For f = w . x, IG is exactly w * x: deleting its top pixels removes the most evidence first."""
    model, side = linear_model(), 8
    images = {f"photo{i}": torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(i)) for i in range(3)}
    targets = dict.fromkeys(images, 0)
    methods = make_methods(SMALL, ["IG", "random", "edge detector"])
    anti = Method("anti-IG", lambda m, x, t: -methods["IG"](m, x, t), True)
    methods["anti-IG"] = anti
    maps, seconds = run_methods(model, images, targets, methods)
    for photo, x in images.items():  # IG of a linear logit is exact
        assert torch.allclose(maps["IG"][photo], model[1].weight[0].view(1, 3, side, side) * x, atol=1e-5)
    scores = faithfulness_scores(model, images, targets, maps, steps=16)
    robust = robustness_scores(model, images, targets, methods, maps, infidelity_samples=8, sensitivity_samples=2)
    random_check = randomization_scores(model, images, targets, methods, maps)
    table = leaderboard(scores, robust, random_check, seconds_table(seconds), sort_by="deletion AUC (black)")
    order = list(table.index)
    assert order.index("IG") < order.index("random") < order.index("anti-IG")
    insertion = table["insertion AUC", "mean"]
    assert insertion["IG"] > insertion["random"] > insertion["anti-IG"]
    # a linear map: IG's signed attribution reproduces f(x) - f(x - I) best (infidelity ~ 0)
    infidelity = table["infidelity", "mean"]
    assert infidelity["IG"] < infidelity["random"]
    # model-blind maps do not change with the weights; IG does
    correlation = table["randomization correlation", "mean"]
    assert correlation["random"] == pytest.approx(1) and correlation["edge detector"] == pytest.approx(1)
    assert correlation["IG"] < 0.5
    assert table["sensitivity", "mean"]["random"] == 0  # a constant map is perfectly 'stable'
    assert (table.xs("std", axis=1, level=1) >= 0).all().all()
    shown = format_leaderboard(table)
    assert shown.columns[0] == "deletion AUC (black) ↓" and " ± " in shown.iloc[0, 0]
    assert set(METRICS) >= {metric for metric, _ in table.columns}


def test_leaderboard_sorts_both_ways_and_checks_its_input():
    import pandas as pd
    rows = pd.DataFrame({"photo": ["a", "a", "b", "b"], "method": ["m1", "m2", "m1", "m2"],
                         "insertion AUC": [0.1, 0.5, 0.3, 0.7], "deletion AUC (black)": [0.1, 0.5, 0.3, 0.7]})
    assert list(leaderboard(rows, sort_by="insertion AUC").index) == ["m2", "m1"]
    table = leaderboard(rows, sort_by="deletion AUC (black)")
    assert list(table.index) == ["m1", "m2"]
    assert table["insertion AUC", "mean"]["m1"] == pytest.approx(0.2)
    assert table["insertion AUC", "std"]["m1"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="Cannot sort"):
        leaderboard(rows, sort_by="accuracy")
    with pytest.raises(ValueError, match="at least one"):
        leaderboard()


def test_guided_backprop_closed_form_on_one_hidden_layer():
    """GBP of f(x) = W2 relu(W1 x) for class c is W1^T (1[W1 x > 0] * max(W2[c], 0)): W2 enters only through its sign."""
    torch.manual_seed(0)
    first, second = nn.Linear(12, 20, bias=False), nn.Linear(20, 5, bias=False)
    model = nn.Sequential(nn.Flatten(), first, nn.ReLU(), second).eval()
    x = torch.randn(1, 3, 2, 2)
    gbp = make_methods(names=["Guided Backprop"])["Guided Backprop"]
    W1, W2 = first.weight, second.weight
    for c in range(5):
        active = (W1 @ x.flatten() > 0).float()
        expected = W1.T @ (active * W2[c].clamp(min=0))
        assert torch.allclose(gbp(model, x, c).flatten(), expected, atol=1e-6)


def test_guided_backprop_barely_depends_on_a_randomised_top_layer():
    """With W2 replaced by fresh random weights, GBP keeps summing the same active rows of W1
    with non-negative weights (correlation about 0.5 here), while the gradient's signed
    weights decorrelate completely."""
    torch.manual_seed(1)
    first, second = nn.Linear(192, 512, bias=False), nn.Linear(512, 10, bias=False)
    model = nn.Sequential(nn.Flatten(), first, nn.ReLU(), second).eval()
    x = torch.randn(1, 3, 8, 8)
    methods = make_methods(names=["Guided Backprop"])
    signed = {"gradient": lambda m: _gradient(m, x, 0),
              "Guided Backprop": lambda m: methods["Guided Backprop"](m, x, 0)}
    before = {name: fn(model).flatten() for name, fn in signed.items()}
    with torch.no_grad():
        second.weight.normal_()
    after = {name: fn(model).flatten() for name, fn in signed.items()}
    corr = {name: torch.corrcoef(torch.stack([before[name], after[name]]))[0, 1].item() for name in signed}
    assert corr["Guided Backprop"] > 0.3 and abs(corr["gradient"]) < 0.15, corr


def _gradient(model, x, c):
    x = x.clone().requires_grad_(True)
    model(x)[0, c].backward()
    return x.grad


def test_guided_backprop_sees_relu6_and_leaves_the_model_alone():
    model, x = tiny_cnn(), torch.rand(1, 3, 8, 8)
    guided = guided_model(model)
    assert guided is not model and isinstance(model[1], nn.ReLU6)  # the original is untouched
    assert torch.equal(guided(x * 40), model(x * 40))  # same forward, including the clip at 6
    plain = nn.Sequential(nn.Flatten(), nn.Linear(3, 2), nn.ReLU())
    assert guided_model(plain) is plain
    # on a ReLU6 net Guided Backprop differs from the gradient (it would not without guided_model)
    methods = make_methods(SMALL, ["Saliency", "Guided Backprop"])
    assert not torch.allclose(methods["Guided Backprop"](model, x, 0).abs(), methods["Saliency"](model, x, 0))


def test_cascade_keeps_maps_for_every_stage():
    model, x = tiny_cnn(), torch.rand(1, 3, 16, 16)
    methods = make_methods(SMALL, ["Saliency", "edge detector"])
    stages, correlations, maps = cascade(model, x, 0, methods, n_groups=3)
    assert stages[0] == "none" and len(stages) == 4
    for name in methods:
        assert len(correlations[name]) == len(maps[name]) == len(stages)
    assert correlations["edge detector"] == pytest.approx([1.0] * 4)
    assert torch.equal(maps["Saliency"][0], methods["Saliency"](model, x, 0))


def test_a_channels_last_model_gives_contiguous_maps_and_robustness_scores():
    """The course's ImageNet models run in channels_last on the CPU; Captum's metrics call .view on the maps."""
    model = tiny_cnn().to(memory_format=torch.channels_last)
    images = {"a": torch.rand(1, 3, 16, 16)}
    methods = make_methods(SMALL, ["Saliency", "Guided Backprop"])  # Captum's Guided Backprop keeps the layout
    maps, _ = run_methods(model, images, {"a": 1}, methods)
    assert all(maps[name]["a"].is_contiguous() for name in methods)
    scores = robustness_scores(model, images, {"a": 1}, methods, maps, infidelity_samples=2, sensitivity_samples=2)
    assert scores[["infidelity", "sensitivity"]].notna().all().all()


def test_run_methods_with_no_photos_returns_empty_tables():
    maps, seconds = run_methods(tiny_cnn(), {}, {}, make_methods(SMALL, ["Saliency"]))
    assert maps == {"Saliency": {}} and seconds == {"Saliency": {}}


def test_block_groups_start_with_the_output_layer_alone():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 3, 1)
            self._blocks = nn.ModuleList([Block(), Block()])
            self.head = nn.Conv2d(3, 3, 1)
            self.fc = nn.Linear(3, 2)

    groups = block_groups(nn.Sequential(nn.Identity(), Net()))
    assert list(groups) == ["1.fc", "1.head", "1._blocks.1", "1._blocks.0", "1.stem"]
    assert groups["1.fc"] == ["1.fc"] and groups["1._blocks.1"] == ["1._blocks.1.bn", "1._blocks.1.conv"]
    model, x = tiny_cnn(), torch.rand(1, 3, 8, 8)
    stages, correlations, _ = cascade(model, x, 0, make_methods(SMALL, ["Saliency"]), groups=block_groups(model))
    assert stages == ["none", *block_groups(model)] and len(correlations["Saliency"]) == len(stages)
    with pytest.raises(TypeError, match="groups"):
        cascade(model, x, 0, make_methods(SMALL, ["Saliency"]), groups=[["6"]])


def test_per_photo_ranks_and_ratios_remove_the_photo_scale():
    scores = pd.DataFrame({"photo": ["a"] * 3 + ["b"] * 3, "method": ["m", "n", "random"] * 2,
                           "infidelity": [1.0, 2.0, 4.0, 100.0, 300.0, 200.0]})
    ranks = per_photo(scores, "infidelity").set_index(["photo", "method"])["infidelity rank"]
    assert ranks["a", "m"] == 1 and ranks["b", "n"] == 3 and ranks["b", "random"] == 2
    ratios = per_photo(scores, "infidelity", how="ratio").set_index(["photo", "method"])["infidelity ÷ random"]
    assert ratios["a", "m"] == 0.25 and ratios["b", "n"] == 1.5 and ratios["a", "random"] == 1
    with pytest.raises(ValueError, match="how must be"):
        per_photo(scores, "infidelity", how="z")


def test_completeness_scores_and_the_formatted_board_state_references_and_gaps():
    model, side = linear_model(), 8
    images = {"p": torch.rand(1, 3, side, side)}
    methods = make_methods(SMALL, ["IG", "random"])
    maps, seconds = run_methods(model, images, {"p": 0}, methods)
    gaps = completeness_scores(model, images, {"p": 0}, maps)
    assert gaps["completeness gap"].iloc[0] < 1e-4  # IG of a linear logit is exact
    scores = faithfulness_scores(model, images, {"p": 0}, maps, steps=4, kinds=("deletion AUC (mean colour)",))
    table = leaderboard(scores, gaps, seconds_table(seconds), sort_by="deletion AUC (mean colour)",
                        stats=("mean", "std", "min", "max"))
    assert (table["deletion AUC (mean colour)", "min"] <= table["deletion AUC (mean colour)", "max"]).all()
    shown = format_leaderboard(table, methods=methods)
    assert shown.loc["IG", "references"] == "black" and shown.loc["random", "references"] == "none"
    assert shown.loc["random", "completeness gap ↓"] == "—" and shown.loc["IG", "completeness gap ↓"].endswith("%")
