"""Fused CPU loops for the batched baseline autoencoders: BatchNorm + ReLU forward and backward, the MSE loss
and Adam, each one or two passes over its arrays instead of the five to ten of their op-by-op versions.

The matrix products stay with torch (MKL runs them at this CPU's peak); what these replace was over half of a
training step. Arrays are (K models, rows, channels); each model's first `n[k]` rows are its batch and the rest
padding (a model with fewer than two rows sits the step out: zero output, zero gradients, no update). Sums are
taken in float64, so results differ from torch's float32 kernels by rounding only; tests pin both against
`train_autoencoder`'s nn.Module loop.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

JIT = {"cache": True, "parallel": True, "fastmath": False, "nogil": True}


@njit(**JIT)
def batch_norm_relu(z, n, gamma, beta, eps, y, mean, var, running_mean, running_var, momentum):
    """y = relu(gamma * (z - mean) / sqrt(var + eps) + beta) with each model's batch statistics, written to
    `mean` and `var` (biased, as BatchNorm normalises with); the running mean and unbiased variance move by
    `momentum` towards them."""
    models, rows, channels = z.shape
    for k in prange(models):
        count = n[k]
        if count < 2:
            y[k] = 0
            mean[k] = 0
            var[k] = 1
            continue
        total = np.zeros(channels)
        square = np.zeros(channels)
        for r in range(count):  # one pass: float64 sums of z and z**2 (activations are O(10): no cancellation to fear)
            for c in range(channels):
                value = z[k, r, c]
                total[c] += value
                square[c] += value * value
        scale, shift = _affine(k, total, square, count, gamma, beta, eps, mean, var)
        for c in range(channels):
            running_mean[k, c] = (1 - momentum) * running_mean[k, c] + momentum * mean[k, c]
            running_var[k, c] = (1 - momentum) * running_var[k, c] + momentum * var[k, c] * count / (count - 1)
        for r in range(count):
            for c in range(channels):
                value = z[k, r, c] * scale[c] + shift[c]
                y[k, r, c] = value if value > 0 else 0
        y[k, count:] = 0


@njit(cache=True)
def _affine(k, total, square, count, gamma, beta, eps, mean, var):
    """Model k's batch mean and variance (stored), then `_scale_shift` of them."""
    for c in range(len(total)):
        mean[k, c] = total[c] / count
        var[k, c] = max(square[c] / count - mean[k, c] * mean[k, c], 0.0)
    return _scale_shift(k, gamma, beta, eps, mean, var)


@njit(cache=True)
def _scale_shift(k, gamma, beta, eps, mean, var):
    """The scale and shift BatchNorm applies to model k: one function for the forward pass and for the backward
    pass's recomputed ReLU mask, so both decide `z * scale + shift > 0` on the same numbers."""
    channels = mean.shape[1]
    scale = np.empty(channels)
    shift = np.empty(channels)
    for c in range(channels):
        scale[c] = gamma[k, c] / math.sqrt(var[k, c] + eps)
        shift[c] = beta[k, c] - mean[k, c] * scale[c]
    return scale, shift


@njit(**JIT)
def batch_norm_relu_backward(dy, z, n, mean, var, gamma, beta, eps, dz, dgamma, dbeta, dbias):
    """Gradients through `batch_norm_relu` (training mode, the same `mean` and `var`): dz for the rows, dgamma,
    dbeta, and dbias, the sum of dz over rows (the gradient of the bias of the Linear layer before). Where ReLU
    passed is recomputed from z exactly as the forward pass decided it, so the output is not read again."""
    models, rows, channels = z.shape
    for k in prange(models):
        count = n[k]
        dz[k] = 0
        dgamma[k] = 0
        dbeta[k] = 0
        dbias[k] = 0
        if count < 2:
            continue
        scale, shift = _scale_shift(k, gamma, beta, eps, mean, var)
        inv = np.empty(channels)
        for c in range(channels):
            inv[c] = 1.0 / math.sqrt(var[k, c] + eps)
        sum_g = np.zeros(channels)
        sum_gx = np.zeros(channels)
        for r in range(count):  # selects, not branches, so the loop vectorises
            for c in range(channels):
                g = dy[k, r, c] if z[k, r, c] * scale[c] + shift[c] > 0 else 0.0
                sum_g[c] += g
                sum_gx[c] += g * (z[k, r, c] - mean[k, c]) * inv[c]
        for c in range(channels):
            dbeta[k, c] = sum_g[c]
            dgamma[k, c] = sum_gx[c]
            sum_g[c] /= count
            sum_gx[c] /= count
        bias = np.zeros(channels)
        for r in range(count):
            for c in range(channels):
                g = dy[k, r, c] if z[k, r, c] * scale[c] + shift[c] > 0 else 0.0
                value = scale[c] * (g - sum_g[c] - (z[k, r, c] - mean[k, c]) * inv[c] * sum_gx[c])
                dz[k, r, c] = value
                bias[c] += value
        for c in range(channels):
            dbias[k, c] = bias[c]


@njit(**JIT)
def mse_and_gradient(out, x, n, dout, loss):
    """Each model's mean squared error over its rows (`loss[k]`) and its gradient with respect to `out`."""
    models, rows, dim = out.shape
    for k in prange(models):
        count = n[k]
        loss[k] = 0.0
        if count < 2:
            dout[k] = 0
            continue
        total = np.zeros(dim)  # one sum per column: the loop over columns vectorises
        factor = 2.0 / (count * dim)
        for r in range(count):
            for c in range(dim):
                d = out[k, r, c] - x[k, r, c]
                total[c] += d * d
                dout[k, r, c] = factor * d
        dout[k, count:] = 0
        loss[k] = total.sum() / (count * dim)


@njit(**JIT)
def adam(param, grad, m, v, step_size, correction2, active, beta1, beta2, eps):
    """torch.optim.Adam's update (no weight decay) of (K, size) arrays, with each model's own step size and
    second-moment correction; a model that is not `active` is left as it is."""
    models, size = param.shape
    for k in prange(models):
        if not active[k]:
            continue
        for i in range(size):
            g = grad[k, i]
            m[k, i] += (1 - beta1) * (g - m[k, i])
            v[k, i] = v[k, i] * beta2 + (1 - beta2) * g * g
            param[k, i] -= step_size[k] * m[k, i] / (math.sqrt(v[k, i]) / correction2[k] + eps)


def compile_kernels() -> None:
    """Compile every kernel for float32 and float64 now (`make install` does), into numba's on-disk cache, so a
    first run does not spend its first seconds compiling."""
    for dtype in (np.float32, np.float64):
        z = np.ones((2, 3, 4), dtype)
        n = np.array([3, 0])
        stats = (np.zeros((2, 4)), np.ones((2, 4)))
        ones, grads = np.ones((2, 4), dtype), [np.zeros((2, 4), dtype) for _ in range(3)]
        batch_norm_relu(z, n, ones, ones, 1e-3, np.empty_like(z), *stats, ones.copy(), ones.copy(), 0.01)
        batch_norm_relu_backward(z, z, n, *stats, ones, ones, 1e-3, np.empty_like(z), *grads)
        mse_and_gradient(z, z, n, np.empty_like(z), np.zeros(2))
        adam(ones.copy(), ones, ones.copy(), ones.copy(), np.ones(2), np.ones(2), n > 1, 0.9, 0.999, 1e-8)
