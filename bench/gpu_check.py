"""`make gpu-check`: the GPU paths in one command, for a lent GPU machine's few minutes.

1. the CUDA tests (`tests/test_cuda.py`: every scorer, log-mel, a bf16 training step and bf16 inference
   against the CPU), log in OUT/gpu-tests.log;
2. `bench speed` at DCASE scale (41 IDs x 1000 / 250, D = 2048 and 512): our scorers on CUDA against
   scikit-learn on the same machine's CPU, log-mel throughput, and IR-ResNet50 training throughput with
   its fraction of the bf16 peak; OUT/SPEED-<gpu>.md and OUT/speed-<gpu>.json;
3. OUT/gpu-check.json: the machine (GPU, driver, CUDA, library versions), the test outcome and each
   target of the GPU-check issue with the measured figure.

Without CUDA it says so in one line and exits 3. `--dry` runs the same sequence on the CPU at tiny sizes
(the CUDA tests with the CPU in the GPU's place), which the test suite does, so it keeps working between loans.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
NO_CUDA = 3


def environment() -> dict:
    """What the figures were measured on."""
    env = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
           "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "cpu_cores": os.cpu_count()}
    try:
        env["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                       capture_output=True, text=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        env["driver"] = None
    for module in ("numpy", "sklearn", "soundfile", "faiss"):
        try:
            env[module] = __import__(module).__version__
        except ImportError:
            env[module] = None
    try:
        import faiss
        env["faiss_gpus"] = faiss.get_num_gpus()
    except (ImportError, AttributeError):
        env["faiss_gpus"] = 0
    env["neighbour_search"] = "faiss GPU index" if env["faiss_gpus"] else "torch on the device (no faiss with GPUs here)"
    return env


def slug(name: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", (name or "cpu").replace("NVIDIA ", "")).strip("-") or "gpu"


def run_tests(out: Path, dry: bool) -> dict:
    """The CUDA-marked tests in a child process (its own CUDA context), output to OUT/gpu-tests.log."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if dry:
        env["ASD_BENCH_GPU_DRY"] = "1"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests/test_cuda.py"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    (out / "gpu-tests.log").write_text(done.stdout + done.stderr)
    summary = (done.stdout.strip().splitlines() or ["no output"])[-1]
    return {"returncode": done.returncode, "summary": summary, "seconds": round(time.perf_counter() - start, 1)}


def targets(rows: list[dict], throughput: list[dict], device: str) -> list[dict]:
    """The GPU-check issue's targets, each with the figure measured for it and whether it holds."""
    def row(scorer_prefix, dim, backend_device):
        return next((r for r in rows if r["scorer"].startswith(scorer_prefix) and r["dim"] == dim
                     and r["backend"].startswith(backend_device)), None)

    out = []
    dims = sorted({r["dim"] for r in rows if r["scorer"].startswith("all five")}, reverse=True)
    total = row("all five", dims[0], device)
    if total:
        out.append({"target": f"all five scorers over all IDs at D = {dims[0]} under 1 s", "measured": f"{total['seconds']:.3f} s",
                    "holds": total["seconds"] < 1.0})
    domain = [r for r in rows if r["scorer"].startswith("all six domain-aware") and r["backend"].startswith(device)]
    if domain:
        top = max(domain, key=lambda r: r["dim"])
        out.append({"target": f"all six domain-aware scorers (7 sections) at D = {top['dim']} under 1 s",
                    "measured": f"{top['seconds']:.3f} s", "holds": top["seconds"] < 1.0})
    for scorer in ("knn", "lof"):
        for dim in dims:
            r = row(scorer, dim, device)
            if r and r["speedup"]:
                out.append({"target": f"{scorer} at D = {dim} at least 50x scikit-learn on this machine's CPU",
                            "measured": f"{r['speedup']:.1f}x", "holds": r["speedup"] >= 50})
    train = [t for t in throughput if t["stage"].startswith("train") and t["device"] == device]
    if len(train) == 2:
        gain = train[1]["clips_per_s"] / train[0]["clips_per_s"]
        mfu = train[1].get("bf16_peak_fraction")
        out.append({"target": "training at least 3x the plain fp32 loop", "measured": f"{gain:.1f}x "
                    f"({train[1]['clips_per_s']:.0f} against {train[0]['clips_per_s']:.0f} clips/s"
                    + (f"; {mfu:.1%} of the bf16 peak" if mfu else "") + ")", "holds": gain >= 3})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry", action="store_true", help="rehearse on the CPU at tiny sizes")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check")))
    args = parser.parse_args(argv)
    if not args.dry and not torch.cuda.is_available():
        print("gpu-check: torch sees no CUDA device here; run it on the GPU machine, or pass --dry to rehearse on the CPU",
              file=sys.stderr)
        return NO_CUDA
    from bench.speed import run_speed
    device = "cpu" if args.dry else "cuda"
    args.out.mkdir(parents=True, exist_ok=True)
    env = environment()
    name = "dry-run-cpu" if args.dry else slug(env["gpu"])
    started = time.perf_counter()
    print(f"gpu-check on {env['gpu'] or 'the CPU (dry run)'}: driver {env['driver']}, CUDA {env['cuda']}, torch {env['torch']}; "
          f"neighbour search: {env['neighbour_search']}", flush=True)
    tests = run_tests(args.out, args.dry)
    print(f"CUDA tests: {tests['summary']} ({tests['seconds']} s)", flush=True)
    label = (f"{env['gpu'] or 'CPU (dry run)'}, driver {env['driver']}, CUDA {env['cuda']}, torch {env['torch']}, "
             f"faiss {env['faiss'] or 'not installed'} ({env['neighbour_search']})")
    rows, throughput, text = run_speed(
        quick=args.dry, dims=[32] if args.dry else [2048, 512], devices=[device], repeats=1 if args.dry else 3,
        json_path=args.out / f"speed-{name}.json", out=None, argv=f"(gpu-check{' --dry' if args.dry else ''})",
        progress=lambda m: print(m, flush=True))
    (args.out / f"SPEED-{name}.md").write_text(text.replace("# Speed\n", f"# Speed on {label}\n", 1))
    report = {"environment": env, "tests": tests, "targets": targets(rows, throughput, device),
              "seconds": round(time.perf_counter() - started, 1)}
    (args.out / "gpu-check.json").write_text(json.dumps(report, indent=2))
    for t in report["targets"]:
        print(f"{'holds' if t['holds'] else 'MISSED'}: {t['target']}: {t['measured']}")
    print(f"wrote {args.out}/SPEED-{name}.md, speed-{name}.json, gpu-check.json, gpu-tests.log in {report['seconds']} s")
    return 0 if tests["returncode"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
