"""helpers.vit: rollout and the gradient-weighted rule on known attention, the token reshape, the ViT paths."""

import pytest
import torch

from helpers import vit
from helpers.data import sample_images
from helpers.evaluation import randomization_sanity_check
from helpers.models import load_classifier, weights_cache_path


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = vit.tiny_vit(num_classes=5, num_layers=2, hidden_dim=32, mlp_dim=32)
    torch.nn.init.normal_(vit.find_vit(net).heads.head.weight, std=0.5)  # torchvision starts the head at zero
    return net.eval()


@pytest.fixture(scope="module")
def x():
    return torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def identity_attention(layers=3, heads=2, tokens=5):
    return [torch.eye(tokens).expand(1, heads, tokens, tokens).clone() for _ in range(layers)]


def cls_attends_to(patch, heads=1, tokens=5):
    """Every token attends to itself, except the class token, which attends to token ``patch`` only."""
    attention = torch.eye(tokens)
    attention[0] = 0
    attention[0, patch] = 1
    return attention.expand(1, heads, tokens, tokens).clone()


def test_identity_attention_gives_the_identity_rollout():
    for fusion in vit.HEAD_FUSIONS:
        assert torch.equal(vit.attention_rollout(identity_attention(), fusion)[0], torch.eye(5))
    zero = [torch.zeros(1, 2, 5, 5)] * 3
    assert torch.equal(vit.gradient_weighted_rollout(identity_attention(), zero)[0], torch.eye(5))


def test_class_token_attending_to_one_patch_gives_a_one_hot_map():
    attention = cls_attends_to(patch=3)
    rollout_map = vit.class_token_map(vit.attention_rollout([attention]))[0]
    assert rollout_map.shape == (2, 2)
    assert torch.equal(rollout_map, torch.tensor([[0.0, 0.0], [0.5, 0.0]]))  # patch 3 = token 3 = row 1, column 0
    weighted = vit.class_token_map(vit.gradient_weighted_rollout([attention], [torch.ones_like(attention)]))[0]
    assert torch.equal(weighted, torch.tensor([[0.0, 0.0], [1.0, 0.0]]))


def test_attention_only_to_the_class_token_leaves_the_patches_nothing():
    attention = torch.zeros(1, 1, 5, 5)
    attention[..., 0] = 1
    assert torch.equal(vit.class_token_map(vit.attention_rollout([attention] * 2)), torch.zeros(1, 2, 2))


def test_negative_gradient_evidence_is_clipped():
    attention = cls_attends_to(patch=2, heads=2)
    gradient = torch.ones_like(attention)
    gradient[:, 1] = -5  # the second head's evidence is against the class: it must not cancel the first
    weighted = vit.class_token_map(vit.gradient_weighted_rollout([attention], [gradient]))[0]
    assert torch.equal(weighted, torch.tensor([[0.0, 0.5], [0.0, 0.0]]))


def test_min_fusion_keeps_only_what_every_head_attends_to():
    attention = torch.stack([cls_attends_to(patch=1)[0, 0], cls_attends_to(patch=2)[0, 0]])[None]
    assert vit.class_token_map(vit.attention_rollout([attention], "min")).sum() == 0
    assert vit.class_token_map(vit.attention_rollout([attention], "mean")).sum() == pytest.approx(0.5)


def test_recorded_attention_reproduces_the_model(model, x):
    with torch.no_grad():
        plain = model(x)
        with vit.recording_attention(model) as attentions:
            recorded = model(x)
    assert torch.allclose(plain, recorded, atol=1e-5)
    assert len(attentions) == 2 and attentions[0].shape == (1, 4, 65, 65)
    assert torch.allclose(attentions[0].sum(-1), torch.ones(1, 4, 65))
    assert "forward" not in vars(vit.find_vit(model).encoder.layers[0].self_attention)  # patch removed


def test_token_grid_puts_the_tokens_back_into_their_patches(model, x):
    net = vit.find_vit(model)
    with torch.no_grad():
        patches = net.conv_proj(model[0](x))  # (1, D, 8, 8): patch (i, j) at [:, :, i, j]
        tokens = torch.cat([torch.full((1, 1, patches.shape[1]), 7.0), net._process_input(model[0](x))], dim=1)
    assert torch.equal(vit.token_grid(tokens), patches)
    numbered = torch.arange(1 + 6 * 6, dtype=torch.float32).view(1, -1, 1)  # token k carries the number k
    assert torch.equal(vit.token_grid(numbered)[0, 0, 1, :3], torch.tensor([7.0, 8.0, 9.0]))  # row 1 starts at 7


def test_own_gradcam_matches_pytorch_grad_cam(model, x):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = vit.gradcam_layer(model)
    mine = vit.gradcam_tokens(model, x, 2, layer)
    with GradCAM(model, [layer], reshape_transform=vit.token_grid) as cam:
        library = torch.from_numpy(cam(x, targets=[ClassifierOutputTarget(2)]))
    scaled = (mine - mine.min()) / (mine.max() - mine.min() + 1e-7)
    upsampled = torch.nn.functional.interpolate(scaled[:, None], size=32, mode="bilinear", align_corners=False)[:, 0]
    upsampled = (upsampled - upsampled.min()) / (upsampled.max() + 1e-7)
    assert mine.shape == (1, 8, 8) and mine.max() > 0
    assert torch.allclose(upsampled, library, atol=1e-4)


def test_cascade_randomises_the_output_layer_alone_first(model, x):
    groups = vit.vit_cascade_groups(model)
    assert groups[0] == ["1.heads.head"]
    assert len(groups) == 2 + 2  # head, two blocks, embeddings
    assert all(name.startswith("1.encoder.layers.encoder_layer_1") for name in groups[1][1:])
    named = {name for name, module in model.named_modules() if list(module.parameters(recurse=False))}
    assert sorted(sum(groups, [])) == sorted(named)  # every parametrised module once
    rollout = vit.token_methods()["rollout"]
    results = randomization_sanity_check(model, x, 0, rollout, groups=groups)
    assert results[1][1] == pytest.approx(1.0)  # rollout does not read the output layer
    weighted = randomization_sanity_check(model, x, 0, vit.token_methods()["gradient-weighted rollout"], groups=groups)
    assert weighted[1][1] < 0.99


def test_token_methods_give_pixel_maps(model, x):
    for name, attribute in vit.token_methods().items():
        result = attribute(model, x, 1)
        assert result.shape == (1, 1, 32, 32), name
        assert torch.equal(result[0, 0, :4, :4], result[0, 0, 0, 0].expand(4, 4)), name  # one value per patch


def test_clear_errors_on_bad_input(model, x):
    with pytest.raises(ValueError, match="head_fusion 'max'"):
        vit.attention_rollout(identity_attention(), "max")
    with pytest.raises(ValueError, match="empty"):
        vit.attention_rollout([])
    with pytest.raises(ValueError, match="same shape"):
        vit.attention_rollout([torch.ones(1, 2, 5, 5), torch.ones(1, 2, 4, 4)])
    with pytest.raises(ValueError, match="one tensor per block"):
        vit.gradient_weighted_rollout(identity_attention(), [torch.zeros(1, 2, 5, 5)])
    with pytest.raises(ValueError, match="square grid"):
        vit.token_grid(torch.zeros(1, 1 + 5, 8))
    with pytest.raises(ValueError, match="tokens"):
        vit.token_grid(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="target out of range"):
        vit.attention_and_gradients(model, x, target=9)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        vit.attention_and_gradients(model, x[0])
    with pytest.raises(TypeError, match="no torchvision VisionTransformer"):
        vit.find_vit(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="unknown"):
        randomization_sanity_check(model, x, 0, vit.token_methods()["rollout"], groups=[["1.nope"]])


def test_tiny_vit_checkpoint_round_trip_and_clear_errors(tmp_path):
    from helpers.data import ImageDataset, InMemoryImages

    images = torch.randint(0, 256, (256, 3, 32, 32), dtype=torch.uint8)
    data = InMemoryImages(images, torch.arange(256) % 10)
    dataset = ImageDataset("toy", data, data, [str(k) for k in range(10)])
    training = {"epochs": 1, "batch_size": 64, "learning_rate": 1e-3, "seed": 0, "train_subset": 128}
    path = tmp_path / "vit.pt"
    model, meta, seconds = vit.load_or_train_tiny_vit(dataset, path, training)
    assert seconds is not None and meta["train_images"] == 128 and path.is_file()
    again, meta_again, seconds_again = vit.load_or_train_tiny_vit(dataset, path, training)
    assert seconds_again is None and meta_again["accuracy"] == meta["accuracy"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    with pytest.raises(FileNotFoundError, match="No tiny ViT checkpoint at .*missing.pt"):
        vit.load_tiny_vit(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint of the tiny ViT"):
        vit.load_tiny_vit(tmp_path / "bad.pt")


def test_vit_b_16_loads_cached_weights_and_its_maps_have_the_token_grid(capsys):
    import torchvision

    path = weights_cache_path("vit_b_16")
    assert path.name.startswith("vit_b_16-")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.get_model("vit_b_16", weights=None).state_dict(), path)
    classifier = load_classifier("vit_b_16")
    assert classifier.name == "vit_b_16" and not classifier.is_fallback and classifier.weights == str(path)
    assert "NOTICE" not in capsys.readouterr().out
    x = classifier.input_batch(sample_images(["coffee"])["coffee"])
    assert x.shape == (1, 3, 224, 224)
    attentions, gradients, logits = vit.attention_and_gradients(classifier.model, x, target=3)
    assert logits.shape == (1, 1000) and len(attentions) == 12 and attentions[0].shape == (1, 12, 197, 197)
    assert vit.class_token_map(vit.gradient_weighted_rollout(attentions, gradients)).shape == (1, 14, 14)
    assert vit.gradcam_tokens(classifier.model, x, 3, vit.gradcam_layer(classifier.model)).shape == (1, 14, 14)


def test_vit_b_16_missing_weights_fall_back_with_the_notice(capsys):
    classifier = load_classifier("vit_b_16")
    out = capsys.readouterr().out
    assert classifier.is_fallback and classifier.requested == "vit_b_16"
    assert "NOTICE: vit_b_16 was requested" in out and weights_cache_path("vit_b_16").name in out
    with pytest.raises(TypeError, match="no torchvision VisionTransformer"):
        vit.find_vit(classifier.model)


def test_unreadable_vit_b_16_weights_are_a_clear_error():
    path = weights_cache_path("vit_b_16")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"truncated")
    with pytest.raises(ValueError, match="could not be loaded.*Delete the file"):
        load_classifier("vit_b_16")
