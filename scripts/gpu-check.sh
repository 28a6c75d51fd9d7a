#!/usr/bin/env bash
# The GPU check as one command on the lent machine, from the working tree as it arrives there:
#   device run, carry [".whl"], command "bash scripts/gpu-check.sh"   (results land in $OUT)
# Carried wheels (scripts/device-wheels.sh) go on the path; the project is imported from the tree, no set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null && ! "${PYTHON:-python3}" -c "import soundfile" 2>/dev/null; then
  "${PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/asd-site .whl/*.whl
  export PYTHONPATH=/tmp/asd-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" -m bench.gpu_check "$@"
