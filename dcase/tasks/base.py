"""What one DCASE Task 2 year is: its machine types and sections, file names, layout and official score.

Each year's module declares a `TaskYear` subclass; the reader, the generator, the submission writer and
the scorer read everything year-specific from it.
"""
from __future__ import annotations

import re
from typing import ClassVar

import numpy as np

from dcase.scoring import DOMAIN_GENERALISATION, Scoring

# the official baseline's commit that holds every year's renaming list, eval_data_list_2020.csv ... 2025.csv
BASELINE_RAW = "https://raw.githubusercontent.com/nttcslab/dcase2023_task2_baseline_ae/9b64dc42276a64f65b7cbf2761d3c9ec525cff94"
SEVEN_2022 = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")


class TaskYear:
    name: ClassVar[str] = ""
    year: ClassVar[int] = 0
    dev_types: ClassVar[dict[str, tuple[str, ...]]] = {}   # machine type -> development sections
    eval_types: ClassVar[dict[str, tuple[str, ...]]] = {}  # machine type -> evaluation sections
    scheme: ClassVar[str] = "section"          # the name grammar: "2020" (machine IDs) or "section"
    test_folders: ClassVar[tuple[str, ...]] = ("test",)
    scoring: ClassVar[Scoring] = DOMAIN_GENERALISATION  # the official score (`dcase.scoring`)
    files_per_domain: ClassVar[bool] = False   # one submission file per section and domain (2021)
    test_attributes: ClassVar[bool] = True     # test clip names carry attributes
    attribute_files: ClassVar[bool] = True     # `attributes_XX.csv` beside `train/`
    baseline: ClassVar[str | None] = None      # the embedder that is the year's official baseline
    aux_label: ClassVar[str] = "attribute"     # the classifier's default target: "section" or "attribute"
    first_shot: ClassVar[bool] = True          # evaluation machine types unseen in development
    supplemental: ClassVar[bool] = False       # a supplemental/ folder of extra clips (2025)
    concealed: ClassVar[str | None] = None     # how a name marks concealed attributes ("noAttribute", "")
    concealed_marks: ClassVar[tuple[str, ...]] = ()  # every mark its real names use (the reader accepts each)
    numbering_from: ClassVar[int] = 0          # first clip number in names
    clip_seconds: ClassVar[dict[str, float]] = {}  # real clip lengths that differ from 10 s, per machine type
    # where the data is: per part (`dev`, `train`: additional training, `test`: evaluation test), the Zenodo
    # record and the archive name (`{type}` for the machine type); archives named otherwise, by (part, type)
    zenodo: ClassVar[dict[str, tuple[int, str]]] = {}
    archive_names: ClassVar[dict[tuple[str, str], str]] = {}
    # the MD5 of each archive (by file name) as its Zenodo record lists it, where a published source carries it;
    # `bench data download` checks each archive listed here, and only the size and CRCs of the others
    archive_md5: ClassVar[dict[str, str]] = {}
    evaluator: ClassVar[str | None] = None     # the GitHub repository holding the evaluator's ground_truth_* files
    renaming_list: ClassVar[bool] = True       # the official baseline publishes `eval_data_list_<year>.csv`
    channels: ClassVar[int] = 1                # microphones per clip file
    default_channel: ClassVar[str] = ""        # the channel read without --channel ("": a mono year)
    # the official baselines' decision threshold (their config's `decision_threshold`, 0.9 from 2021 on): a
    # normal clip's score falls below it with this probability
    decision_quantile: ClassVar[float] = 0.9

    # ------------------------------------------------------------------ names
    @property
    def ground_truth_list(self) -> str:
        """The renaming list published with the baseline for the evaluation test clips."""
        return f"eval_data_list_{self.year}.csv"

    def train_name(self, section: str, domain: str, number: int, attributes: str) -> str:
        return f"section_{section}_{domain}_train_normal_{number:04d}_{attributes}.wav"

    def test_name(self, section: str, domain: str, label: int, number: int, attributes: str) -> str:
        kind = "anomaly" if label else "normal"
        tail = f"_{attributes}" if self.test_attributes else ""
        return f"section_{section}_{domain}_test_{kind}_{number:04d}{tail}.wav"

    def eval_name(self, section: str, domain: str, number: int) -> str:
        """The anonymised name of an evaluation test clip."""
        return f"section_{section}_{number:04d}.wav"

    def test_folder(self, domain: str) -> str:
        return self.test_folders[0] if len(self.test_folders) == 1 else f"{domain}_test"

    # ------------------------------------------------------------------ submission files
    def submission_key(self, domain: str) -> str:
        """Which file a test clip's score goes to within its section: one per domain in 2021, else one."""
        return domain if self.files_per_domain else ""

    def submission_name(self, kind: str, machine_type: str, section: str, key: str = "") -> str:
        """`anomaly_score_...` or `decision_result_...` file name, exactly as the year's evaluator reads it."""
        return f"{kind}_{machine_type}_section_{section}_{key + '_' if key else ''}test.csv"

    def submission_pattern(self) -> re.Pattern:
        """A score file's name: groups machine type, section (and domain where files are per domain)."""
        domain = "_(source|target)" if self.files_per_domain else ""
        return re.compile(rf"^anomaly_score_(.+)_section_(\d{{2}}){domain}_test\.csv$")

    def submission_folder(self, method: str) -> str:
        """Where a method's submission files go under the results folder (then `dev/` or `eval/`)."""
        return f"{self.name}/{method}"

    def decision_threshold(self, normal_scores) -> float:
        """The score above which a clip is called anomalous, from scores of normal clips the scorer was not fitted
        on. The baselines fit a gamma to their own training scores; held-out clips replace that because a scorer
        that memorises (kNN, LOF) scores its training clips near 0, and any parametric fit to those would put
        the threshold far too low."""
        return float(np.quantile(normal_scores, self.decision_quantile))

    def result_rows(self, clips):
        """The per-section (and per-domain) figures of scored test clips, as `results.csv` rows: the scoring's
        table, what its `auc` means, and the 2020 `machine_id` column (empty where sections are not IDs)."""
        table = self.scoring.section_table(clips)
        return table.assign(metric=[self.scoring.metric[d] for d in table.domain],
                            machine_id=table.section if self.scheme == "2020" else "")

    def classifier_target(self, aux_label: str | None) -> str:
        """What the ID classifier's classes are, in words."""
        return "machine type, section" + (", attributes" if (aux_label or self.aux_label) == "attribute" else "")

    def archive(self, part: str, machine_type: str) -> str | None:
        """The URL of one machine type's archive of `part` (dev, train, test); None where it is not public."""
        if part not in self.zenodo:
            return None
        record, pattern = self.zenodo[part]
        name = self.archive_names.get((part, machine_type), pattern.format(type=machine_type))
        return f"https://zenodo.org/records/{record}/files/{name}"

    def ground_truth_files(self, machine_types) -> list[tuple[str, str]]:
        """(URL, path under the data root) of each published ground-truth file for these evaluation types: the
        baseline's renaming list, and the evaluator's files (under `evaluator/`, which the reader prefers)."""
        out = []
        if self.renaming_list:
            out.append((f"{BASELINE_RAW}/datasets/{self.ground_truth_list}", self.ground_truth_list))
        if self.evaluator:
            for machine_type in machine_types:
                for section in self.eval_types.get(machine_type, ()):
                    out += [(f"https://raw.githubusercontent.com/{self.evaluator}/HEAD/{path}", f"evaluator/{path}")
                            for path in self.evaluator_paths(machine_type, section)]
        return out

    def evaluator_paths(self, machine_type: str, section: str) -> list[str]:
        """The evaluator repository's ground-truth files of one evaluation section (2023, 2024 layout)."""
        name = f"ground_truth_{machine_type}_section_{section}_test.csv"
        return [f"{folder}/{name}" for folder in ("ground_truth_data", "ground_truth_domain", "ground_truth_attributes")]

    def all_types(self) -> dict[str, tuple[str, ...]]:
        out = {t: tuple(s) for t, s in self.dev_types.items()}
        for t, s in self.eval_types.items():
            out[t] = tuple(sorted(set(out.get(t, ())) | set(s)))
        return out

    def __repr__(self) -> str:
        return self.name
