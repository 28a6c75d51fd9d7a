"""The baseline autoencoders of several machine types trained together, as one batched model.

Each type keeps its own data, initial weights, batch order (its own generator), validation split, BatchNorm
statistics and Adam state, so each comes out as the model `train_autoencoder` trains for it alone; but every
step runs one batched matrix product per layer for all types at once, which is what a CPU needs for these
small layers (the one-at-a-time loop spends its time on per-step overhead, not arithmetic). A type whose
batches are used up, or whose batch holds one vector (BatchNorm needs two, as the loop skips it), sits a step
out: its weights, statistics and Adam state do not move.
"""
from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from embeddings.embedders.autoencoder import DenseAutoencoder

BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which `train_autoencoder` uses


def _stack(models: list[DenseAutoencoder]) -> tuple[list[dict], list[torch.Tensor]]:
    """Per layer, its parameters and BatchNorm buffers stacked over the models (leading dimension K)."""
    layers = []
    for i, block in enumerate(models[0].net):
        group = [m.net[i] for m in models]
        layer = {"weight": torch.stack([(g[0] if isinstance(g, nn.Sequential) else g).weight.detach() for g in group]),
                 "bias": torch.stack([(g[0] if isinstance(g, nn.Sequential) else g).bias.detach() for g in group])}
        if isinstance(block, nn.Sequential):
            norm = block[1]
            layer.update(gamma=torch.stack([g[1].weight.detach() for g in group]),
                         beta=torch.stack([g[1].bias.detach() for g in group]),
                         mean=torch.stack([g[1].running_mean for g in group]).clone(),
                         var=torch.stack([g[1].running_var for g in group]).clone(), eps=norm.eps,
                         momentum=norm.momentum)
        layers.append(layer)
    params = []
    for layer in layers:
        for key in ("weight", "bias", "gamma", "beta"):
            if key in layer:
                layer[key] = layer[key].clone().requires_grad_(True)
                params.append(layer[key])
    return layers, params


def _forward(layers: list[dict], x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(K, B, d) -> (K, B, d). With `mask` (K, B): training, BatchNorm on each model's own real rows (and its
    running statistics updated where a model has two rows or more); without: evaluation, running statistics."""
    h = x
    full = mask is not None and bool((mask > 0).all())
    for layer in layers:
        h = torch.baddbmm(layer["bias"][:, None, :], h, layer["weight"].transpose(1, 2))
        if "gamma" not in layer:
            continue
        if mask is None:
            mean, var = layer["mean"][:, None, :], layer["var"][:, None, :]
        elif full:  # every model a batch of the same size: torch's own BatchNorm over (batch, model x channel)
            k, b, c = h.shape
            flat = nn.functional.batch_norm(h.transpose(0, 1).reshape(b, k * c), layer["mean"].view(-1),
                                            layer["var"].view(-1), layer["gamma"].reshape(-1), layer["beta"].reshape(-1),
                                            training=True, momentum=layer["momentum"], eps=layer["eps"])
            h = torch.relu(flat.reshape(b, k, c).transpose(0, 1))
            continue
        else:
            n = mask.sum(1).clamp_min(1)[:, None]
            w = mask[..., None]
            batch_mean = (h * w).sum(1) / n
            batch_var = (((h - batch_mean[:, None, :]) ** 2) * w).sum(1) / n
            with torch.no_grad():
                active = (mask.sum(1) > 1)[:, None]
                unbiased = batch_var * n / (n - 1).clamp_min(1)
                m = layer["momentum"]
                layer["mean"].copy_(torch.where(active, (1 - m) * layer["mean"] + m * batch_mean, layer["mean"]))
                layer["var"].copy_(torch.where(active, (1 - m) * layer["var"] + m * unbiased, layer["var"]))
            mean, var = batch_mean[:, None, :], batch_var[:, None, :]
        h = torch.relu((h - mean) / torch.sqrt(var + layer["eps"]) * layer["gamma"][:, None, :] + layer["beta"][:, None, :])
    return h


def _unstack(layers: list[dict], models: list[DenseAutoencoder], steps: torch.Tensor) -> None:
    with torch.no_grad():
        for k, model in enumerate(models):
            for layer, block in zip(layers, model.net):
                linear = block[0] if isinstance(block, nn.Sequential) else block
                linear.weight.copy_(layer["weight"][k])
                linear.bias.copy_(layer["bias"][k])
                if isinstance(block, nn.Sequential):
                    block[1].weight.copy_(layer["gamma"][k])
                    block[1].bias.copy_(layer["beta"][k])
                    block[1].running_mean.copy_(layer["mean"][k])
                    block[1].running_var.copy_(layer["var"][k])
                    block[1].num_batches_tracked.fill_(int(steps[k]))
            model.eval()


def train_autoencoders(data: list[tuple[torch.Tensor, torch.Tensor]], epochs: int, batch_size: int, lr: float,
                       seed: int, desc: str = "ae") -> list[tuple[DenseAutoencoder, list[dict]]]:
    """`train_autoencoder` for each (fit, held) pair of `data` (one per machine type, the same vector size), all at
    once: each returned model equals the one trained alone, to float rounding."""
    models = []
    for fit, _ in data:
        torch.manual_seed(seed)  # each type starts where it would alone
        models.append(DenseAutoencoder(fit.shape[1]).to(fit.dtype))
    layers, params = _stack(models)
    k_models, dim = len(data), data[0][0].shape[1]
    sizes = torch.tensor([len(fit) for fit, _ in data])
    pool = torch.zeros(k_models, int(sizes.max()) + 1, dim, dtype=data[0][0].dtype)  # last row 0: padding's source
    for k, (fit, _) in enumerate(data):
        pool[k, :len(fit)] = fit
    generators = [torch.Generator().manual_seed(seed) for _ in data]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    steps = torch.zeros(k_models, dtype=torch.long)
    logs = [[] for _ in data]
    rows = torch.arange(k_models)[:, None]
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", leave=False):
        batches = [torch.randperm(int(n), generator=g).split(batch_size) for n, g in zip(sizes, generators)]
        totals = torch.zeros(k_models, dtype=torch.float64)
        for step in range(max(len(b) for b in batches)):
            chosen = [b[step] if step < len(b) and len(b[step]) > 1 else torch.empty(0, dtype=torch.long) for b in batches]
            width = max(len(c) for c in chosen)
            index = torch.full((k_models, width), pool.shape[1] - 1, dtype=torch.long)
            mask = torch.zeros(k_models, width, dtype=pool.dtype)
            for k, c in enumerate(chosen):
                index[k, :len(c)], mask[k, :len(c)] = c, 1.0
            x = pool[rows, index]
            counts = mask.sum(1)
            active = counts > 1
            out = _forward(layers, x, mask)
            losses = (((out - x) ** 2) * mask[..., None]).sum((1, 2)) / (counts.clamp_min(1) * dim)
            for p in params:
                p.grad = None
            losses.sum().backward()
            steps += active.long()
            _adam(params, moments, steps, active, lr)
            totals += torch.where(active, losses.detach().double() * counts.double(), 0.0)
        with torch.no_grad():
            for k, (_, held) in enumerate(data):
                val = float(nn.functional.mse_loss(_forward([_slice(layer, k) for layer in layers], held[None], None)[0],
                                                   held)) if len(held) else float("nan")
                logs[k].append({"epoch": epoch + 1, "loss": float(totals[k]) / int(sizes[k]), "val_loss": val})
    _unstack(layers, models, steps)
    return list(zip(models, logs))


def _slice(layer: dict, k: int) -> dict:
    return {key: value[k:k + 1] if isinstance(value, torch.Tensor) else value for key, value in layer.items()}


def _adam(params, moments, steps: torch.Tensor, active: torch.Tensor, lr: float) -> None:
    """torch.optim.Adam's update, per model: its own step count, and no change at all where it sat the step out."""
    beta1, beta2 = BETAS
    t = steps.clamp_min(1).double()
    step_size = (lr / (1 - beta1 ** t)).to(params[0].dtype)
    correction2 = torch.sqrt(1 - beta2 ** t).to(params[0].dtype)
    everyone = bool(active.all())
    with torch.no_grad():
        for p, (m, v) in zip(params, moments):
            shape = (-1,) + (1,) * (p.dim() - 1)
            g = p.grad
            if everyone:
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                p.sub_(m / (v.sqrt() / correction2.view(shape) + ADAM_EPS) * step_size.view(shape))
                continue
            on = active.view(shape)
            m.copy_(torch.where(on, m.lerp(g, 1 - beta1), m))
            v.copy_(torch.where(on, v * beta2 + (1 - beta2) * g * g, v))
            update = m / (v.sqrt() / correction2.view(shape) + ADAM_EPS) * step_size.view(shape)
            p.sub_(torch.where(on, update, torch.zeros_like(update)))
