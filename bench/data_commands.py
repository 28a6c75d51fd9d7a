"""`bench data ...`: generate, check, import, calibrate and compare data sets, and the model-free baseline."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from tabulate import tabulate

from bench.options import PRESETS, task_arguments
from core.errors import UsageError
from dcase.tasks import DEFAULT_TASK


def cmd_data_generate(args) -> None:
    from dcase.generate import generate
    start = time.perf_counter()
    out = generate(args.out, args.task, args.preset, args.seed, workers=args.workers)
    size = sum(p.stat().st_size for p in Path(out).rglob("*.wav"))
    print(f"wrote {out} ({size / 2**20:.1f} MiB) in {time.perf_counter() - start:.1f} s")


def cmd_data_check(args) -> None:
    import warnings

    from dcase.reader import clip_counts, load_clips
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task, table = load_clips(args.dir, args.task, ground_truth_path=args.ground_truth, skip_bad=True,
                                 aux_label=args.aux_label, supplemental=True if args.supplemental else None,
                                 channel=args.channel)
    channel = table.channel.iloc[0] if len(table) else ""
    print(f"{task.name}: {len(table)} clips" + (f", channel {channel}" if channel else ""))
    print(tabulate(clip_counts(table).reset_index(), headers="keys", tablefmt="github", showindex=False, disable_numparse=True))
    print(f"{table.class_index.max() + 1} classes ({task.classifier_target(args.aux_label)}) in training data")
    first_shot = sorted(set(table.machine_type[table.first_shot]))
    if first_shot:
        print(f"first-shot machine types (evaluation only): {', '.join(first_shot)}")
    if args.json:
        from core.atomic import write_text
        columns = ["file", "machine_type", "section", "domain", "split", "label", "attributes", "original", "channel"]
        write_text(args.json, table[columns].to_json(orient="records", indent=1))
        print(f"wrote {args.json}: one record per clip")
    for w in caught:
        print(f"problem: {w.message}")
    if caught:
        raise SystemExit(1)


def cmd_data_spectrum_distance(args) -> None:
    from datatools.spectrum_distance import spectrum_distance
    from dcase.reader import load_clips
    from embeddings.features import load_features
    task, table = load_clips(args.dir, args.task, skip_bad=args.skip_bad)
    for split, sections in spectrum_distance(load_features(table, args.cache), task.scoring).items():
        print(f"{task.name} {split}: mean log-mel spectrum distance to the section's training mean (in %)")
        per_type = task.scoring.per_type(sections)
        print(tabulate([[t, *(100 * v for v in f.values())] for t, f in per_type.items()],
                       headers=["type", *next(iter(per_type.values()))], floatfmt=".2f", tablefmt="github"))
        print(", ".join(f"{k} {100 * v:.2f}" for k, v in task.scoring.official_score(sections).items() if v == v))


def cmd_data_import(args) -> None:
    from dcase.importer import import_clips
    from dcase.tasks import DEFAULT_TASK, get_task
    out, skipped = import_clips(args.src, args.out, get_task(args.task or DEFAULT_TASK))
    for line in skipped:
        print(f"skipped {line}")
    print(f"wrote {out}: {sum(1 for _ in out.rglob('*.wav'))} clips")


def cmd_data_calibrate(args) -> None:
    from datatools import calibrate
    from dcase import synth
    from dcase.reader import load_clips
    fitted = calibrate.fit(load_clips(args.real, synth.RECIPE_TASK, skip_bad=args.skip_bad, check_audio=False)[1],
                           rounds=args.rounds, progress=lambda m: print(m, file=sys.stderr))
    out = args.out or synth.CALIBRATION_FILE
    calibrate.write(fitted, out)
    print(f"wrote {out}; regenerate data sets to use it (the default one is made anew when GENERATOR_VERSION changes)")


def cmd_data_calibrate_domains(args) -> None:
    from datatools import calibrate_domains
    from dcase import recording
    from dcase.reader import load_clips
    real = load_clips(args.real, calibrate_domains.TASK, check_audio=False)[1]
    fitted = calibrate_domains.fit(real, rounds=args.rounds, half=args.half, progress=lambda m: print(m, file=sys.stderr))
    out = args.out or recording.CALIBRATION_FILE
    calibrate_domains.write(fitted, out)
    print(f"wrote {out}: shift {fitted['shift']}, anomaly gain {fitted['anomaly_gain']}, shape {fitted['shape_db']} dB; "
          "bump GENERATOR_VERSION so generated data sets are made anew")


def cmd_data_schemas(args) -> None:
    from datatools import schemas
    found = schemas.collect(args.real)
    if not found:
        raise UsageError(f"{args.real}: no clip name with its domain and attributes in any <year>/ metadata file")
    out = args.out or schemas.SCHEMA_FILE
    schemas.write(found, out)
    print(f"wrote {out}: {sum(len(t) for t in found.values())} machine types over {len(found)} years")


def cmd_data_compare(args) -> None:
    from datatools.datastats import compare, type_stats
    from dcase.reader import load_clips
    tables = [type_stats(load_clips(root, args.task, skip_bad=args.skip_bad, check_audio=False)[1], args.max_clips)
              for root in (args.a, args.b)]
    table = compare(*tables)
    if table.empty:
        raise UsageError(f"{args.a} and {args.b} share no machine type with normal clips; nothing to compare")
    print(f"A = {args.a}\nB = {args.b}\nlog-mel 1024/512/128 in dB; normal clips unless named; "
          "anomaly dist = RMS over bands of (mean anomaly - mean normal spectrum); by chance = the same between random "
          "relabellings of the pooled clips; B drawn as A = B's distance with only as many clips as A has, averaged over draws")
    print(tabulate(table, headers="keys", floatfmt=".2f", tablefmt="github", showindex=False))
    if args.json:
        from core.atomic import write_text
        write_text(args.json, table.to_json(orient="records", indent=1))


def cmd_data_download(args) -> None:
    from dcase.download import Fetcher, download
    from dcase.tasks import get_task
    types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
    download(get_task(args.task), args.out, args.split, types, args.mirror, args.dry_run,
             Fetcher(retries=args.retries), progress=print)


def _io_parsers(data) -> None:
    """`bench data generate|download|check|import`: making and reading data sets."""
    gen = data.add_parser("generate", help="write a generated stand-in for a DCASE Task 2 year")
    gen.add_argument("--task", default=DEFAULT_TASK, help="a task year (`bench tasks`)")
    gen.add_argument("--preset", default="small", choices=PRESETS, help="the same sizes as `bench run --preset`")
    gen.add_argument("--out", required=True, type=Path)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=None)
    gen.set_defaults(func=cmd_data_generate)
    down = data.add_parser("download", help="fetch a task year's public archives and ground truth into the official "
                           "baselines' layout (resumable, checked, a rerun fetches nothing)")
    down.add_argument("--task", required=True, help="a task year (`bench tasks`)")
    down.add_argument("--split", default="all", choices=["dev", "eval", "all"])
    down.add_argument("--types", default=None, help="comma-separated machine types (default: all of the split)")
    down.add_argument("--out", required=True, type=Path, help="the data root to fill (dev_data/raw/, eval_data/raw/)")
    down.add_argument("--mirror", default=None, metavar="URL", help="replace the scheme and host of every URL")
    down.add_argument("--retries", type=int, default=5)
    down.add_argument("--dry-run", action="store_true", help="list archives, sizes and target folders; fetch nothing")
    down.set_defaults(func=cmd_data_download)
    check = data.add_parser("check", help="print what the loader finds in a data root, and the problems")
    check.add_argument("dir", type=Path)
    check.add_argument("--json", type=Path, default=None, help="also write the clip table here (file, machine_type, "
                       "section, domain, split, label, attributes, original name, channel)")
    task_arguments(check)
    check.set_defaults(func=cmd_data_check)


def _study_parsers(data) -> None:
    """`bench data spectrum-distance|compare|calibrate|calibrate-domains|schemas`: studying data sets."""
    base = data.add_parser("spectrum-distance", help="AUC of a model-free check (mean log-mel spectrum distance): is the data set neither trivial nor impossible?")
    base.add_argument("dir", type=Path)
    base.add_argument("--cache", type=Path, default=Path(".cache"))
    base.add_argument("--skip-bad", action="store_true")
    base.add_argument("--task", default=None)
    base.set_defaults(func=cmd_data_spectrum_distance)

    imp = data.add_parser("import", help="lay loose DCASE release clips (normal|anomaly_id_XX_N.wav under a "
                          "machine-type folder) out as a DCASE tree")
    imp.add_argument("src", type=Path)
    imp.add_argument("out", type=Path)
    imp.add_argument("--task", default=None, help="the year whose names the clips carry (default dcase2020: "
                     "normal|anomaly_id_XX_N.wav); from 2021 on the names say train or test")
    imp.set_defaults(func=cmd_data_import)
    comp = data.add_parser("compare", help="per machine type, log-mel statistics of two data roots side by side")
    comp.add_argument("a", type=Path)
    comp.add_argument("b", type=Path)
    comp.add_argument("--max-clips", type=int, default=200, help="per machine type and class, spread over the clips")
    comp.add_argument("--task", default=None, help="the year of both roots, where their names fit several")
    comp.add_argument("--skip-bad", action="store_true")
    comp.add_argument("--json", type=Path, default=None)
    comp.set_defaults(func=cmd_data_compare)

    cal = data.add_parser("calibrate", help="fit the generator's per-type spectral envelope, level and level sway "
                          "to the normal clips of a real data root")
    cal.add_argument("real", type=Path)
    cal.add_argument("--rounds", type=int, default=8)
    cal.add_argument("--out", type=Path, default=None, help="default: the generator's dcase/calibration.json")
    cal.add_argument("--skip-bad", action="store_true")
    cal.set_defaults(func=cmd_data_calibrate)

    dom = data.add_parser("calibrate-domains", help="fit the domain-shift generator (per-type envelope and level; "
                          "shift, fault loudness and clip variation from valve) to a real DCASE 2023 data root")
    dom.add_argument("real", type=Path, help="real 2023 clips in the release layout (`bench data import`)")
    dom.add_argument("--rounds", type=int, default=8)
    dom.add_argument("--out", type=Path, default=None, help="default: the generator's dcase/domain_calibration.json")
    dom.add_argument("--half", action="store_true", help="fit on the first half of the real test clips only (the "
                     "over-fitting check: compare the result with the second half)")
    dom.set_defaults(func=cmd_data_calibrate_domains)

    sch = data.add_parser("schemas", help="the real attribute names and values per year, machine type and domain, "
                          "from the real metadata files under REAL/<year>/")
    sch.add_argument("real", type=Path)
    sch.add_argument("--out", type=Path, default=None, help="default: the generator's dcase/attribute_schemas.json")
    sch.set_defaults(func=cmd_data_schemas)


def add_parsers(data) -> None:
    """Every `bench data` sub-command."""
    _io_parsers(data)
    _study_parsers(data)
