"""`bench data download`: a task year's public archives and ground truth, laid out as the official baselines do.

Development archives unpack into `ROOT/dev_data/raw/`, additional-training and evaluation-test archives into
`ROOT/eval_data/raw/`; the renaming list goes to the root and the evaluator's files to `ROOT/evaluator/`, where
the reader finds them. Each archive is fetched to `ROOT/.downloads/<name>.part` (a cut transfer resumes with an
HTTP Range request; refused connections and 5xx answers are retried with back-off by urllib3), checked (size,
the MD5 its Zenodo record lists where the year pins it, zip integrity, the machine type's folders), unpacked
into a temporary folder and moved into place folder by folder, then recorded in
`ROOT/.downloads/done.json`: an interrupted or corrupt download never leaves a half type folder behind, and a
second run on a complete root fetches nothing.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from core.atomic import write_text
from core.errors import DataError

PARTS = {"dev": ("dev",), "eval": ("train", "test"), "all": ("dev", "train", "test")}
FOLDER = {"dev": "dev_data/raw", "train": "eval_data/raw", "test": "eval_data/raw"}
CHUNK = 1 << 20
RETRIED_STATUS = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Archive:
    part: str
    machine_type: str
    url: str
    md5: str | None = None  # as the Zenodo record lists it, where the task year pins it

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.rsplit("/", 1)[-1]


def mirrored(url: str, mirror: str | None) -> str:
    """`url` with the scheme and host of `mirror` (its path kept): institutional mirrors, and the tests' server."""
    if not mirror:
        return url
    base, own = urlsplit(mirror), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + own.path, own.query, ""))


def plan(task, split: str, types: list[str] | None) -> tuple[list[Archive], list[tuple[str, str]]]:
    """The archives of `split` for `types` (default: every type of those parts), and the ground-truth files."""
    if split not in PARTS:
        raise DataError(f"--split {split!r}: choose dev, eval or all")
    wanted = {"dev": task.dev_types, "train": task.eval_types, "test": task.eval_types}
    known = sorted({t for part in PARTS[split] for t in wanted[part]})
    unknown = sorted(set(types or ()) - set(known))
    if unknown:
        raise DataError(f"{task.name} has no machine type {', '.join(unknown)} in its {split} archives; "
                        f"choose from {', '.join(known)}")
    archives = [Archive(part, t, url) for part in PARTS[split] for t in wanted[part]
                if (types is None or t in types) and (url := task.archive(part, t))]
    archives = [replace(a, md5=task.archive_md5.get(a.name)) for a in archives]
    if not archives:
        raise DataError(f"{task.name}: no public {split} archives (2026's evaluation test set is not out yet); "
                        "try --split dev")
    test_types = sorted({a.machine_type for a in archives if a.part == "test"})
    return archives, task.ground_truth_files(test_types) if test_types else []


class Fetcher:
    """GETs through a session whose adapter retries refused connections and 5xx answers with back-off
    (urllib3's `Retry`); a transfer cut mid-body is resumed with an HTTP Range request, up to `retries` times."""

    def __init__(self, retries: int = 5, backoff: float = 1.0, timeout: float = 60.0):
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.session = requests.Session()
        retry = Retry(total=retries, backoff_factor=backoff, status_forcelist=RETRIED_STATUS,
                      allowed_methods={"GET", "HEAD"}, raise_on_status=False)
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(max_retries=retry))

    def size(self, url: str) -> int | None:
        try:
            response = self.session.head(url, allow_redirects=True, timeout=self.timeout)
        except requests.RequestException:
            return None
        length = response.headers.get("Content-Length")
        return int(length) if response.ok and length else None

    def fetch(self, url: str, path: Path, bar=None) -> None:
        """Download `url` to `path`, continuing what is already there; a 404 is final."""
        for attempt in range(self.retries + 1):
            have = path.stat().st_size if path.exists() else 0
            try:
                response = self.session.get(url, stream=True, timeout=self.timeout,
                                            headers={"Range": f"bytes={have}-"} if have else {})
            except requests.RequestException as exc:  # refused or timed out through every retry of the adapter
                raise DataError(f"{url}: {type(exc).__name__} after {self.retries + 1} tries; run the command "
                                "again to resume the transfer") from None
            with response:
                if response.status_code == 416:  # nothing left to fetch
                    return
                if response.status_code == 404:
                    raise DataError(f"{url}: not found (404); check --task and --types, or the --mirror")
                if not response.ok:
                    raise DataError(f"{url}: HTTP {response.status_code} after {self.retries + 1} tries; run the "
                                    "command again later to resume the transfer")
                if have and response.status_code != 206:  # the server ignored Range: start again
                    have = 0
                try:
                    with open(path, "ab" if have else "wb") as f:
                        for block in response.iter_content(CHUNK):
                            f.write(block)
                            if bar is not None:
                                bar.update(len(block))
                except requests.RequestException:  # cut mid-body: resume from what arrived
                    pass
                expected = response.headers.get("Content-Length")
                if expected is None or path.stat().st_size - have == int(expected):
                    return
            time.sleep(self.backoff * 2 ** attempt)
        raise DataError(f"{url}: the transfer kept stopping short; run the command again to resume it")


def check(archive: Archive, path: Path, size: int | None) -> list[str]:
    """The archive's top-level entries to move into place (`<type>/train`, `<type>/attributes_00.csv`, ...), after
    checking its size, its MD5 where the year pins one, every member's CRC and that it holds the machine type's
    folder of its part."""
    fix = "the download was deleted; run the command again to fetch it anew (or check the --mirror)"
    if size is not None and path.stat().st_size != size:
        raise DataError(f"{archive.name}: {path.stat().st_size} bytes, the server announced {size}; {fix}")
    if archive.md5 is not None and (md5 := _md5(path)) != archive.md5:
        raise DataError(f"{archive.name}: MD5 {md5}, its Zenodo record lists {archive.md5}; {fix}")
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{archive.name}: not a readable zip archive ({exc}); {fix}") from None
    if bad is not None:
        raise DataError(f"{archive.name}: {bad} fails its CRC check; {fix}")
    needed = f"{archive.machine_type}/{'train' if archive.part != 'test' else ''}"
    if not any(n.startswith(needed) for n in names):
        raise DataError(f"{archive.name}: holds no {needed}... folder; {fix}")
    return sorted({"/".join(n.split("/")[:2]) for n in names  # the type's own entries (no `__MACOSX/` and the like)
                   if n.startswith(f"{archive.machine_type}/") and len(n.split("/")) > 1 and n.split("/")[1]})


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def unpack(archive: Archive, path: Path, root: Path, entries: list[str]) -> None:
    """Extract into a temporary folder beside the target, then move each `<type>/<entry>` into place."""
    target = root / FOLDER[archive.part]
    tmp = target / f".tmp-{archive.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp)
    for entry in entries:
        source, dest = tmp / entry, target / entry
        if not source.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():  # left by a run cut between two moves; this archive's copy is the checked one
            shutil.rmtree(dest)
        source.replace(dest)
    shutil.rmtree(tmp)


def download(task, root: str | Path, split: str = "all", types: list[str] | None = None, mirror: str | None = None,
             dry_run: bool = False, fetcher: Fetcher | None = None, progress=print) -> list[str]:
    """Fetch, check and lay out what `plan` lists; returns the archives fetched this time."""
    root = Path(root)
    archives, truth_files = plan(task, split, types)
    fetcher = fetcher or Fetcher()
    state = root / ".downloads"
    done_file = state / "done.json"
    done = json.loads(done_file.read_text()) if done_file.is_file() else {}
    pending = [a for a in archives if a.name not in done or not all((root / FOLDER[a.part] / e).exists()
                                                                    for e in done[a.name])]
    sizes = {a.name: fetcher.size(mirrored(a.url, mirror)) for a in pending}
    if dry_run:
        for a in archives:
            size = "done" if a not in pending else "size unknown" if sizes[a.name] is None else f"{sizes[a.name] / 1e9:.2f} GB"
            progress(f"{a.name:48s} {size:>14s}  -> {root / FOLDER[a.part]}/{a.machine_type}/")
        for url, rel in truth_files:
            progress(f"{rel:48s} {'':>14s}  <- {mirrored(url, mirror)}")
        return []
    have = _room_for(root, state, pending, sizes)
    fetched = []
    for i, archive in enumerate(pending, 1):
        part = state / f"{archive.name}.part"
        size = sizes[archive.name]
        with tqdm(total=size, initial=have[archive.name], unit="B", unit_scale=True, leave=False,
                  desc=f"[{i}/{len(pending)}] {archive.name}") as bar:
            fetcher.fetch(mirrored(archive.url, mirror), part, bar)
        try:
            entries = check(archive, part, size)
        except DataError:
            part.unlink()
            raise
        unpack(archive, part, root, entries)
        done[archive.name] = entries
        write_text(done_file, json.dumps(done, indent=1))
        part.unlink()
        fetched.append(archive.name)
        progress(f"[{i}/{len(pending)}] {archive.name}: {', '.join(entries)}")
    _fetch_ground_truth(fetcher, root, truth_files, mirror, progress)
    progress(f"{root}: {len(fetched)} archives fetched, {len(archives) - len(pending)} already complete")
    return fetched


def _room_for(root: Path, state: Path, pending: list[Archive], sizes: dict) -> dict[str, int]:
    """The bytes of each pending archive already fetched, once `state` is known writable and the disk has room
    for the rest of each zip and what it unpacks to."""
    try:
        state.mkdir(parents=True, exist_ok=True)
        (state / ".write-test").write_text("")
    except OSError as exc:
        raise DataError(f"{root}: cannot write there ({exc.strerror}); choose another --out") from None
    have = {a.name: (state / f"{a.name}.part").stat().st_size if (state / f"{a.name}.part").exists() else 0 for a in pending}
    needed = sum(2 * (sizes[a.name] or 0) - have[a.name] for a in pending)
    free = shutil.disk_usage(state).free
    if needed > free:
        raise DataError(f"{root}: these {len(pending)} archives need about {needed / 1e9:.1f} GB free (each zip and its "
                        f"contents), {free / 1e9:.1f} GB are; free space or choose another --out")
    return have


def _fetch_ground_truth(fetcher: Fetcher, root: Path, truth_files: list[tuple[str, str]], mirror: str | None,
                        progress) -> None:
    """The evaluator's ground-truth files not yet there; one that fails is a warning (the renaming list still
    labels the clips)."""
    for url, rel in truth_files:
        if (root / rel).is_file():
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        tmp = root / f"{rel}.part"
        try:
            fetcher.fetch(mirrored(url, mirror), tmp)
        except DataError as exc:
            tmp.unlink(missing_ok=True)
            progress(f"warning: {rel}: {exc}")
            continue
        tmp.replace(root / rel)
