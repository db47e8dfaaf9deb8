import pytest
import torch

from tinyvision.errors import TinyVisionError
from tinyvision.models import MODELS, count_parameters, create_model


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_every_model_builds_and_runs_forward_and_backward(name, shape):
    model = create_model(name, shape, num_classes=7)
    x = torch.randn(4, *shape)
    logits = model(x)
    assert logits.shape == (4, 7)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_tutorial_models_match_the_reference_recipes():
    # conv 1->32 (+BN) and 32->64 (+BN), FC 7*7*64->128, FC 128->10: 421,834 weights.
    assert count_parameters(create_model("tutorial-a", (1, 28, 28), 10)) == 421_834
    # valid convs: 28->26->13->11->5, FC 64*5*5->128->10: 225,034 weights.
    assert count_parameters(create_model("tutorial-b", (1, 28, 28), 10)) == 225_034
    a = create_model("tutorial-a", (1, 28, 28), 10)
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in a.modules())


def test_unknown_model_is_a_user_error():
    with pytest.raises(TinyVisionError, match="unknown model 'resnet9000'"):
        create_model("resnet9000", (1, 28, 28), 10)


def test_flip_tta_lives_in_the_inference_path_not_in_the_model():
    """tvresnet returns its own logits; the photos' flip TTA (model card) makes predictions mirror-invariant."""
    from tinyvision.inference import TTA, InferenceGraph
    from tinyvision.normalization import Normalization

    model = create_model("tvresnet", (3, 32, 32), 10).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x.flip(3)), atol=1e-5)
        graph = InferenceGraph(model, Normalization.uniform(3, 0.5, 0.25), TTA(flip=True)).eval()
        assert torch.allclose(graph(x), graph(x.flip(3)), atol=1e-5)


@pytest.mark.parametrize("name", sorted(set(MODELS) - {"mlp", "tutorial-a"}))
def test_images_too_small_for_a_model_are_refused_naming_the_smallest_size(name):
    # A pooling that would shrink a 4x4 image to nothing is found before any weight exists.
    with pytest.raises(TinyVisionError, match=rf"^{name} needs images of at least \d+x\d+, got 4x4") as refused:
        create_model(name, (3, 4, 4), 2)
    side = int(str(refused.value).split("at least ")[1].split("x")[0])
    assert create_model(name, (3, side, side), 2).eval()(torch.zeros(2, 3, side, side)).shape == (2, 2)
    with pytest.raises(TinyVisionError):
        create_model(name, (3, side - 1, side - 1), 2)
