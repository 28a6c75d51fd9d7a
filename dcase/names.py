"""The file-name grammar of every task year, parsed in one place.

2020: `normal_id_00_00000000.wav` (train), `anomaly_id_00_00000001.wav` (dev test), `id_01_00000000.wav`
(eval test). 2021 on: `section_00_source_train_normal_0000_<attributes>.wav`, the attributes being
`key_value` pairs joined by `_` (2021 test names have none; `noAttribute` (2024) and the empty string (2025)
mean concealed), evaluation test clips `section_03_source_test_0000.wav` (2021) or `section_00_0000.wav`,
and 2025's `supplemental/section_00_<kind>_0000_.wav`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CONCEALED = ("noAttribute", "")  # what a name carries when the attributes are withheld

_2020_LABELLED = re.compile(r"^(normal|anomaly)_id_(\d{2})_(\d+)\.wav$")
_2020_EVAL = re.compile(r"^id_(\d{2})_(\d+)\.wav$")
# the stage is missing from the 2024 RoboticArm original names (`section_00_source_normal_0035_weight15_BckgF`)
_LABELLED = re.compile(r"^section_(\d{2})_(source|target)_(?:(train|test)_)?(normal|anomaly)_(\d+)(?:_(.*))?\.wav$")
_EVAL_2021 = re.compile(r"^section_(\d{2})_(source|target)_test_(\d+)\.wav$")
_EVAL = re.compile(r"^section_(\d{2})_(\d+)\.wav$")
_SUPPLEMENTAL = re.compile(r"^section_(\d{2})_([a-z]+)_(\d+)(?:_(.*))?\.wav$")


@dataclass(frozen=True)
class ClipName:
    """What a clip's name says: label -1 and domain `unknown` where it hides them (evaluation test clips)."""
    scheme: str          # "2020" or "section"
    section: str
    domain: str          # source | target | unknown
    stage: str           # train | test | supplemental
    label: int           # 0 normal, 1 anomaly, -1 hidden
    number: str
    attributes: str      # `key_value_...`; "" when the name carries none or they are concealed
    original: str = ""   # ground truth only: the clip's original name, as the organisers published it


def parse(name: str) -> ClipName | None:
    """The fields of a DCASE clip name of any year, or None when it fits no year's grammar."""
    if m := _2020_LABELLED.match(name):
        return ClipName("2020", m[2], "source", "", int(m[1] == "anomaly"), m[3], "")
    if m := _2020_EVAL.match(name):
        return ClipName("2020", m[1], "source", "test", -1, m[2], "")
    if m := _LABELLED.match(name):
        attributes = m[6] or ""
        return ClipName("section", m[1], m[2], m[3] or "test", int(m[4] == "anomaly"), m[5],
                        "" if attributes in CONCEALED else attributes)
    if m := _EVAL_2021.match(name):
        return ClipName("section", m[1], m[2], "test", -1, m[3], "")
    if m := _EVAL.match(name):
        return ClipName("section", m[1], "unknown", "test", -1, m[2], "")
    if m := _SUPPLEMENTAL.match(name):
        return ClipName("section", m[1], "unknown", "supplemental", 0, m[3], m[4] or "")
    return None


def parse_attributes(text: str) -> dict[str, str]:
    """`car_A2_spd_28V_mic_1` -> {"car": "A2", "spd": "28V", "mic": "1"}; concealed -> {}.

    Keys and values alternate, so a value never contains `_`; an odd count means a key without a value,
    which is kept with the value "".
    """
    if text in CONCEALED:
        return {}
    tokens = text.split("_")
    return {tokens[i]: tokens[i + 1] if i + 1 < len(tokens) else "" for i in range(0, len(tokens), 2)}


def attribute_columns(row: list[str]) -> str:
    """An `attributes_XX.csv` row `file_name,d1p,d1v,d2p,d2v,...` -> `d1p_d1v_d2p_d2v` (empty cells dropped)."""
    cells = [c.strip() for c in row[1:]]
    pairs = [(cells[i], cells[i + 1] if i + 1 < len(cells) else "") for i in range(0, len(cells), 2)]
    return "_".join(f"{k}_{v}" for k, v in pairs if k and k not in CONCEALED)
