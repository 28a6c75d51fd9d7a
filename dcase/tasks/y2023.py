"""DCASE 2023 Task 2: first shot; the evaluation machine types never appear in development."""
from dcase.tasks.base import SEVEN_2022, TaskYear
from dcase.tasks.registry import register


@register
class DCASE2023(TaskYear):
    name, year = "dcase2023", 2023
    zenodo = {"dev": (7882613, "dev_{type}.zip"), "train": (7830345, "eval_data_{type}_train.zip"),
              "test": (7860847, "eval_data_{type}_test.zip")}
    archive_md5 = {  # the Zenodo records' MD5s, as soundata's dcase23_task2 loader pins them
        "dev_bearing.zip": "8a813bc8d8f156b5395bfccdfac7673c", "dev_fan.zip": "9348591e96fb0ad499a1e33b082562fc",
        "dev_gearbox.zip": "b6e55f6a31faa0fc8569ec0afdd53ccf", "dev_slider.zip": "b3f8dee36b4718c36d659a4fd1c4afe0",
        "dev_ToyCar.zip": "4e3bf15f4101ed4ed4f1fecde2e2b2a3", "dev_ToyTrain.zip": "6b02a6c65eebb3b8b1ae59a6b25bb897",
        "dev_valve.zip": "b2051a2022eadb53cd97581120811cae",
        "eval_data_bandsaw_train.zip": "9274dfe63de028743823f1123f8b4b47",
        "eval_data_grinder_train.zip": "17569c1f9df23621a0dbabc430684a35",
        "eval_data_shaker_train.zip": "35f821b5645b731fb5a1750e33b95fc3",
        "eval_data_ToyDrone_train.zip": "7fea367d1384a1521ae24f72203238de",
        "eval_data_ToyNscale_train.zip": "9332822f3e47afd984c01f2ecb5ca3af",
        "eval_data_ToyTank_train.zip": "b1fd3ab7de7561290df2d477de1c9d33",
        "eval_data_Vacuum_train.zip": "1c8de33d9a8c7850a1f7aaddb97d87be",
        "eval_data_bandsaw_test.zip": "2a8e8f39f6584ab366a8f4da52d4d7a6",
        "eval_data_grinder_test.zip": "631b3e1608b6077772829a6e68c82c77",
        "eval_data_shaker_test.zip": "ba98c98caa96051ec80e24e44b8fca56",
        "eval_data_ToyDrone_test.zip": "fdae7b8d1f4cadb2bea88bc93e2367db",
        "eval_data_ToyNscale_test.zip": "62f5f5043d8fb3a305b1c2e1025872de",
        "eval_data_ToyTank_test.zip": "f5639bf58c47169c622751f19c6fc321",
        "eval_data_Vacuum_test.zip": "a32524fd8c45b574a560685b38acc4e1",
    }
    evaluator = "nttcslab/dcase2023_task2_evaluator"
    baseline = "ae2023"  # nttcslab/dcase2023_task2_baseline_ae serves 2023 to 2025
    dev_types = {t: ("00",) for t in SEVEN_2022}
    eval_types = {t: ("00",) for t in ("ToyDrone", "ToyNscale", "ToyTank", "Vacuum", "bandsaw", "grinder", "shaker")}
    clip_seconds = {"ToyCar": 12.0, "ToyTrain": 12.0}  # measured on the real release clips
