"""The ID classifier (backbone + head) and windowed inference over whole clips."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from scipy.special import softmax

from embeddings.config import TrainConfig
from embeddings.heads import HEADS, LinearHead
from embeddings.models import get_model


class Classifier(nn.Module):
    """log-mel (batch, planes x n_mels, frames) -> (embedding, logits); `planes` input planes (2: both microphones of
    a stereo clip, `--channel stack`). Normalisation statistics travel with the weights."""

    def __init__(self, config: TrainConfig, num_classes: int, n_mels: int = 128, planes: int = 1):
        super().__init__()
        self.planes = planes
        self.backbone = get_model(config.model, num_features=config.embedding_dim,
                                  input_size=(n_mels, config.crop_frames), dropout=config.dropout, planes=planes)
        dim = self.backbone.num_features
        head = HEADS[config.head]
        self.head = head(dim, num_classes) if head is LinearHead else head(dim, num_classes, config.scale, config.margin)
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))

    def embed(self, x):
        return self.backbone(((x.float() - self.mean) / self.std).unflatten(1, (self.planes, -1)))

    def forward(self, x, target=None):
        emb = self.embed(x)
        return emb, self.head(emb, target)


def softmax_score(logits: np.ndarray, first_class, n_classes=1) -> np.ndarray:
    """1 - p(own section): the classifier's anomaly score, the probability summed over the section's classes
    `first_class` .. `first_class + n_classes - 1` (one class, the machine ID, in 2020)."""
    probs = softmax(np.asarray(logits, dtype=np.float64), axis=1)
    first = np.asarray(first_class)[:, None]
    columns = np.arange(probs.shape[1])[None, :]
    own = (columns >= first) & (columns < first + np.asarray(n_classes).reshape(-1, 1))
    return 1.0 - np.where(own, probs, 0.0).sum(axis=1)


def windows(n_frames: int, crop: int) -> list[int]:
    """Start frames of half-overlapping crops covering a clip of `n_frames` (one crop if shorter)."""
    last = max(n_frames - crop, 0)
    starts = list(range(0, last + 1, max(crop // 2, 1)))
    return starts if starts[-1] == last else starts + [last]


def pad_frames(logmel: np.ndarray, crop: int) -> np.ndarray:
    """Pad the time axis to at least `crop` frames with the array's floor value."""
    if logmel.shape[-1] >= crop:
        return logmel
    return np.concatenate([logmel, np.full((*logmel.shape[:-1], crop - logmel.shape[-1]), logmel.min(), logmel.dtype)], -1)


@torch.inference_mode()
def infer(model: Classifier, logmel: np.ndarray, n_frames, crop: int, device: str = "cpu", batch_size: int = 256,
          heads: dict | None = None, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and logits per clip, each the mean over the clip's crops.

    `heads` maps a group label to a replacement classifier head, `groups` gives each clip's label
    (the per-type fine-tuned heads).
    """
    model.eval()
    logmel = pad_frames(logmel, crop)
    embs, logits = [], []
    for start in range(0, len(logmel), batch_size):
        part = torch.from_numpy(np.asarray(logmel[start:start + batch_size])).to(device)
        frames = n_frames[start:start + batch_size]
        crops = [(i, s) for i, f in enumerate(frames) for s in windows(int(f), crop)]
        owner = torch.tensor([i for i, _ in crops], device=device)
        x = torch.stack([part[i, :, s:s + crop] for i, s in crops])
        with torch.autocast("cuda", torch.bfloat16, enabled=device == "cuda"):
            emb = model.embed(x).float()
        count = torch.zeros(len(part), device=device).index_add_(0, owner, torch.ones(len(owner), device=device))

        def clip_mean(values):
            return torch.zeros(len(part), values.shape[1], device=device).index_add_(0, owner, values.float()) / count[:, None]

        logit = model.head(emb)
        if heads:
            for label, head in heads.items():
                mask = torch.tensor([groups[start + i] == label for i, _ in crops], device=device)
                if mask.any():
                    logit[mask] = head(emb[mask])
        embs.append(clip_mean(emb).cpu().numpy())
        logits.append(clip_mean(logit).cpu().numpy())
    return np.concatenate(embs).astype(np.float32), np.concatenate(logits).astype(np.float32)
