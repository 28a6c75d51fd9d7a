"""The official autoencoder baselines' network (2020 and 2023 alike)."""
from __future__ import annotations

from torch import nn


class DenseAutoencoder(nn.Module):
    """d-128-128-128-128-8-128-128-128-128-d; every hidden layer Linear, BatchNorm, ReLU."""

    def __init__(self, dim: int = 320, width: int = 128, bottleneck: int = 8):
        super().__init__()
        sizes = [dim, width, width, width, width, bottleneck, width, width, width, width]
        # Keras' BatchNormalization defaults (momentum 0.99 of the old statistics, eps 1e-3), which both baselines use
        hidden = [nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b, eps=1e-3, momentum=0.01), nn.ReLU())
                  for a, b in zip(sizes, sizes[1:])]
        self.net = nn.Sequential(*hidden, nn.Linear(width, dim))

    def forward(self, x):
        return self.net(x)
