"""The DCASE Task 2 years, one module each, behind one registry."""
from dcase.tasks.base import TaskYear
from dcase.tasks.registry import TASKS, available, get_task, register

__all__ = ["TASKS", "TaskYear", "available", "get_task", "register"]
