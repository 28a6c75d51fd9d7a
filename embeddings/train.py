"""Training: the integrated (or per-type) ID classifier, checkpoint selection (dev test split or held-out
normal training clips), resume, fine-tuning."""
from __future__ import annotations

import copy
import functools
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from core.atomic import atomic_file
from core.locking import exclusive
from core.torchrun import is_main, rank_world
from dcase import channels
from dcase.tasks import DEFAULT_TASK, get_task
from embeddings.classifier import Classifier, infer, pad_frames, softmax_score
from embeddings.config import TrainConfig
from embeddings.distributed import global_batchnorm
from embeddings.features import FeatureSet
from embeddings.heads import LOSSES
from embeddings.schedule import lr_at


def _save(obj, path: Path) -> None:
    with atomic_file(path) as tmp:
        torch.save(obj, tmp)


def _epoch_seed(config: TrainConfig, epoch: int) -> int:
    # Every epoch draws from its own seed, so a run resumed at an epoch boundary repeats the uninterrupted one.
    return config.seed * 100_003 + epoch


def loss_of(config: TrainConfig):
    """The configured loss as a function of (logits, targets)."""
    return functools.partial(LOSSES[config.loss], smoothing=config.label_smoothing, alpha=config.focal_alpha,
                             gamma=config.focal_gamma)


class TrainStep(torch.nn.Module):
    """The training objective as one module (what DistributedDataParallel wraps): loss of a mixed-up batch."""

    def __init__(self, model: Classifier, config: TrainConfig):
        super().__init__()
        self.model, self.loss_fn = model, loss_of(config)

    def forward(self, x, y, y2=None, lam=1.0):
        emb = self.model.embed(x)
        loss = lam * self.loss_fn(self.model.head(emb, y), y)
        if y2 is not None:
            loss = loss + (1 - lam) * self.loss_fn(self.model.head(emb, y2), y2)
        return loss


def validate_on_dev(model, config, dev, device) -> dict:
    """The task year's official figures of the softmax score on the development test clips, and what its
    checkpoint selection maximises (`Scoring.selection`): the seed paper's protocol, which uses test labels."""
    clips, logmel = dev
    _, logits = infer(model, logmel, clips.n_frames.to_numpy(), config.crop_frames, device)
    scoring = get_task(clips.task.iloc[0] if "task" in clips else DEFAULT_TASK).scoring
    table = scoring.section_table(clips.assign(score=softmax_score(logits, clips.first_class, clips.n_classes)))
    figures = scoring.official_score(table)
    return {**{k: figures[k] for k in ("official_score", "mean_auc", "mean_pauc") if k in figures},
            "select": scoring.selection(figures), "per_type": scoring.per_type(table)}


def validate_on_heldout(model, config, heldout, device) -> dict:
    """ID-classification loss and accuracy on held-out normal training clips: no test label is used."""
    clips, logmel = heldout
    _, logits = infer(model, logmel, clips.n_frames.to_numpy(), config.crop_frames, device)
    target = torch.tensor(clips.class_index.to_numpy())
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), target))
    return {"heldout_loss": loss, "heldout_accuracy": float((logits.argmax(1) == target.numpy()).mean()), "select": -loss}


SELECTIONS = {"dev": validate_on_dev, "heldout": validate_on_heldout}


def validate(model, config, selection_set, device) -> dict | None:
    if selection_set is None or len(selection_set[0]) == 0:
        return None
    return SELECTIONS[config.selection](model, config, selection_set, device)


def hold_out(split, fraction: float, seed: int):
    """(training part, held-out part): `fraction` of each class's clips, drawn with `seed`, at least one of a
    class with four clips or more."""
    clips, logmel = split
    rng = np.random.default_rng(seed)
    held = []
    for _, rows in sorted(clips.groupby("class_index").indices.items()):
        if len(rows) >= 4:
            held += list(rng.permutation(rows)[: max(1, round(fraction * len(rows)))])
    mask = np.zeros(len(clips), dtype=bool)
    mask[held] = True
    logmel = np.asarray(logmel)
    return ((clips[~mask].reset_index(drop=True), logmel[~mask]), (clips[mask].reset_index(drop=True), logmel[mask]))


def random_crops(x_all: torch.Tensor, frames: torch.Tensor, idx: torch.Tensor, crop: int, gen) -> torch.Tensor:
    """A random `crop`-frame window of each clip `idx`, within its real (unpadded) frames, as float32."""
    room = (frames[idx] - crop + 1).clamp_min(1)
    start = (torch.rand(len(idx), generator=gen).to(x_all.device) * room).long()
    cols = (start[:, None] + torch.arange(crop, device=x_all.device)).clamp_max(x_all.shape[-1] - 1)
    return x_all[idx].gather(2, cols[:, None, :].expand(-1, x_all.shape[1], -1)).float()


def fit(config: TrainConfig, train: tuple[pd.DataFrame, np.ndarray], selection_set, num_classes: int, run_dir: Path,
        device: str = "cpu", stop_after: int | None = None, desc: str = "train") -> Classifier:
    """Train one classifier; resumes from `run_dir/last.pt`. Returns the best-validated weights.

    Under torchrun every rank draws the same global batch and trains on its share of it
    (DistributedDataParallel, BatchNorm over the global batch), so the result does not depend on the
    number of processes; rank 0 validates and writes checkpoints. `stop_after` ends the run after that
    many epochs of this call (used to test resuming).
    """
    rank, world = rank_world()
    if config.batch_size < world:
        raise ValueError(f"batch_size {config.batch_size} is the global batch: it needs at least one clip per "
                         f"process ({world}); raise it with --set batch_size=N")
    run_dir.mkdir(parents=True, exist_ok=True)
    clips, logmel = train
    model, data = _model_and_data(config, clips, logmel, num_classes, device)
    step_fn = TrainStep(model, config)
    if world > 1:
        global_batchnorm(model)
        step_fn = DistributedDataParallel(step_fn,
                                          device_ids=[torch.cuda.current_device()] if device == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=config.max_lr, weight_decay=0.0)
    state = _resumed(run_dir, config, model, opt, device)
    shown = {}
    bar = tqdm(range(state["epoch"], config.epochs), desc=desc, unit="epoch", initial=state["epoch"], total=config.epochs,
               disable=rank > 0)
    for n_run, epoch in enumerate(bar):
        if stop_after is not None and n_run >= stop_after:
            break
        record = {"epoch": epoch + 1, "loss": _train_epoch(step_fn, opt, data, config, epoch, device),
                  "lr": opt.param_groups[0]["lr"]}
        if rank == 0 and ((epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs):
            val = validate(model, config, selection_set, device)
            if val is not None:
                record.update(val)
                if val["select"] > state["best"]:
                    state.update(best=val["select"], best_epoch=epoch + 1,
                                 best_state=copy.deepcopy(model.state_dict()))
        state["epoch"] = epoch + 1
        if rank == 0:
            shown.update({k: f"{record[k]:.3f}" for k in ("loss", "official_score", "heldout_loss") if k in record})
            bar.set_postfix(shown)
            # the log line first, then the checkpoint: a kill between the two leaves a line the checkpoint does not
            # hold, which _truncate_log drops on resume (the other order would lose the epoch's line for good)
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            _save({"config": asdict(config), "model": model.state_dict(), "optimizer": opt.state_dict(), "state": state},
                  run_dir / "last.pt")
    if state["best_state"] is not None and state["epoch"] == config.epochs:
        model.load_state_dict(state["best_state"])
    return model


def _model_and_data(config: TrainConfig, clips: pd.DataFrame, logmel: np.ndarray, num_classes: int, device: str):
    """The seeded classifier, its input normalised by the training log-mels' mean and std, and the training
    tensors on the device: (log-mels padded to a crop, class per clip, real frames per clip)."""
    torch.manual_seed(config.seed)
    planes = channels.planes(channels.of(clips))
    model = Classifier(config, num_classes, n_mels=logmel.shape[1] // planes, planes=planes).to(device)
    x_all = torch.from_numpy(pad_frames(np.asarray(logmel), config.crop_frames)).to(device)
    y_all = torch.tensor(clips.class_index.to_numpy(), device=device)
    frames = torch.tensor(clips.n_frames.to_numpy(), device=device)
    valid = x_all[:: max(len(x_all) // 1024, 1), :, : int(frames.min())].float()  # a spread-out sample suffices
    model.mean.fill_(float(valid.mean()))
    model.std.fill_(float(valid.std()))
    if device == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model, (x_all, y_all, frames)


def _resumed(run_dir: Path, config: TrainConfig, model: Classifier, opt, device: str) -> dict:
    """The training state (epochs done, best so far); from `run_dir/last.pt` into `model` and `opt` when there."""
    last = run_dir / "last.pt"
    if not last.is_file():
        return {"epoch": 0, "best": -np.inf, "best_state": None, "best_epoch": None}
    saved = torch.load(last, map_location=device, weights_only=False)
    if saved["config"] != asdict(config):
        raise RuntimeError(f"{last}: written by a different training config; delete {run_dir} to start over")
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    if rank_world()[0] == 0:
        _truncate_log(run_dir / "metrics.jsonl", saved["state"]["epoch"])
    return saved["state"]


def _train_epoch(step_fn, opt, data, config: TrainConfig, epoch: int, device: str) -> float:
    """One epoch of random crops (and mixup), every rank on its share of each global batch; the mean loss."""
    rank, world = rank_world()
    x_all, y_all, frames = data
    steps = max(len(x_all) // config.batch_size, 1)
    seed = _epoch_seed(config, epoch)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x_all), generator=gen).to(device)
    step_fn.train()
    total = 0.0
    for step in range(steps):
        idx = order[step * config.batch_size:(step + 1) * config.batch_size]
        if len(idx) < 2:  # BatchNorm needs two samples
            continue
        for group in opt.param_groups:
            group["lr"] = lr_at(epoch + step / steps, config.max_lr, config.warmup_epochs, config.first_cycle, config.cycle_mult)
        x, y = random_crops(x_all, frames, idx, config.crop_frames, gen), y_all[idx]
        y2, lam = None, 1.0
        if config.mixup:
            lam = float(torch.rand((), generator=gen))
            perm = torch.randperm(len(idx), generator=gen).to(device)
            x, y2 = lam * x + (1 - lam) * x[perm], y[perm]
        share = torch.tensor_split(torch.arange(len(idx), device=device), world)[rank]
        with torch.autocast("cuda", torch.bfloat16, enabled=device == "cuda"):
            # this rank's share of the global-batch mean; DDP averages gradients over ranks
            loss = step_fn(x[share], y[share], None if y2 is None else y2[share], lam) * (len(share) * world / len(idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item()
    if world > 1:
        total_t = torch.tensor([total], device=device)
        dist.all_reduce(total_t)
        total = float(total_t) / world
    return total / steps


def _truncate_log(path: Path, epochs: int) -> None:
    """Keep the log lines of the epochs the checkpoint holds (a killed run may have logged one more)."""
    if path.is_file():
        lines = [l for l in path.read_text().splitlines() if json.loads(l)["epoch"] <= epochs]
        path.write_text("".join(l + "\n" for l in lines))


def finetune_heads(model: Classifier, config: TrainConfig, train, device) -> dict:
    """Per machine type, a copy of the classifier head trained on that type's clips alone (backbone frozen)."""
    clips, logmel = train
    emb, _ = infer(model, logmel, clips.n_frames.to_numpy(), config.crop_frames, device)
    heads, loss_fn = {}, loss_of(config)
    for machine_type in sorted(clips.machine_type.unique()):
        rows = np.flatnonzero(clips.machine_type.to_numpy() == machine_type)
        head = copy.deepcopy(model.head).train()
        opt = torch.optim.Adam(head.parameters(), lr=config.finetune_lr)
        gen = torch.Generator().manual_seed(config.seed)
        x, y = torch.from_numpy(emb[rows]).to(device), torch.as_tensor(clips.class_index.to_numpy()[rows], device=device)
        for _ in range(config.finetune_epochs):
            for idx in torch.randperm(len(rows), generator=gen).to(device).split(config.batch_size):
                loss = loss_fn(head(x[idx], y[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        heads[machine_type] = head.eval()
    return heads


def train(config: TrainConfig, features: FeatureSet, run_dir: str | Path, device: str = "cpu") -> Path:
    """Train as `config` says and write `run_dir/model.pt`; an interrupted run resumes where it stopped.

    Collective under torchrun: every rank trains its share; rank 0 fine-tunes and writes the checkpoint.
    """
    run_dir = Path(run_dir)
    out = run_dir / "model.pt"
    with exclusive(run_dir / "train.lock"):
        if not out.is_file():
            _train(config, features, run_dir, device, out)
    return out


def _train(config: TrainConfig, features: FeatureSet, run_dir: Path, device: str, out: Path) -> None:
    train_split, dev_split = features.split("train"), features.split("dev") if "dev" in features.logmel else None
    num_classes = int(features.table.class_index.max()) + 1
    types = sorted(train_split[0].machine_type.unique())
    groups = {"all": types} if config.integrated else {t: [t] for t in types}
    start = time.perf_counter()
    planes = channels.planes(channels.of(features.table))
    saved = {"config": asdict(config), "num_classes": num_classes, "n_mels": int(train_split[1].shape[1]) // planes,
             "planes": planes,
             "groups": groups, "models": {}, "heads": {}, "world_size": rank_world()[1]}
    for name, members in groups.items():
        train_part = _select(train_split, members)
        if config.selection == "heldout":
            fit_part, selection_set = hold_out(train_part, config.heldout_fraction, config.seed)
        else:
            fit_part, selection_set = train_part, None if dev_split is None else _select(dev_split, members)
        model = fit(config, fit_part, selection_set, num_classes, run_dir / name, device, desc=f"train {name}")
        saved["models"][name] = model.state_dict()
        if config.finetune_epochs > 0 and is_main():
            saved["heads"].update({t: h.state_dict() for t, h in finetune_heads(model, config, train_part, device).items()})
    saved["train_seconds"] = time.perf_counter() - start
    if is_main():
        _save(saved, out)


def _select(split, machine_types):
    clips, logmel = split
    keep = np.flatnonzero(clips.machine_type.isin(machine_types).to_numpy())
    return clips.iloc[keep].reset_index(drop=True), np.asarray(logmel)[keep]


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[dict, dict[str, Classifier], dict]:
    """(saved dict, models per group, fine-tuned heads per machine type) from a `model.pt`."""
    saved = torch.load(path, map_location=device, weights_only=False)
    config = TrainConfig(**saved["config"])
    models = {}
    for name, state in saved["models"].items():
        models[name] = Classifier(config, saved["num_classes"], saved["n_mels"], saved.get("planes", 1)).to(device)
        models[name].load_state_dict(state)
    heads = {}
    for machine_type, state in saved["heads"].items():
        heads[machine_type] = copy.deepcopy(next(iter(models.values())).head)
        heads[machine_type].load_state_dict(state)
    return saved, models, heads
