"""DCASE 2022 Task 2: domain generalisation; the test domain is hidden and one threshold serves both."""
from dcase.tasks.base import SEVEN_2022, TaskYear
from dcase.tasks.registry import register


@register
class DCASE2022(TaskYear):
    name, year = "dcase2022", 2022
    zenodo = {"dev": (6355122, "dev_{type}.zip"), "train": (6462969, "eval_data_{type}_train.zip"),
              "test": (6586456, "eval_data_{type}_test.zip")}
    evaluator = "Kota-Dohi/dcase2022_evaluator"
    dev_types = {t: ("00", "01", "02") for t in SEVEN_2022}
    eval_types = {t: ("03", "04", "05") for t in SEVEN_2022}
    first_shot = False

    def evaluator_paths(self, machine_type, section):
        name = f"ground_truth_{machine_type}_section_{section}_test.csv"
        return [f"ground_truth_data/{name}", f"ground_truth_domain/{name}",
                f"ground_truth_attributes/{machine_type}/attributes_{section}.csv"]
