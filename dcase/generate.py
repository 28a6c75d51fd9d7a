"""The generator: a stand-in data set of any task year, in its layout, names, WAV format and ground truth.

The sounds are the recipes of `dcase.synth`: each machine type sounds like one of the six calibrated 2020
recipes, chosen by name for types 2020 never had, with its own parameters per type and section (a 2020
machine ID is a section). The year's object names every file. Two clip plans: 2020's per machine ID
(`_machine_id_plan`: normal training clips and labelled test clips, no domains) and the domain plan of
2021 on (`_domain_plan`), whose recording conditions, their real attribute names and their sound are
`dcase.recording`'s. The target domain has few training clips (`target_train`, never below a 3 : 1
source : target ratio). A two-microphone year (2026) gets stereo clips: the near microphone left, the far
one right.
"""
from __future__ import annotations

import csv
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from core.atomic import atomic_folder
from core.locking import exclusive
from core.torchrun import is_main
from dcase import recording, synth
from dcase.audio import SAMPLE_RATE
from dcase.names import parse_attributes
from dcase.recording import recipe
from dcase.tasks import DEFAULT_TASK, TaskYear, get_task

GENERATOR_VERSION = 3  # bump when the same seed writes other audio; the default data folder's name carries it


@dataclass(frozen=True)
class Preset:
    seconds: float
    source_train: int   # per section
    target_train: int   # per section
    test_per_cell: int  # per section, domain and label
    per_id: tuple[int, int, int] = (12, 6, 6)  # 2020, per machine ID: training, normal and anomalous test clips
    real_lengths: bool = False  # each type's real clip length where its year declares one (`clip_seconds`)


PRESETS = {  # the same names as the training presets of `bench run --preset`
    "tiny": Preset(seconds=1.0, source_train=12, target_train=3, test_per_cell=4, per_id=(12, 6, 6)),
    "small": Preset(seconds=2.0, source_train=60, target_train=6, test_per_cell=12, per_id=(60, 24, 24)),
    # the real sets: 990 + 10 training clips per section (2020: ~1,000 per ID, ~100 normal and 150-350
    # anomalous test clips), 10 s each
    "full": Preset(seconds=10.0, source_train=990, target_train=10, test_per_cell=50, per_id=(1000, 100, 200),
                   real_lengths=True),
}


def section_key(task: TaskYear, seed: int, machine_type: str, section: str) -> list[int]:
    """What seeds a section's machine parameters and its clips: 2020 numbers its six types, later years hash names."""
    number = list(task.dev_types).index(machine_type) if task.scheme == "2020" else zlib.crc32(machine_type.encode())
    return [seed, number, int(section)]


def section_params(machine_type: str, key: list[int]) -> dict:
    """A section's (a 2020 machine ID's) draw of its recipe's machine parameters."""
    return synth.MACHINES[recipe(machine_type)].params(np.random.default_rng(key))


def clip_seed(key: list[int], stage: str, domain: str, label: int, i: int) -> list[int]:
    """What seeds the `i`-th clip of a section's stage (train, test, supplemental), domain and label (2021 on)."""
    return key + [{"train": 0, "test": 1 + label, "supplemental": 3}[stage], i, int(domain == "target")]


def _machine_id_plan(task: TaskYear, preset: Preset, seed: int):
    """2020: per machine ID, normal training clips and labelled test clips, no domains. Every clip as
    (relative path, type, section key, condition, anomalous, clip seed), and the writer of the ground truth."""
    clips, truth = [], []
    n_train, n_normal, n_anomaly = preset.per_id
    for machine_type in task.dev_types:
        truth.append(machine_type)
        for source, ids in (("dev_data", task.dev_types[machine_type]), ("eval_data", task.eval_types[machine_type])):
            for machine_id in ids:
                key = section_key(task, seed, machine_type, machine_id)
                for i in range(n_train):
                    name = task.train_name(machine_id, "source", i, "")
                    clips.append((f"{source}/{machine_type}/train/{name}", machine_type, key, None, False, key + [0, i],
                                  preset.seconds))
                test = [(0, i) for i in range(n_normal)] + [(1, i) for i in range(n_anomaly)]
                if source == "eval_data":  # evaluation names hide the label: shuffle, then number
                    test = [test[j] for j in np.random.default_rng(key).permutation(len(test))]
                for k, (label, i) in enumerate(test):
                    original = task.test_name(machine_id, "source", label, i, "")
                    name = original if source == "dev_data" else task.eval_name(machine_id, "source", k)
                    if source == "eval_data":
                        truth.append(f"{name},{original},{label}")
                    clips.append((f"{source}/{machine_type}/test/{name}", machine_type, key, None, bool(label),
                                  key + [1 + label, i], preset.seconds))

    def write_metadata(tmp: Path) -> None:  # the name this generator has always written; the reader takes both
        (tmp / "eval_data_list.csv").write_text("\n".join(truth) + "\n")
    return clips, write_metadata


def _domain_plan(task: TaskYear, preset: Preset, seed: int):
    """2021 on: per section, source and target conditions, training and test clips per domain and label, the
    year's names and folders. Every clip as in `_machine_id_plan`, and the writer of the attribute files and
    the ground truth in both published forms."""
    clips, attribute_rows, truth = [], {}, []
    first = task.numbering_from
    for source, types in (("dev_data", task.dev_types), ("eval_data", task.eval_types)):
        for machine_type, sections in types.items():
            base_dir = f"{source}/raw/{machine_type}"
            for section in sections:
                sources, targets = recording.conditions(task.name, task.year, seed, machine_type, section)
                key = section_key(task, seed, machine_type, section)
                concealed = task.concealed is not None and zlib.crc32(f"{machine_type}{seed}".encode()) % 3 == 0
                shown = (lambda c: task.concealed) if concealed else (lambda c: c.attributes)
                seconds = task.clip_seconds.get(machine_type, preset.seconds) if preset.real_lengths else preset.seconds
                rows = attribute_rows.setdefault((base_dir, section), [])
                train = [(sources[i % len(sources)], "source", i) for i in range(preset.source_train)]
                train += [(targets[i % len(targets)], "target", i) for i in range(preset.target_train)]
                for cond, domain, i in train:
                    name = task.train_name(section, domain, first + i, shown(cond))
                    clips.append((f"{base_dir}/train/{name}", machine_type, key, cond, False,
                                  clip_seed(key, "train", domain, 0, i), seconds))
                    rows.append((f"{base_dir.split('/', 1)[1]}/train/{name}", cond))
                test = [(cond, domain, label, i) for domain, conds in (("source", sources), ("target", targets))
                        for label in (0, 1) for i, cond in enumerate([conds[j % len(conds)] for j in range(preset.test_per_cell)])]
                if source == "eval_data":
                    test = [test[j] for j in np.random.default_rng(key + [5]).permutation(len(test))]
                for k, (cond, domain, label, i) in enumerate(test):
                    original = task.test_name(section, domain, label, first + i, shown(cond))
                    if source == "dev_data":
                        name = original
                    else:
                        name = task.eval_name(section, domain, k + first)
                        truth.append((machine_type, section, name, original, label, domain, shown(cond)))
                    folder = task.test_folder(domain)
                    clips.append((f"{base_dir}/{folder}/{name}", machine_type, key, cond, bool(label),
                                  clip_seed(key, "test", domain, label, i), seconds))
                    rows.append((f"{base_dir.split('/', 1)[1]}/{folder}/{name}", cond))
                if task.supplemental and source == "dev_data":
                    for i in range(max(preset.target_train, 3)):
                        name = f"section_{section}_machine_{first + i:04d}_.wav"
                        clips.append((f"{base_dir}/supplemental/{name}", machine_type, key, sources[0], False,
                                      clip_seed(key, "supplemental", "source", 0, i), seconds))

    def write_metadata(tmp: Path) -> None:
        if task.attribute_files:
            _write_attributes(tmp, task, attribute_rows)
        _write_ground_truth(tmp, task, truth)
    return clips, write_metadata


def _write(job):
    rel, machine_type, key, cond, anomalous, clip_seed, seconds, out, far = job
    params = section_params(machine_type, key)
    if cond is None:  # 2020: the recipe as it is
        audio = synth.render_clip(machine_type, params, clip_seed, seconds, anomalous)
    else:
        audio = recording.render(machine_type, params, cond, clip_seed, seconds, anomalous, far)
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")


def _write_attributes(tmp: Path, task: TaskYear, attribute_rows: dict) -> None:
    """`attributes_XX.csv` beside `train/`: `file_name,d1p,d1v,d2p,d2v,...`, as many pairs as the section's
    attributes have (concealed years leave the values out for the concealed types, as the real files do)."""
    for (base_dir, section), rows in attribute_rows.items():
        pairs = [list(parse_attributes(cond.attributes).items()) for _, cond in rows]
        width = max(len(p) for p in pairs)
        with open(tmp / base_dir / f"attributes_{section}.csv", "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["file_name"] + [f"d{i + 1}{c}" for i in range(width) for c in "pv"])
            for (name, _), attrs in zip(rows, pairs):
                if task.concealed is not None and Path(name).stem.endswith(f"_{task.concealed}"):
                    writer.writerow([name, task.concealed] + [""] * (2 * width - 1))
                else:
                    writer.writerow([name] + [v for pair in attrs for v in pair] + [""] * (2 * (width - len(attrs))))


def _write_ground_truth(tmp: Path, task: TaskYear, truth: list) -> None:
    """Both published forms: the renaming list at the root, the evaluator's folders under `evaluator/`."""
    lines, last = [], None
    for machine_type, _, name, original, *_ in truth:
        if machine_type != last:
            lines.append(machine_type)
            last = machine_type
        lines.append(f"{name},{original}")
    (tmp / task.ground_truth_list).write_text("\n".join(lines) + "\n")
    files: dict[tuple[str, str], list] = {}
    for machine_type, section, name, original, label, domain, _ in truth:
        tail = f"{domain}_test" if task.files_per_domain else "test"
        files.setdefault(f"ground_truth_{machine_type}_section_{section}_{tail}.csv", []).append(
            (name, original, label, domain))
    for folder in ("ground_truth_data", "ground_truth_domain", "ground_truth_attributes"):
        (tmp / "evaluator" / folder).mkdir(parents=True, exist_ok=True)
    for file_name, rows in files.items():
        rows = sorted(rows)
        _csv(tmp / "evaluator" / "ground_truth_data" / file_name, [(n, lab) for n, _, lab, _ in rows])
        _csv(tmp / "evaluator" / "ground_truth_domain" / file_name, [(n, int(d == "target")) for n, _, _, d in rows])
        _csv(tmp / "evaluator" / "ground_truth_attributes" / file_name, [(n, Path(o).stem) for n, o, _, _ in rows])


def _csv(path: Path, rows) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def write_all(write, jobs: list, desc: str, workers: int | None = None) -> None:
    """Run `write` on every job, on `workers` processes (default: the CPUs, at most 8), with a progress bar."""
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as pool:
            list(tqdm(pool.map(write, jobs, chunksize=32), total=len(jobs), desc=desc, unit="clip"))
    else:
        for job in tqdm(jobs, desc=desc, unit="clip"):
            write(job)


def generate(out: str | Path, task: str = DEFAULT_TASK, preset: str = "small", seed: int = 0,
             workers: int | None = None) -> Path:
    """Write the generated data set of `task` to `out` (atomically: a temp folder renamed at the end)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    year = get_task(task)
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out}: already exists; remove it or choose another --out")
    spec = PRESETS[preset]
    plan = _machine_id_plan if year.scheme == "2020" else _domain_plan
    clips, write_metadata = plan(year, spec, seed)
    with atomic_folder(out) as tmp:
        jobs = [(*c, tmp, year.channels == 2) for c in clips]
        write_all(_write, jobs, f"generate {task} {preset}", workers)
        write_metadata(tmp)
        (tmp / "GENERATED.txt").write_text(f"asd-bench generated data set: task={task} preset={preset} seed={seed} "
                                           f"clips={len(clips)}\n")
    return out


def default_data_dir(task: str = DEFAULT_TASK, preset: str = "small", seed: int = 0, cache_root: str | Path | None = None) -> Path:
    """The generated data set of `task` and `preset`, made once under the cache folder and reused afterwards."""
    root = Path(cache_root or os.environ.get("ASD_BENCH_CACHE", ".cache"))
    name = "synthetic" if task == DEFAULT_TASK else task  # the default year's folder keeps its first name
    path = root / "data" / f"{name}-{preset}-seed{seed}-v{GENERATOR_VERSION}"
    with exclusive(path.with_name(path.name + ".lock")):
        if not path.is_dir() and is_main():
            generate(path, task, preset, seed)
    return path
