"""Task years by name (`dcase2020` ... `dcase2026`), the same registry pattern as scorers and embedders;
more come from the entry-point group `asd_bench.tasks`."""
from core.plugins import Registry

YEARS = ("y2020", "y2021", "y2022", "y2023", "y2024", "y2025", "y2026")
TASKS = Registry("task", "asd_bench.tasks", tuple(f"dcase.tasks.{y}" for y in YEARS), "bench tasks", device=False)
DEFAULT_TASK = "dcase2020"  # what generated data is without --task, and what results rows without a task column were
register = TASKS.register
available = TASKS.available


def get_task(name: str):
    return TASKS.get(name)
