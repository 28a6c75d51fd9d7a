"""DCASE 2025 Task 2: first shot, empty attribute fields, and supplemental clean-machine and noise clips."""
from dcase.tasks.base import SEVEN_2022, TaskYear
from dcase.tasks.registry import register


@register
class DCASE2025(TaskYear):
    name, year = "dcase2025", 2025
    zenodo = {"dev": (15097779, "dev_{type}.zip"), "train": (15392814, "eval_data_{type}_train.zip"),
              "test": (15519362, "eval_data_{type}_test.zip")}
    baseline = "ae2023"  # nttcslab/dcase2023_task2_baseline_ae serves 2023 to 2025
    dev_types = {t: ("00",) for t in SEVEN_2022}
    eval_types = {t: ("00",) for t in ("AutoTrash", "BandSealer", "CoffeeGrinder", "HomeCamera", "Polisher",
                                       "ScrewFeeder", "ToyPet", "ToyRCCar")}
    supplemental, concealed = True, ""
    # the released training names of ToyTrain, bearing, slider and four evaluation types end in `_noAttribute`, as in
    # 2024 (their attributes_00_train_correspondence.csv files map each full name to one)
    concealed_marks = ("", "noAttribute")
