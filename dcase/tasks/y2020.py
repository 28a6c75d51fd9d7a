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
    archive_md5 = {  # the Zenodo records' MD5s, as soundata's dcase2020task2 loader pins them
        "dev_data_fan.zip": "649bdfc06263ae7a838963f43b6641e6", "dev_data_pump.zip": "90e7091ef722b7238a7f1009365779cd",
        "dev_data_slider.zip": "da24a757719f0d94d5aa2d646bbfdc86", "dev_data_ToyCar.zip": "4dec75ca8d9f666aa9e4c1894a740501",
        "dev_data_ToyConveyor.zip": "03b6aa1bfd09a39d53af0ba39f71fa91", "dev_data_valve.zip": "34d2672f55bb041589ef79c10dc89934",
        "eval_data_train_fan.zip": "567798854130c8019df8b664c095ed1e",
        "eval_data_train_pump.zip": "4e33ae9c0db5cc88437675f5e317caee",
        "eval_data_train_slider.zip": "f84f186f4295fc23754abcdd1b0580a7",
        "eval_data_train_ToyCar.zip": "a5d4ccd498af70b04dd74b644b820006",
        "eval_data_train_ToyConveyor.zip": "0e808ac0b761e9fb13d5e0c65caff00d",
        "eval_data_train_valve.zip": "057cdd560caffb8305449541afd28c6d",
        "eval_data_test_fan.zip": "1eb9356a768cadfd0f2e59a5c57e578b", "eval_data_test_pump.zip": "23a8f8f924be218c69df67fe07360348",
        "eval_data_test_slider.zip": "0193c769073840332ce3aad84b1ccaa2",
        "eval_data_test_ToyCar.zip": "bea2bdd612f616be8f2b8eb087b32c7c",
        "eval_data_test_ToyConveyor.zip": "ccfcc9847c7d3404d7ee9d6d9e0b2ba2",
        "eval_data_test_valve.zip": "f69c551d2088691050d20cccca9d631c",
    }
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
