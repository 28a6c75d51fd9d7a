"""`bench data ...`: generate, check, import, calibrate and compare data sets, and the model-free baseline."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from tabulate import tabulate

from core.errors import UsageError


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


def cmd_data_baseline(args) -> None:
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
