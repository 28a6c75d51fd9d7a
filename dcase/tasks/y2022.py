"""DCASE 2022 Task 2: domain generalisation; the test domain is hidden and one threshold serves both."""
from dcase.tasks.base import SEVEN_2022, TaskYear
from dcase.tasks.registry import register


@register
class DCASE2022(TaskYear):
    name, year = "dcase2022", 2022
    dev_types = {t: ("00", "01", "02") for t in SEVEN_2022}
    eval_types = {t: ("03", "04", "05") for t in SEVEN_2022}
    first_shot = False
