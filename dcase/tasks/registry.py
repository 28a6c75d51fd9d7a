"""Task years by name (`dcase2020` ... `dcase2025`), the same registry pattern as scorers and embedders;
more come from the entry-point group `asd_bench.tasks`."""
from core.plugins import Registry

TASKS = Registry("task", "asd_bench.tasks", tuple(f"dcase.tasks.y{y}" for y in range(2020, 2026)), "bench tasks")
register = TASKS.register
available = TASKS.available
get_task = TASKS.get
