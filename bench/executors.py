"""Where a sweep's jobs run: a process pool on this machine (no server needed), or Slurm through submitit.

Both take waves of jobs (a job is a list of steps, run one after another by `sweep.run_steps`); a wave's jobs may
read the previous wave's outputs. A step records its own outcome; a job that dies before it could (killed,
cancelled, past its time) is recorded here, with the reason and the log to read."""
from __future__ import annotations

import multiprocessing
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from bench.sweep import Step, SweepFolder, SweepSpec, run_steps

EXECUTORS = ("local", "slurm")


class Progress:
    """One line per change: steps done / submitted (queued or running) / failed / pending."""

    def __init__(self, folder: SweepFolder, steps: list[Step]):
        self.folder, self.steps, self.running, self.last = folder, steps, set(), None

    def show(self) -> None:
        states = [self.folder.state(s.key) for s in self.steps]
        running = sum(s.key in self.running and state == "pending" for s, state in zip(self.steps, states))
        line = (f"sweep: {states.count('done')} done, {running} submitted, {states.count('failed')} failed, "
                f"{states.count('pending') - running} pending of {len(self.steps)} steps")
        if line != self.last:
            print(line, flush=True)
            self.last = line


def _died(folder: SweepFolder, job: list[Step], reason: str, log: str) -> None:
    for step in job:
        if folder.state(step.key) == "pending":
            folder.write(step, "failed", reason=reason, log=log)


@dataclass
class LocalExecutor:
    jobs: int = 1           # jobs at once
    steps_per_job: int = 1  # a pool worker is cheap to hand work to

    def execute(self, waves: list[list[list[Step]]], spec: SweepSpec, folder: SweepFolder, progress: Progress) -> None:
        # fresh interpreters, never forks of this one (whose OpenMP threads would deadlock a forked child)
        with ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("forkserver")) as pool:
            for wave in waves:
                futures = {pool.submit(run_steps, job, spec, folder.root): job for job in wave}
                progress.running = {s.key for job in wave for s in job}
                progress.show()
                for future in as_completed(futures):
                    try:
                        future.result()
                    except Exception as exc:  # the worker process itself died
                        _died(folder, futures[future], f"its process died ({type(exc).__name__}: {exc})",
                              str(folder.log(futures[future][0])))
                    progress.show()


@dataclass
class SlurmExecutor:
    partition: str | None = None
    gpus_per_job: int = 0
    time_min: int = 240
    mem_gb: float | None = None
    cpus_per_job: int = 1
    parallelism: int = 64   # array tasks at once
    steps_per_job: int = 16  # scoring steps are seconds each: batched, they do not wait in the queue one by one
    poll_s: float = 2.0

    def execute(self, waves: list[list[list[Step]]], spec: SweepSpec, folder: SweepFolder, progress: Progress) -> None:
        import submitit
        executor = submitit.AutoExecutor(folder=folder.root / "slurm" / "%j", cluster="slurm")
        executor.update_parameters(timeout_min=self.time_min, cpus_per_task=self.cpus_per_job, gpus_per_node=self.gpus_per_job,
                                   slurm_array_parallelism=self.parallelism, slurm_partition=self.partition,
                                   **({"mem_gb": self.mem_gb} if self.mem_gb else {}))
        submitted, after = [], []
        for number, wave in enumerate(waves):
            # a wave starts when the previous one has ended, however it ended: its steps check what they read
            executor.update_parameters(name=f"bench-sweep-{number}", slurm_additional_parameters=(
                {"dependency": "afterany:" + ":".join(after)} if after else {}))
            jobs = executor.map_array(_Job(), wave, [spec] * len(wave), [folder.root] * len(wave))
            after = sorted({job.job_id.split("_")[0] for job in jobs})
            submitted += zip(jobs, wave)
            print(f"submitted {len(jobs)} Slurm jobs (array {', '.join(after)}) for {sum(map(len, wave))} steps", flush=True)
        progress.running = {s.key for _, job in submitted for s in job}
        while submitted:
            queued = _queued()
            for job, steps in list(submitted):
                if Path(job.paths.result_pickle).is_file():
                    try:
                        job.result()
                    except Exception as exc:
                        _died(folder, steps, f"Slurm job {job.job_id} failed ({type(exc).__name__})", str(job.paths.stderr))
                elif job.job_id not in queued:
                    _died(folder, steps, f"Slurm job {job.job_id} ended without a result (cancelled, killed or out of "
                          "time)", str(job.paths.stderr))
                else:
                    continue
                submitted.remove((job, steps))
            progress.show()
            if submitted:
                time.sleep(self.poll_s)


def _queued() -> set[str]:
    """Job ids Slurm still holds (pending, running, completing), array tasks one by one."""
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True, check=True).stdout
    return set(out.split())


class _Job:
    """A Slurm job's call. Its `checkpoint` has submitit requeue it after preemption or at its time limit; run
    again, it skips its done steps and a training resumes from its last saved epoch."""

    def __call__(self, steps: list[Step], spec: SweepSpec, root: Path) -> list[str]:
        return run_steps(steps, spec, root)

    def checkpoint(self, *args, **kwargs):
        import submitit
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)
