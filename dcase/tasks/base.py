"""What one DCASE Task 2 year is: its machine types and sections, file names, layout and official score.

Each year's module declares a `TaskYear` subclass; the reader, the generator, the submission writer and
the scorer read everything year-specific from it.
"""
from __future__ import annotations

from typing import ClassVar

SEVEN_2022 = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")


class TaskYear:
    name: ClassVar[str] = ""
    year: ClassVar[int] = 0
    dev_types: ClassVar[dict[str, tuple[str, ...]]] = {}   # machine type -> development sections
    eval_types: ClassVar[dict[str, tuple[str, ...]]] = {}  # machine type -> evaluation sections
    scheme: ClassVar[str] = "section"          # the name grammar: "2020" (machine IDs) or "section"
    test_folders: ClassVar[tuple[str, ...]] = ("test",)
    score: ClassVar[str] = "domain"            # "2020" per ID, "2021" per domain, "domain" (2022 on)
    aux_label: ClassVar[str] = "attribute"     # the classifier's default target: "section" or "attribute"
    first_shot: ClassVar[bool] = True          # evaluation machine types unseen in development
    supplemental: ClassVar[bool] = False       # a supplemental/ folder of extra clips (2025)
    concealed: ClassVar[str | None] = None     # how a name marks concealed attributes ("noAttribute", "")
    numbering_from: ClassVar[int] = 0          # first clip number in names

    def __init__(self, device: str = "cpu"):
        pass  # the registry builds plugins with a device; a task year has no use for it

    # ------------------------------------------------------------------ names
    @property
    def ground_truth_list(self) -> str:
        """The renaming list published with the baseline for the evaluation test clips."""
        return f"eval_data_list_{self.year}.csv"

    def train_name(self, section: str, domain: str, number: int, attributes: str) -> str:
        return f"section_{section}_{domain}_train_normal_{number:04d}_{attributes}.wav"

    def test_name(self, section: str, domain: str, label: int, number: int, attributes: str) -> str:
        kind = "anomaly" if label else "normal"
        tail = "" if self.year == 2021 else f"_{attributes}"  # 2021 test names carry no attributes
        return f"section_{section}_{domain}_test_{kind}_{number:04d}{tail}.wav"

    def eval_name(self, section: str, domain: str, number: int) -> str:
        """The anonymised name of an evaluation test clip."""
        return f"section_{section}_{number:04d}.wav"

    def test_folder(self, domain: str) -> str:
        return self.test_folders[0] if len(self.test_folders) == 1 else f"{domain}_test"

    # ------------------------------------------------------------------ submission files
    def submission_key(self, domain: str) -> str:
        """Which file a test clip's score goes to within its section: one per domain in 2021, else one."""
        return domain if self.score == "2021" else ""

    def submission_name(self, kind: str, machine_type: str, section: str, key: str = "") -> str:
        """`anomaly_score_...` or `decision_result_...` file name, exactly as the year's evaluator reads it."""
        if self.scheme == "2020":
            return f"{kind}_{machine_type}_id_{section}.csv"
        return f"{kind}_{machine_type}_section_{section}_{key + '_' if key else ''}test.csv"

    def all_types(self) -> dict[str, tuple[str, ...]]:
        out = {t: tuple(s) for t, s in self.dev_types.items()}
        for t, s in self.eval_types.items():
            out[t] = tuple(sorted(set(out.get(t, ())) | set(s)))
        return out

    def __repr__(self) -> str:
        return self.name
