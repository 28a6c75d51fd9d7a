"""`imported`: embeddings computed elsewhere (BEATs, EAT, ...), read from a file keyed by clip path."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import DataError
from core.hashing import file_sha256
from embeddings.embedders.base import Embedder
from embeddings.embedders.registry import register


def read_embedding_file(path: Path) -> tuple[list[str], np.ndarray]:
    """(keys, (N, D) array) from `.npz` (arrays `files`, `embeddings`), `.npy` (+ `<stem>.files.txt`, one key
    per line) or Parquet (column `file`, and a list column `embedding` or one numeric column per dimension)."""
    if not path.is_file():
        raise DataError(f"{path}: embedding file not found; pass imported:path=FILE (.npz, .npy or .parquet)")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if not {"files", "embeddings"} <= set(data.files):
                raise DataError(f"{path}: expected arrays `files` and `embeddings`, found {', '.join(data.files)}")
            return [str(f) for f in data["files"]], np.asarray(data["embeddings"], dtype=np.float32)
    if path.suffix == ".npy":
        names = path.with_suffix(".files.txt")
        if not names.is_file():
            raise DataError(f"{path}: a .npy file needs its clip names in {names.name}, one per line, in row order")
        return names.read_text().split(), np.load(path, allow_pickle=False).astype(np.float32)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        if "file" not in frame:
            raise DataError(f"{path}: no `file` column to key the embeddings by")
        if "embedding" in frame:
            sizes = frame.embedding.map(len)
            if sizes.nunique() > 1:
                row = int(np.flatnonzero(sizes != sizes.iloc[0])[0])
                raise DataError(f"{path}: the embedding of {frame.file.iloc[row]} has {sizes.iloc[row]} values, "
                                f"the first has {sizes.iloc[0]}; every clip needs the same dimension")
            values = np.stack(frame.embedding.to_numpy()).astype(np.float32)
        else:
            values = frame.drop(columns="file").to_numpy(dtype=np.float32)
        return frame.file.astype(str).tolist(), values
    raise DataError(f"{path}: unknown embedding file type {path.suffix!r}; use .npz, .npy or .parquet")


def match_keys(keys: list[str], paths: pd.Series, source: Path) -> np.ndarray:
    """For every clip path, the row of the key that names it: a key is the clip's file name or any longer tail
    of its path (`fan/test/normal_id_00_00000000.wav`). A key naming two clips, or a clip with no key, is refused."""
    tails: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        parts = Path(path).parts
        for n in range(1, len(parts) + 1):
            tails.setdefault("/".join(parts[-n:]), []).append(i)
    rows = np.full(len(paths), -1)
    for row, key in enumerate(keys):
        clips = tails.get(key.strip("/").replace("\\", "/"), [])
        if len(clips) > 1:
            raise DataError(f"{source}: key {key!r} names {len(clips)} clips (e.g. {paths.iloc[clips[0]]} and "
                            f"{paths.iloc[clips[1]]}); key by a longer part of the path, e.g. <type>/<train|test>/<file>")
        for clip in clips:
            if rows[clip] >= 0:
                raise DataError(f"{source}: {paths.iloc[clip]} has two rows ({keys[rows[clip]]!r} and {key!r}); keep one")
            rows[clip] = row
    if (rows < 0).any():
        missing = np.flatnonzero(rows < 0)
        raise DataError(f"{source}: no embedding for {paths.iloc[missing[0]]} (and {len(missing) - 1} more clips); "
                        "embed every clip of the data set, keyed by its file name or path")
    return rows


@register
class ImportedEmbedder(Embedder):
    """Embeddings computed elsewhere, from .npz / .npy / Parquet keyed by clip file name or path."""

    name = "imported"

    def __init__(self, path: str = "", device: str = "cpu"):
        super().__init__(device)
        self.path = path

    def fingerprint(self) -> str:
        path = Path(self.path)
        extra = [path.with_suffix(".files.txt")] if path.suffix == ".npy" and path.with_suffix(".files.txt").is_file() else []
        read_embedding_file(path)  # refuses a missing or malformed file before anything is cached
        return file_sha256(path, *extra)

    def embed(self, table: pd.DataFrame):
        keys, values = read_embedding_file(Path(self.path))
        if values.ndim != 2 or len(values) != len(keys):
            raise DataError(f"{self.path}: {len(keys)} keys for embeddings of shape {values.shape}; expected one row per key")
        rows = match_keys(keys, table.path.reset_index(drop=True), Path(self.path))
        return values[rows], None
