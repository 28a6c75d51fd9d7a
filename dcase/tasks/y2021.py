"""DCASE 2021 Task 2: sections, a source and a target domain known at test time, scored per domain."""
from dcase.scoring import PER_DOMAIN
from dcase.tasks.base import TaskYear
from dcase.tasks.registry import register

_TYPES = ("ToyCar", "ToyTrain", "fan", "gearbox", "pump", "slider", "valve")


@register
class DCASE2021(TaskYear):
    name, year = "dcase2021", 2021
    zenodo = {"dev": (4562016, "dev_data_{type}.zip"), "train": (4660992, "eval_data_{type}_train.zip"),
              "test": (4884786, "eval_data_{type}_test.zip")}
    evaluator = "y-kawagu/dcase2021_task2_evaluator"
    dev_types = {t: ("00", "01", "02") for t in _TYPES}
    eval_types = {t: ("03", "04", "05") for t in _TYPES}
    test_folders = ("source_test", "target_test")
    scoring, aux_label, first_shot = PER_DOMAIN, "section", False
    files_per_domain, test_attributes, attribute_files = True, False, False

    def eval_name(self, section, domain, number):
        return f"section_{section}_{domain}_test_{number:04d}.wav"

    def evaluator_paths(self, machine_type, section):
        return [f"ground_truth_data/ground_truth_{machine_type}_section_{section}_{domain}_test.csv"
                for domain in ("source", "target")]
