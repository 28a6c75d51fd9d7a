"""DCASE 2020 Task 2: machine IDs, no domains, AUC/pAUC per ID."""
import re

from dcase.scoring import PER_MACHINE_ID
from dcase.tasks.base import TaskYear
from dcase.tasks.registry import register

_DEV = {"ToyCar": ("01", "02", "03", "04"), "ToyConveyor": ("01", "02", "03"), "fan": ("00", "02", "04", "06"),
        "pump": ("00", "02", "04", "06"), "slider": ("00", "02", "04", "06"), "valve": ("00", "02", "04", "06")}
_EVAL = {"ToyCar": ("05", "06", "07"), "ToyConveyor": ("04", "05", "06"), "fan": ("01", "03", "05"),
         "pump": ("01", "03", "05"), "slider": ("01", "03", "05"), "valve": ("01", "03", "05")}


@register
class DCASE2020(TaskYear):
    name, year = "dcase2020", 2020
    zenodo = {"dev": (3678171, "dev_data_{type}.zip"), "train": (3727685, "eval_data_train_{type}.zip"),
              "test": (3841772, "eval_data_test_{type}.zip")}
    dev_types, eval_types = _DEV, _EVAL
    scheme, scoring, aux_label, first_shot = "2020", PER_MACHINE_ID, "section", False
    attribute_files, baseline = False, "ae2020"

    @property
    def ground_truth_list(self) -> str:
        return "eval_data_list_2020.csv"  # `eval_data_list.csv`, its older name, is read too

    def train_name(self, section, domain, number, attributes):
        return f"normal_id_{section}_{number:08d}.wav"

    def test_name(self, section, domain, label, number, attributes):
        return f"{'anomaly' if label else 'normal'}_id_{section}_{number:08d}.wav"

    def eval_name(self, section, domain, number):
        return f"id_{section}_{number:08d}.wav"

    def submission_name(self, kind, machine_type, section, key=""):
        return f"{kind}_{machine_type}_id_{section}.csv"

    def submission_pattern(self):
        return re.compile(r"^anomaly_score_(.+)_id_(\d{2})\.csv$")

    def submission_folder(self, method):
        return method  # results/<method>/, as before task years existed

    def classifier_target(self, aux_label):
        return "machine type, ID"
