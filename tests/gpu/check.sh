#!/usr/bin/env bash
# The GPU check, run from the repository root on a GPU machine (after tests/gpu/prepare_carry.sh
# here, carrying .gpucheck): prints the device, builds the core layers + CUDA backend in
# core-only mode (no MPI/HDF5/YAML/GTest there; fmt header-only from .gpucheck, the no-BLAS
# CPU GEMM as the reference), runs gpu_check (kernels, the NCCL transport on one rank, a
# 20-step CPU vs CUDA training run, stories260K generation, benchmarks, training-step MFU), and ends with its table. Everything is also
# written to $OUT/gpu_check.log when $OUT is set. Exit status: gpu_check's (non-zero if any
# check failed, the build failed, or no CUDA device was found).
#
# The same flags build here without a GPU: gpu_check then says "no CUDA device" and fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-gpucheck}
LOG=/dev/null
if [ -n "${OUT:-}" ]; then LOG="$OUT/gpu_check.log"; fi

run() {
    echo "== device"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
        || echo "nvidia-smi: not available"
    local nvcc
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    echo "nvcc: $nvcc ($("$nvcc" --version | tail -1)); cmake $(cmake --version | head -1 | awk '{print $3}'); $(c++ --version | head -1)"
    if [ ! -f .gpucheck/include/fmt/format.h ]; then
        echo "check.sh: .gpucheck/include/fmt is missing: run tests/gpu/prepare_carry.sh and carry .gpucheck"
        return 1
    fi

    local generator=()
    if command -v ninja >/dev/null; then generator=(-G Ninja); fi
    local extra=()
    local toolkit_lib
    toolkit_lib="$(dirname "$(dirname "$(readlink -f "$nvcc")")")/lib64"
    # A library normally next to the toolkit; if it is not there, the one a pip wheel brings
    # (nvidia/*, as PyTorch installs them): cuBLASLt (needed), NCCL (the transport's 1-rank
    # rows; without it one SKIPPED row) and cuDNN (the cuDNN attention rows).
    # usage: use_wheel_library LIBNAME LIBRARY_VARIABLE [INCLUDE_VARIABLE]
    use_wheel_library() {
        if ls "$toolkit_lib/$1".so* >/dev/null 2>&1; then return; fi
        local found
        found=$(find / -xdev -name "$1.so*" -path '*nvidia*' 2>/dev/null | head -1)
        echo "$1 not in $toolkit_lib; using ${found:-nothing found}"
        if [ -z "$found" ]; then return; fi
        extra+=("-D$2=$found")
        if [ -n "${3:-}" ]; then extra+=("-D$3=$(dirname "$(dirname "$found")")/include"); fi
    }
    use_wheel_library libcublasLt CUDA_cublasLt_LIBRARY
    use_wheel_library libnccl NCCL_LIBRARY NCCL_INCLUDE_DIR
    use_wheel_library libcudnn CUDNN_LIBRARY CUDNN_INCLUDE_DIR

    echo "== build ($BUILD_DIR)"
    local start=$SECONDS
    # fmt and BLAS are ignored even where installed, so this build is the same here and there.
    cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DRINGLM_CORE_ONLY=ON -DRINGLM_CUDA=on -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 \
        -DRINGLM_FMT_INCLUDE="$PWD/.gpucheck/include" -DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON \
        -DCMAKE_DISABLE_FIND_PACKAGE_BLAS=ON -DRINGLM_TESTS=OFF -DRINGLM_BENCH=OFF "${extra[@]}" || return 1
    cmake --build "$BUILD_DIR" -j "${JOBS:-16}" --target gpu_check || return 1
    echo "build: $((SECONDS - start)) s"

    echo "== gpu_check"
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-16} "$BUILD_DIR/tests/gpu/gpu_check" --require-device
}

run 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
echo "check.sh: exit status $status"
exit "$status"
