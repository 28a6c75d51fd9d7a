"""ResNets on 1-channel log-mel input.

`iresnet*`: the ArcFace paper's improved residual unit (BN-Conv-BN-PReLU-Conv-BN) and the
BN-Dropout-FC-BN embedding head, for margin losses. `resnet*`: the standard bottleneck ResNet with
global average pooling, for plain softmax cross-entropy and focal loss. Both take
(batch, 1, n_mels, frames) and return one embedding per input.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from embeddings.models.registry import register_model


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride, bias=False)


def downsample(cin, cout, stride):
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


class _ChannelsLastMaxPool(torch.autograd.Function):
    """3x3/2 max-pooling, padded 1, whose forward runs on a channels-last copy: on the CPU torch's channels-first
    kernel is about 5x slower here. A maximum is exact, and the indices (first maximum in window order, as the
    channels-first kernel picks) are the same, so outputs and gradients are bit-identical to `nn.MaxPool2d`'s."""

    @staticmethod
    def forward(ctx, x):
        y, index = nn.functional.max_pool2d_with_indices(x.contiguous(memory_format=torch.channels_last), 3, 2, 1)
        index = index.contiguous()
        ctx.save_for_backward(x, index)
        return y.contiguous()

    @staticmethod
    def backward(ctx, grad):
        x, index = ctx.saved_tensors
        return torch.ops.aten.max_pool2d_with_indices_backward(grad.contiguous(), x, [3, 3], [2, 2], [1, 1], [1, 1],
                                                               False, index)


class StemMaxPool(nn.MaxPool2d):
    """`nn.MaxPool2d(3, 2, 1)`, through `_ChannelsLastMaxPool` on the CPU."""

    def __init__(self):
        super().__init__(3, 2, 1)

    def forward(self, x):
        if x.is_cuda or x.dim() != 4:
            return super().forward(x)
        return _ChannelsLastMaxPool.apply(x)


class IRBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), conv3x3(cin, cout), nn.BatchNorm2d(cout), nn.PReLU(cout),
                                  conv3x3(cout, cout, stride), nn.BatchNorm2d(cout))
        self.shortcut = downsample(cin, cout, stride)

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride=1):
        super().__init__()
        cout = width * self.expansion
        self.body = nn.Sequential(conv1x1(cin, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  conv3x3(width, width, stride), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  conv1x1(width, cout), nn.BatchNorm2d(cout))
        self.shortcut = downsample(cin, cout, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


class ResNetBase(nn.Module):
    """Stem (conv 7x7/2 + max-pool: log-mel frames are cheap to downsample) and four stages."""

    def __init__(self, block, layers, widths, planes=1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(planes, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True), StemMaxPool())
        stages, cin = [], widths[0]
        for i, (n, w) in enumerate(zip(layers, widths)):
            stages.append(self._make_layer(block, cin, w, n, stride=1 if i == 0 else 2))
            cin = w * block.expansion
        self.stages = nn.Sequential(*stages)
        self.out_channels = cin

    @staticmethod
    def _make_layer(block, cin, width, n, stride):
        blocks = [block(cin, width, stride)]
        blocks += [block(width * block.expansion, width) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def features(self, x):
        return self.stages(self.stem(x))


class IResNet(ResNetBase):
    def __init__(self, layers, widths=(64, 128, 256, 512), num_features=512, input_size=(128, 64), dropout=0.2, planes=1):
        super().__init__(IRBlock, layers, widths, planes)
        with torch.no_grad():
            fmap = self.features(torch.zeros(1, planes, *input_size)).shape[1:]
        self.num_features = num_features
        self.head = nn.Sequential(nn.BatchNorm2d(fmap[0]), nn.Dropout(dropout), nn.Flatten(),
                                  nn.Linear(fmap.numel(), num_features), nn.BatchNorm1d(num_features))

    def forward(self, x):
        return self.head(self.features(x))


class ResNet(ResNetBase):
    def __init__(self, layers, widths=(64, 128, 256, 512), input_size=None, planes=1, **_):
        super().__init__(Bottleneck, layers, widths, planes)
        self.num_features = self.out_channels
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.head(self.features(x))


@register_model()
def iresnet50(**kwargs) -> IResNet:
    """IR-ResNet50 (the ArcFace paper's ResNet50), 512-d embedding."""
    return IResNet([3, 4, 14, 3], **kwargs)


@register_model()
def iresnet18(**kwargs) -> IResNet:
    """IR-ResNet18, 512-d embedding."""
    return IResNet([2, 2, 2, 2], **kwargs)


@register_model()
def iresnet_small(**kwargs) -> IResNet:
    """One IR unit per stage at a quarter of the width: trains in minutes on 2 CPU cores."""
    kwargs.setdefault("num_features", 128)
    return IResNet([1, 1, 1, 1], widths=(16, 32, 64, 128), **kwargs)


@register_model()
def resnet50(**kwargs) -> ResNet:
    """Standard bottleneck ResNet50, 2048-d pooled embedding."""
    return ResNet([3, 4, 6, 3], **kwargs)


@register_model()
def resnet_small(**kwargs) -> ResNet:
    """Bottleneck ResNet, one block per stage at a quarter width, 512-d pooled embedding."""
    return ResNet([1, 1, 1, 1], widths=(16, 32, 64, 128), **kwargs)
