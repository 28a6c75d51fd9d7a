"""Fail unless the wheel holds every package and every data file the code opens at run time."""
import sys
import zipfile
from pathlib import Path

REQUIRED = ["dcase/calibration.json", "dcase/domain_calibration.json", "dcase/attribute_schemas.json", "dcase/tasks/base.py", "datatools/calibrate.py", "bench/cli.py",
            "leaderboard/columns.py", "methods/knn.py", "embeddings/pipeline.py", "core/plugins.py"]

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
missing = [f for f in REQUIRED if f not in names]
if missing:
    sys.exit(f"{Path(sys.argv[1]).name}: missing {', '.join(missing)}; add them to pyproject.toml's package-data")
print(f"{Path(sys.argv[1]).name}: {len(names)} files, every required one present")
