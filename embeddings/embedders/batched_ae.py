"""The baseline autoencoders of several machine types trained together, as one batched model.

Each type keeps its own data, initial weights, batch order (its own generator), validation split, BatchNorm
statistics and Adam state, so each comes out as the model `train_autoencoder` trains for it alone; but every
step runs one batched matrix product per layer for all types at once, which is what a CPU needs for these
small layers (the one-at-a-time loop spends its time on per-step overhead, not arithmetic). The backward pass
is written out: torch's `bmm` for the products, `ae_kernels`' fused loops for BatchNorm, ReLU, the loss and
Adam. A type whose batches are used up, or whose batch holds one vector (BatchNorm needs two, as the loop skips
it), sits a step out: its weights, statistics and Adam state do not move.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from embeddings.embedders import ae_kernels
from embeddings.embedders.ae_model import DenseAutoencoder

BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which `train_autoencoder` uses


@dataclass
class Layer:
    """One layer of K stacked models: Linear weight (K, out, in) and bias (K, out); for a hidden layer also its
    BatchNorm's gamma, beta and running statistics (K, out)."""
    weight: torch.Tensor
    bias: torch.Tensor
    norm: nn.BatchNorm1d | None = None
    gamma: torch.Tensor | None = None
    beta: torch.Tensor | None = None
    mean: torch.Tensor | None = None
    var: torch.Tensor | None = None

    def params(self) -> list[torch.Tensor]:
        return [t for t in (self.weight, self.bias, self.gamma, self.beta) if t is not None]


def _stack(models: list[DenseAutoencoder]) -> list[Layer]:
    layers = []
    for i, block in enumerate(models[0].net):
        hidden = isinstance(block, nn.Sequential)
        linears = [m.net[i][0] if hidden else m.net[i] for m in models]
        layer = Layer(torch.stack([lin.weight.detach() for lin in linears]).clone(),
                      torch.stack([lin.bias.detach() for lin in linears]).clone())
        if hidden:
            norms = [m.net[i][1] for m in models]
            layer.norm = norms[0]
            layer.gamma, layer.beta, layer.mean, layer.var = (
                torch.stack([getattr(bn, key).detach() for bn in norms]).clone()
                for key in ("weight", "bias", "running_mean", "running_var"))
        layers.append(layer)
    return layers


def _unstack(layers: list[Layer], models: list[DenseAutoencoder], steps: torch.Tensor) -> None:
    with torch.no_grad():
        for k, model in enumerate(models):
            for layer, block in zip(layers, model.net):
                linear = block[0] if isinstance(block, nn.Sequential) else block
                linear.weight.copy_(layer.weight[k])
                linear.bias.copy_(layer.bias[k])
                if layer.norm is not None:
                    bn = block[1]
                    bn.weight.copy_(layer.gamma[k])
                    bn.bias.copy_(layer.beta[k])
                    bn.running_mean.copy_(layer.mean[k])
                    bn.running_var.copy_(layer.var[k])
                    bn.num_batches_tracked.fill_(int(steps[k]))
            model.eval()


class _Step:
    """Forward, backward and update of one batch of every model; buffers are kept between steps."""

    def __init__(self, layers: list[Layer], lr: float):
        self.layers, self.lr = layers, lr
        self.params = [p for layer in layers for p in layer.params()]
        self.grads = [torch.zeros_like(p) for p in self.params]
        # numpy views, made once: the kernels take arrays, and a step would otherwise make hundreds of them
        self.adam_arrays = [tuple(t.numpy().reshape(len(p), -1) for t in (p, g, torch.zeros_like(p), torch.zeros_like(p)))
                            for p, g in zip(self.params, self.grads)]
        self.norms = [(layer.gamma.numpy(), layer.beta.numpy(), layer.mean.numpy(), layer.var.numpy(),
                       np.empty(layer.gamma.shape), np.empty(layer.gamma.shape)) for layer in layers[:-1]]

    def __call__(self, x: torch.Tensor, n: torch.Tensor, steps: torch.Tensor) -> np.ndarray:
        """x (K, rows, d), each model's first n[k] rows its batch; returns each model's loss (0 when it sits out)."""
        count = n.numpy()
        saved, h = [], x
        for layer, (gamma, beta, running_mean, running_var, mean, var) in zip(self.layers, self.norms):
            z = torch.baddbmm(layer.bias[:, None, :], h, layer.weight.transpose(1, 2))
            y = torch.empty_like(z)
            ae_kernels.batch_norm_relu(z.numpy(), count, gamma, beta, layer.norm.eps, y.numpy(), mean, var,
                                       running_mean, running_var, layer.norm.momentum)
            saved.append((h, z))
            h = y
        last = self.layers[-1]
        out = torch.baddbmm(last.bias[:, None, :], h, last.weight.transpose(1, 2))
        dout = torch.empty_like(out)
        losses = np.empty(len(count))
        ae_kernels.mse_and_gradient(out.numpy(), x.numpy(), count, dout.numpy(), losses)
        grads = iter(reversed(self.grads))  # filled in reverse parameter order: beta, gamma, bias, weight per layer
        delta = dout
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            h_in = saved[i][0] if i < len(saved) else h
            if layer.norm is not None:  # delta is the gradient at this layer's output y: back through BN and ReLU
                z = saved[i][1]
                gamma, beta, _, _, mean, var = self.norms[i]
                d_beta, d_gamma, d_bias = next(grads), next(grads), next(grads)
                dz = torch.empty_like(z)
                ae_kernels.batch_norm_relu_backward(delta.numpy(), z.numpy(), count, mean, var, gamma, beta,
                                                    layer.norm.eps, dz.numpy(), d_gamma.numpy(), d_beta.numpy(),
                                                    d_bias.numpy())
                delta = dz
            else:
                d_bias = next(grads)
                torch.sum(delta, 1, out=d_bias)
            torch.bmm(delta.transpose(1, 2), h_in, out=next(grads))
            if i:
                delta = torch.bmm(delta, layer.weight)
        active = count > 1
        steps += torch.from_numpy(active)
        self._adam(steps.numpy(), active)
        return losses

    def _adam(self, steps: np.ndarray, active: np.ndarray) -> None:
        beta1, beta2 = BETAS
        t = np.maximum(steps, 1).astype(np.float64)
        step_size = self.lr / (1 - beta1 ** t)
        correction2 = np.sqrt(1 - beta2 ** t)
        for arrays in self.adam_arrays:
            ae_kernels.adam(*arrays, step_size, correction2, active, beta1, beta2, ADAM_EPS)


def _evaluate(layers: list[Layer], k: int, x: torch.Tensor) -> torch.Tensor:
    """Model k in evaluation mode (running statistics), as `DenseAutoencoder.eval()` computes it."""
    h = x
    for layer in layers:
        h = torch.addmm(layer.bias[k], h, layer.weight[k].T)
        if layer.norm is not None:
            h = torch.relu((h - layer.mean[k]) / torch.sqrt(layer.var[k] + layer.norm.eps) * layer.gamma[k]
                           + layer.beta[k])
    return h


def train_autoencoders(data: list[tuple[torch.Tensor, torch.Tensor]], epochs: int, batch_size: int, lr: float,
                       seed: int, desc: str = "ae") -> list[tuple[DenseAutoencoder, list[dict]]]:
    """`train_autoencoder` for each (fit, held) pair of `data` (one per machine type, the same vector size), all at
    once: each returned model equals the one trained alone, to float rounding."""
    models = []
    for fit, _ in data:
        torch.manual_seed(seed)  # each type starts where it would alone
        models.append(DenseAutoencoder(fit.shape[1]).to(fit.dtype))
    layers = _stack(models)
    step = _Step(layers, lr)
    k_models, dim = len(data), data[0][0].shape[1]
    sizes = [len(fit) for fit, _ in data]
    pool = torch.zeros(k_models, max(sizes) + 1, dim, dtype=data[0][0].dtype)  # last row 0: padding's source
    for k, (fit, _) in enumerate(data):
        pool[k, :len(fit)] = fit
    generators = [torch.Generator().manual_seed(seed) for _ in data]
    steps = torch.zeros(k_models, dtype=torch.long)
    logs = [[] for _ in data]
    flat, offsets = pool.view(-1, dim), torch.arange(k_models)[:, None] * pool.shape[1]
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", leave=False):
        batches = [torch.randperm(n, generator=g).split(batch_size) for n, g in zip(sizes, generators)]
        totals = np.zeros(k_models)
        for i in range(max(len(b) for b in batches)):
            chosen = [b[i] if i < len(b) and len(b[i]) > 1 else torch.empty(0, dtype=torch.long) for b in batches]
            width = max(len(c) for c in chosen)
            index = torch.full((k_models, width), pool.shape[1] - 1, dtype=torch.long)
            for k, c in enumerate(chosen):
                index[k, :len(c)] = c
            n = torch.tensor([len(c) for c in chosen])
            x = torch.index_select(flat, 0, (index + offsets).view(-1)).view(k_models, width, dim)  # rows gathered
            losses = step(x, n, steps)
            totals += losses * n.numpy()
        with torch.no_grad():
            for k, (_, held) in enumerate(data):
                val = float(nn.functional.mse_loss(_evaluate(layers, k, held), held)) if len(held) else float("nan")
                logs[k].append({"epoch": epoch + 1, "loss": float(totals[k]) / sizes[k], "val_loss": val})
    _unstack(layers, models, steps)
    return list(zip(models, logs))
