"""File hashes: the SHA-256 of a file's bytes, kept per name, size and modification time."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path


def file_sha256(*paths) -> str:
    """The SHA-256 of the files' bytes, one after the other. A run asks more than once (`Embedder.check`, then the
    cache key), so it is kept per file name, size and modification time: a changed file is hashed again."""
    return _sha256_of(tuple((str(Path(p).resolve()), (st := Path(p).stat()).st_size, st.st_mtime_ns) for p in paths))


@functools.lru_cache(maxsize=64)
def _sha256_of(files: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for path, _, _ in files:
        h.update(Path(path).read_bytes())
    return h.hexdigest()
