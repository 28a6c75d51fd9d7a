"""DCASE 2026 Task 2: noise-aware first shot; every clip stereo, near microphone left and far microphone right."""
from dcase.tasks.base import TaskYear
from dcase.tasks.registry import register


@register
class DCASE2026(TaskYear):
    name, year = "dcase2026", 2026
    zenodo = {"dev": (19336329, "dev_{type}.zip"), "train": (20151556, "eval_data_{type}_train.zip")}
    archive_names = {("dev", "ToyCar"): "dev_ToyCar_r2.zip"}
    renaming_list = False  # no evaluation test set yet
    dev_types = {t: ("00",) for t in ("ToyCar", "ToyCarEmu", "bearingEmu", "fan", "gearboxEmu", "sliderEmu", "valveEmu")}
    eval_types = {t: ("00",) for t in ("BlowerDustCollector", "Sander", "SewingMachine", "ToothBrush", "ToyDrone")}
    channels, default_channel = 2, "left"  # the official baseline reads channel 0, the near microphone
    baseline = "ae2023"  # nttcslab/dcase2023_task2_baseline_ae serves 2026 too
    # no public 2026 evaluator yet: scored as 2025 (the base class's domain-generalisation score)
