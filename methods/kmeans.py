"""The one k-means of the scorers: k-means++ starts and Lloyd iterations, batched over padded sets, in torch on
the GPU or the CPU. The GMM starts EM from it (one batch of machine IDs at once); kmeans_knn clusters a bank."""
from __future__ import annotations

import math

import torch


def tolerance(x: torch.Tensor, mask: torch.Tensor, tol: float = 1e-4) -> torch.Tensor:
    """scikit-learn's KMeans stopping threshold per set: `tol` x the mean per-feature variance of its real rows."""
    n = mask.sum(1, keepdim=True)
    mean = (x * mask[..., None]).sum(1) / n
    return tol * (((x - mean[:, None]).square() * mask[..., None]).sum((1, 2)) / (n[:, 0] * x.shape[2]))


def plusplus(x: torch.Tensor, k: int, seed: int, trials: int = 0) -> torch.Tensor:
    """k-means++ starting centres of one set (n, D), from its own generator, so a start never depends on the batch.
    Each new centre is drawn in proportion to the squared distance to the nearest centre so far; with `trials`
    > 1 the best of that many draws by the total squared distance it leaves (scikit-learn's greedy form; 0:
    its default, 2 + log k)."""
    gen = torch.Generator().manual_seed(seed)
    trials = trials or 2 + int(math.log(k))
    idx = [int(torch.randint(len(x), (1,), generator=gen))]
    closest = (x - x[idx[0]]).square().sum(1)
    for _ in range(1, k):
        # every clip on a chosen centre already (constant embeddings): any clip is as good a next one
        weights = closest if bool(closest.sum() > 0) else torch.ones_like(closest)
        candidates = torch.multinomial((weights / weights.sum()).float().cpu(), trials, replacement=True,
                                       generator=gen).to(x.device)
        left = torch.minimum(closest[:, None], (x[:, None] - x[candidates][None]).square().sum(2))
        best = int(left.sum(0).argmin()) if trials > 1 else 0
        idx.append(int(candidates[best]))
        closest = left[:, best]
    return x[idx]


def lloyd(x: torch.Tensor, mask: torch.Tensor, centres: torch.Tensor, tol: torch.Tensor, max_iter: int = 300):
    """Lloyd iterations on (B, N, D) sets with a (B, N) mask of real rows from (B, K, D) `centres`: assign, move
    each centre to its members' mean (an empty cluster keeps its centre), and a set leaves the batch when its
    centres move (squared, summed) no more than its `tol`. Returns (centres, one-hot assignments, squared
    distances), the last two of the final assignment."""
    k = centres.shape[1]
    resp = torch.zeros(*x.shape[:2], k, dtype=x.dtype, device=x.device)
    dist, out = torch.zeros_like(resp), centres.clone()
    ids, xa, ma, ta, c = torch.arange(len(x), device=x.device), x, mask, tol, centres
    squares = x.square().sum(2, keepdim=True)
    sa = squares
    for _ in range(max_iter):
        # squared distances; the factor 2 goes on the small operand, not on the data
        d = torch.baddbmm(c.square().sum(2)[:, None], xa, c.transpose(1, 2), alpha=-2.0).add_(sa)
        r = torch.nn.functional.one_hot(d.argmin(2), k).to(x.dtype) * ma[..., None]
        resp[ids], dist[ids] = r, d
        nk = r.sum(1)
        new = torch.where(nk[..., None] > 0, r.transpose(1, 2) @ xa / nk.clamp_min(1)[..., None], c)
        out[ids] = new
        going = (new - c).square().sum((1, 2)) > ta
        if not bool(going.all()):
            ids, xa, sa, ma, ta, new = ids[going], xa[going], sa[going], ma[going], ta[going], new[going]
            if len(ids) == 0:
                break
        c = new
    return out, resp, dist


def kmeans(x: torch.Tensor, mask: torch.Tensor, k: int, seed: int = 0, n_init: int = 1, max_iter: int = 300,
           trials: int = 0):
    """The lowest-inertia of `n_init` k-means runs of each padded set of `x` (B, N, D) with `mask` (B, N) rows:
    run `i` starts from `plusplus(seed=seed * 1000 + i)` and runs `lloyd` with scikit-learn's tolerance.
    Returns (centres, one-hot assignments, squared distances), as `lloyd`."""
    tol = tolerance(x, mask)
    best, best_inertia = None, None
    for run in range(n_init):
        starts = torch.stack([plusplus(x[b, : int(mask[b].sum())], k, seed * 1000 + run, trials) for b in range(len(x))])
        found = lloyd(x, mask, starts, tol, max_iter)
        inertia = (found[2].min(2).values * mask).sum(1)
        if best is None:
            best, best_inertia = found, inertia
        else:
            better = inertia < best_inertia
            best = tuple(torch.where(better.view(-1, *([1] * (new.dim() - 1))), new, old) for new, old in zip(found, best))
            best_inertia = torch.minimum(inertia, best_inertia)
    return best
