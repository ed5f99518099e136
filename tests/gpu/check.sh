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
    # cuBLASLt normally comes with the toolkit; if not, take the one PyTorch's wheels bring.
    local toolkit_lib
    toolkit_lib="$(dirname "$(dirname "$(readlink -f "$nvcc")")")/lib64"
    if ! ls "$toolkit_lib"/libcublasLt.so* >/dev/null 2>&1; then
        local found
        found=$(find / -xdev -name 'libcublasLt.so*' -path '*nvidia*' 2>/dev/null | head -1)
        echo "cuBLASLt not in $toolkit_lib; using ${found:-nothing found}"
        if [ -n "$found" ]; then extra+=(-DCUDA_cublasLt_LIBRARY="$found"); fi
    fi
    # NCCL (the transport's 1-rank rows) likewise: the toolkit's, else a pip wheel's (nvidia/nccl);
    # without it gpu_check shows one SKIPPED row.
    if ! ls "$toolkit_lib"/libnccl.so* >/dev/null 2>&1; then
        local nccl_lib
        nccl_lib=$(find / -xdev -name 'libnccl.so*' -path '*nvidia*' 2>/dev/null | head -1)
        echo "NCCL not in $toolkit_lib; using ${nccl_lib:-nothing found}"
        if [ -n "$nccl_lib" ]; then
            extra+=(-DNCCL_LIBRARY="$nccl_lib" -DNCCL_INCLUDE_DIR="$(dirname "$(dirname "$nccl_lib")")/include")
        fi
    fi
    # cuDNN (the cuDNN attention rows) likewise: the toolkit's, else a pip wheel's (nvidia/cudnn).
    if ! ls "$toolkit_lib"/libcudnn.so* >/dev/null 2>&1; then
        local cudnn_lib
        cudnn_lib=$(find / -xdev -name 'libcudnn.so*' -path '*nvidia*' 2>/dev/null | head -1)
        echo "cuDNN not in $toolkit_lib; using ${cudnn_lib:-nothing found}"
        if [ -n "$cudnn_lib" ]; then
            extra+=(-DCUDNN_LIBRARY="$cudnn_lib" -DCUDNN_INCLUDE_DIR="$(dirname "$(dirname "$cudnn_lib")")/include")
        fi
    fi

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
