import math

import pytest
import torch
import torch.nn.functional as F

from embeddings.classifier import windows
from embeddings.heads import ArcFaceHead, CosFaceHead, cross_entropy, focal_loss
from embeddings.models import get_model, list_models
from embeddings.schedule import lr_at


@pytest.mark.parametrize("head_cls", [ArcFaceHead, CosFaceHead])
def test_margin_heads_stay_finite_at_angles_0_and_pi(head_cls):
    head = head_cls(4, 3, scale=30, margin=0.5)
    w = F.normalize(head.weight.detach())
    x = torch.stack([w[0], -w[0], w[1] * 1e-3]).requires_grad_()  # theta = 0, theta = pi, tiny norm
    target = torch.tensor([0, 0, 1])
    logits = head(x, target)
    logits.sum().backward()
    assert torch.isfinite(logits).all() and torch.isfinite(x.grad).all()
    assert torch.isfinite(head.weight.grad).all()


def test_arcface_equals_cos_of_angle_plus_margin():
    torch.manual_seed(0)
    head = ArcFaceHead(8, 5, scale=30, margin=0.3)
    x, target = torch.randn(16, 8), torch.randint(0, 5, (16,))
    cos = F.linear(F.normalize(x), F.normalize(head.weight)).detach().double()
    theta = torch.acos(cos.clamp(-1, 1))
    expected = torch.where(F.one_hot(target, 5).bool() & (theta + 0.3 < math.pi), torch.cos(theta + 0.3), cos) * 30
    got = head(x, target).detach().double()
    in_range = (theta + 0.3 < math.pi)
    assert torch.allclose(got[in_range], expected[in_range], atol=1e-4)
    assert torch.allclose(head(x), 30 * cos.float(), atol=1e-4), "no margin at inference"


def test_cosface_subtracts_margin_from_target_only():
    head = CosFaceHead(4, 3, scale=10, margin=0.2)
    x = torch.randn(5, 4)
    target = torch.tensor([0, 1, 2, 0, 1])
    diff = head(x) - head(x, target)
    assert torch.allclose(diff, 10 * 0.2 * F.one_hot(target, 3).float(), atol=1e-5)


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, target = torch.randn(10, 6), torch.randint(0, 6, (10,))
    assert torch.allclose(focal_loss(logits, target, 0.05, 1.0, 0.0), cross_entropy(logits, target, 0.05), atol=1e-6)
    assert focal_loss(logits, target, 0.0, 1.0, 1.0) < cross_entropy(logits, target, 0.0)


def test_schedule_warmup_then_restarts_with_doubling_cycles():
    kw = dict(max_lr=2e-4, warmup=2, first_cycle=10, cycle_mult=2)
    assert lr_at(0, **kw) == 0 and lr_at(1, **kw) == pytest.approx(1e-4)
    assert lr_at(2, **kw) == pytest.approx(2e-4)                     # first cycle starts at max
    assert lr_at(7, **kw) == pytest.approx(1e-4)                     # half-way through 10 epochs
    assert lr_at(11.999, **kw) < 1e-8                                # anneals to 0 ...
    assert lr_at(12, **kw) == pytest.approx(2e-4)                    # ... and restarts
    assert lr_at(22, **kw) == pytest.approx(1e-4)                    # second cycle lasts 20 epochs
    assert lr_at(32, **kw) == pytest.approx(2e-4)                    # third starts after 2 + 10 + 20
    lrs = [lr_at(e / 10, **kw) for e in range(20, 120)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:])), "monotone within a cycle"


# every registered backbone and its embedding width: a new one fails the first test until it has its line here
WIDTHS = {"iresnet50": 512, "iresnet18": 512, "iresnet_small": 128, "resnet50": 2048, "resnet_small": 512}


def test_every_registered_backbone_has_a_width_case():
    assert set(list_models()) == set(WIDTHS)


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_backbones_give_one_embedding_per_clip(name):
    dim = WIDTHS[name]
    model = get_model(name, input_size=(128, 64)).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 128, 64)).shape == (2, dim)


def test_windows_cover_the_clip():
    assert windows(20, 32) == [0]
    assert windows(64, 32) == [0, 16, 32]
    assert windows(70, 32) == [0, 16, 32, 38]
    with pytest.raises(KeyError, match="unknown model"):
        get_model("resnet5000")


def test_stem_max_pool_equals_torch_max_pool_in_values_and_gradients():
    """The channels-last stem pooling must be the same function: ties (zeros after ReLU) included."""
    from embeddings.models.resnet import StemMaxPool
    torch.manual_seed(0)
    x = torch.relu(torch.randn(5, 4, 17, 12))
    x[:, :, ::3] = 0
    grad = torch.randn(5, 4, 9, 6)
    outs = []
    for pool in (torch.nn.MaxPool2d(3, 2, 1), StemMaxPool()):
        leaf = x.clone().requires_grad_(True)
        y = pool(leaf)
        y.backward(grad)
        outs.append((y.detach(), leaf.grad))
    assert torch.equal(outs[0][0], outs[1][0])
    assert torch.equal(outs[0][1], outs[1][1])
