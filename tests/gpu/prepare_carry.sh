#!/usr/bin/env bash
# Run HERE (the development machine) before tests/gpu/check.sh is sent to a GPU machine:
# copies into .gpucheck/ (git-ignored) what that machine lacks and the core-only build needs,
# so the device call can carry it (carry: [".gpucheck"]). Today that is fmt's headers (used
# header-only there); the GPU image has CUDA, cmake and Python (pip-wheel cuDNN/NCCL, which
# check.sh finds), maybe ninja, but no MPI/HDF5/YAML/fmt/BLAS.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpucheck
mkdir -p .gpucheck/include
cp -r /usr/include/fmt .gpucheck/include/fmt
echo "prepared .gpucheck ($(du -sh .gpucheck | cut -f1)): fmt $(grep -m1 '#define FMT_VERSION' .gpucheck/include/fmt/core.h | awk '{print $3}')"
