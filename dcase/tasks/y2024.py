"""DCASE 2024 Task 2: first shot, some machine types with concealed attributes (`noAttribute`)."""
from dcase.tasks.base import SEVEN_2022, TaskYear
from dcase.tasks.registry import register


@register
class DCASE2024(TaskYear):
    name, year = "dcase2024", 2024
    zenodo = {"dev": (10902294, "dev_{type}.zip"), "train": (11259435, "eval_data_{type}_train.zip"),
              "test": (11363076, "eval_data_{type}_test.zip")}
    archive_names = {("train", t): f"eval_data_{t}_train_r2.zip" for t in ("3DPrinter", "RoboticArm")}
    evaluator = "nttcslab/dcase2024_task2_evaluator"
    baseline = "ae2023"  # nttcslab/dcase2023_task2_baseline_ae serves 2023 to 2025
    dev_types = {t: ("00",) for t in SEVEN_2022}
    eval_types = {t: ("00",) for t in ("3DPrinter", "AirCompressor", "BrushlessMotor", "HairDryer", "HoveringDrone",
                                       "RoboticArm", "Scanner", "ToothBrush", "ToyCircuit")}
    concealed, numbering_from = "noAttribute", 1
    concealed_marks = ("noAttribute",)
