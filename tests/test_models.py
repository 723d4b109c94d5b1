import pytest
import sys

import torch
import torchvision

from helpers import models
from helpers.data import sample_images
from helpers.models import (
    WeightsUnavailable, cifar_cnn, load_cifar_cnn, load_classifier, save_checkpoint, weights_cache_path,
)

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}


@pytest.fixture(scope="module")
def lite0():
    return load_classifier("efficientnet_lite0")


def fake_cached_weights(name):
    """Save a randomly initialised state dict under torchvision's file name in TORCH_HOME."""
    path = weights_cache_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.get_model(name, weights=None).state_dict(), path)
    return path


def test_offline_model_recognises_real_photos(lite0):
    photos = sample_images(["chelsea", "coffee", "motorcycle"])
    top1 = {name: lite0.top_k(lite0.input_batch(image), k=1)[0][0] for name, image in photos.items()}
    assert top1["chelsea"] in CAT_CLASSES
    assert top1["coffee"] == "espresso"
    assert top1["motorcycle"] in {"moped", "motor scooter"}


def test_offline_model_shape_and_layers(lite0):
    assert lite0.name == lite0.requested == "efficientnet_lite0" and not lite0.is_fallback
    assert len(lite0.categories) == 1000 and lite0.categories[285] == "Egyptian cat"
    assert lite0.shallow_layer == "_blocks.4" and lite0.deep_layer == "_blocks.15"
    x = lite0.input_batch(sample_images(["rocket"])["rocket"])
    assert x.shape == (1, 3, 224, 224) and 0 <= x.min() and x.max() <= 1


def test_top_k_refuses_a_batch_instead_of_using_its_first_image(lite0):
    x = lite0.input_batch(sample_images(["rocket"])["rocket"])
    with pytest.raises(ValueError, match=r"top_k takes one image.*got \(2, 3, 224, 224\)"):
        lite0.top_k(torch.cat([x, x]))
    assert not lite0.model.training


def test_classifiers_use_channels_last_on_the_cpu_and_give_the_same_logits(lite0):
    conv = next(p for p in lite0.model.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    x = lite0.input_batch(sample_images(["coffee"])["coffee"])
    with torch.no_grad():
        fast = lite0.model(x)
        plain = lite0.model.to(memory_format=torch.contiguous_format)(x)
    lite0.to("cpu")  # back to channels_last, through Classifier.to
    assert next(p for p in lite0.model.parameters() if p.dim() == 4).is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(fast, plain, atol=1e-4)


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "densenet121", "resnet50"])
def test_cached_torchvision_weights_are_used(name, capsys):
    path = fake_cached_weights(name)
    classifier = load_classifier(name)
    assert classifier.name == name and not classifier.is_fallback
    assert classifier.weights == str(path)
    assert list(classifier.layers) == models.TORCHVISION_LAYERS[name]
    assert len(classifier.categories) == 1000
    x = classifier.input_batch(sample_images(["coffee"])["coffee"])
    assert x.shape == (1, 3, 224, 224)
    assert classifier.model(x).shape == (1, 1000)
    assert "NOTICE" not in capsys.readouterr().out


def test_fallback_prints_one_clear_notice(capsys):
    first = load_classifier("resnet50")
    second = load_classifier("resnet50")
    out = capsys.readouterr().out
    assert first.name == second.name == "efficientnet_lite0" and first.requested == "resnet50"
    assert first.is_fallback
    assert out.count("NOTICE") == 1
    assert "resnet50" in out and "offline mode is on" in out and str(weights_cache_path("resnet50").parent) in out


def test_without_fallback_missing_weights_raise_with_the_expected_path():
    with pytest.raises(WeightsUnavailable, match="mobilenet_v3_large-.*pth"):
        load_classifier("mobilenet_v3_large", allow_fallback=False)


def test_failed_download_falls_back(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "0")

    def no_network(self, *args, **kwargs):
        sys.stderr.write('Downloading: "https://download.pytorch.org/models/x.pth" to /root/.cache/torch/x.pth\n')
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", no_network)
    classifier = load_classifier("densenet121")
    assert classifier.is_fallback
    out, err = capsys.readouterr()
    assert "download failed (OSError: network unreachable)" in out
    assert "Downloading" not in out + err and "/root" not in out + err  # no machine path in a notebook's output


def test_corrupt_cached_weights_are_a_clear_error():
    path = weights_cache_path("mobilenet_v3_large")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be loaded.*Delete the file"):
        load_classifier("mobilenet_v3_large")


def test_unknown_model_lists_the_choices():
    with pytest.raises(ValueError, match="Unknown model 'vgg16'.*resnet50"):
        load_classifier("vgg16")


def test_cifar_cnn_checkpoint_round_trip(tmp_path):
    model = cifar_cnn()
    x = torch.rand(2, 3, 32, 32)
    assert model(x).shape == (2, 10)
    path = save_checkpoint(model, tmp_path / "cnn.pt", classes=list("abcdefghij"), accuracy=0.5)
    loaded, meta = load_cifar_cnn(path)
    assert meta["accuracy"] == 0.5
    assert torch.allclose(loaded(x), model.eval()(x))


def test_missing_or_bad_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No tutorial CNN checkpoint at .*none.pt"):
        load_cifar_cnn(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_text("junk")
    with pytest.raises(ValueError, match="bad.pt is not a checkpoint"):
        load_cifar_cnn(tmp_path / "bad.pt")


def test_memory_layout_is_channels_last_only_on_the_cpu():
    assert models.memory_format_for(torch.device("cpu")) == torch.channels_last
    assert models.memory_format_for(torch.device("cuda")) == torch.contiguous_format
    assert models.memory_format_for(torch.device("mps")) == torch.contiguous_format
