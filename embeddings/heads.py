"""Classification heads (ArcFace, CosFace, linear) and losses (cross-entropy, focal), all label-smoothed."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LinearHead(nn.Linear):
    """Plain softmax classifier; `target` is accepted and ignored so all heads share one call."""

    def forward(self, x, target=None):
        return super().forward(x)


class MarginHead(nn.Module):
    """Cosine classifier s * cos(theta) with a margin applied to the target class while training."""

    def __init__(self, in_features: int, num_classes: int, scale: float = 30.0, margin: float = 0.05):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.xavier_uniform_(self.weight)
        self.scale, self.margin = scale, margin

    def cosine(self, x):
        return F.linear(F.normalize(x.float()), F.normalize(self.weight.float()))

    def target_logit(self, cos):
        raise NotImplementedError

    def forward(self, x, target=None):
        cos = self.cosine(x)
        if target is None:
            return self.scale * cos
        one_hot = F.one_hot(target, cos.shape[1]).bool()
        return self.scale * torch.where(one_hot, self.target_logit(cos), cos)


class ArcFaceHead(MarginHead):
    """Additive angular margin: cos(theta + m) for the target class."""

    def target_logit(self, cos):
        cos = cos.clamp(-1.0, 1.0)
        # sqrt'(0) is infinite: keep 1 - cos^2 away from 0 so angles near 0 and pi stay finite.
        sin = torch.sqrt((1.0 - cos * cos).clamp_min(1e-6))
        phi = cos * math.cos(self.margin) - sin * math.sin(self.margin)
        # past theta = pi - m, cos(theta + m) is no longer decreasing: fall back to CosFace's penalty there
        return torch.where(cos > math.cos(math.pi - self.margin), phi, cos - math.sin(math.pi - self.margin) * self.margin)


class CosFaceHead(MarginHead):
    """Additive cosine margin: cos(theta) - m for the target class."""

    def target_logit(self, cos):
        return cos - self.margin


HEADS = {"arcface": ArcFaceHead, "cosface": CosFaceHead, "linear": LinearHead}


def soft_targets(target, num_classes, smoothing):
    return F.one_hot(target, num_classes).float() * (1 - smoothing) + smoothing / num_classes


def cross_entropy(logits, target, smoothing=0.0, **_):
    return F.cross_entropy(logits.float(), target, label_smoothing=smoothing)


def focal_loss(logits, target, smoothing=0.0, alpha=1.0, gamma=1.0):
    """Focal loss -alpha * (1 - p)^gamma * log p, summed against label-smoothed targets."""
    logp = F.log_softmax(logits.float(), dim=1)
    weight = alpha * (1 - logp.exp()).pow(gamma)
    return -(soft_targets(target, logits.shape[1], smoothing) * weight * logp).sum(1).mean()


LOSSES = {"ce": cross_entropy, "focal": focal_loss}
