#!/usr/bin/env bash
# Fetch, here, the wheels the GPU machine lacks (it has no package registry): pinned, x86-64, its Python 3.12.
# They land in .whl/ (git-ignored); name `.whl` in the device run's `carry`. The transfer limit is 64 MiB for
# the whole working tree, so faiss for GPUs comes only if it and the CUDA 12 libraries it needs fit (they do
# not: cuBLAS for CUDA 12 alone is over 500 MiB, and the machine's own CUDA is 13), else kNN and LOF run on
# the torch paths there, which scripts/gpu-check.sh reports.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUDGET_MIB=${BUDGET_MIB:-40}   # what the wheels may add to the working tree sent to the device
rm -rf .whl && mkdir .whl
fetch() {
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d "$1" "${@:2}"
}
# soundfile (with its libsndfile) and what it imports; the machine's image has neither
fetch .whl soundfile==0.13.1 cffi==1.17.1 pycparser==2.22
faiss_dir=$(mktemp -d)
carried=yes
for wheel in faiss-gpu-cu12==1.14.1.post1 nvidia-cuda-runtime-cu12==12.9.79 nvidia-cublas-cu12==12.9.1.4; do
  fetch "$faiss_dir" "$wheel" || { carried="no ($wheel: no wheel for this machine)"; break; }
  [ "$(du -sm "$faiss_dir" | cut -f1)" -le "$BUDGET_MIB" ] || { carried="no (over ${BUDGET_MIB} MiB with $wheel)"; break; }
done
if [ "$carried" = yes ]; then
  mv "$faiss_dir"/*.whl .whl/ && echo "faiss: faiss-gpu-cu12 carried"
else
  echo "faiss: not carried: $carried; kNN and LOF use the torch CUDA paths"
fi
rm -rf "$faiss_dir"
ls -1 .whl && du -sh .whl
