"""The DCASE Task 2 years, one module each, behind one registry."""
from dcase.tasks.base import TaskYear
from dcase.tasks.registry import DEFAULT_TASK, TASKS, available, get_task, register

__all__ = ["DEFAULT_TASK", "TASKS", "TaskYear", "available", "get_task", "register"]
