"""DCASE 2023 Task 2: first shot; the evaluation machine types never appear in development."""
from dcase.tasks.base import SEVEN_2022, TaskYear
from dcase.tasks.registry import register


@register
class DCASE2023(TaskYear):
    name, year = "dcase2023", 2023
    zenodo = {"dev": (7882613, "dev_{type}.zip"), "train": (7830345, "eval_data_{type}_train.zip"),
              "test": (7860847, "eval_data_{type}_test.zip")}
    evaluator = "nttcslab/dcase2023_task2_evaluator"
    baseline = "ae2023"  # nttcslab/dcase2023_task2_baseline_ae serves 2023 to 2025
    dev_types = {t: ("00",) for t in SEVEN_2022}
    eval_types = {t: ("00",) for t in ("ToyDrone", "ToyNscale", "ToyTank", "Vacuum", "bandsaw", "grinder", "shaker")}
    clip_seconds = {"ToyCar": 12.0, "ToyTrain": 12.0}  # measured on the real release clips
