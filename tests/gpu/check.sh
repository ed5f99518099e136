#!/usr/bin/env bash
# The GPU check, run from the repository root on a GPU machine (after tests/gpu/prepare_carry.sh
# here, carrying .gpucheck): prints the device, builds the core layers + CUDA backend in
# core-only mode (no MPI/HDF5/YAML/GTest there; fmt header-only from .gpucheck, the no-BLAS
# CPU GEMM as the reference), runs gpu_check (kernels, the NCCL transport on one rank, a
# 20-step CPU vs CUDA training run, stories260K generation, benchmarks, training-step MFU), and ends with its table. Everything is also
# written to $OUT/gpu_check.log when $OUT is set, line by line (a crash or a timeout keeps what ran).
# Exit status: gpu_check's (non-zero if any check failed, the build failed, no CUDA device was
# found, or the time ran out: 124).
#
# Time: the whole script ends within GPU_CHECK_DEADLINE seconds (default 330, so that a rerun
# fits in a 15-minute device lease): the build and then gpu_check run under `timeout` with what
# is left, so a hung kernel costs the rest of the budget, never the lease.
#
# The same flags build here without a GPU: gpu_check then says "no CUDA device" and fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-gpucheck}
DEADLINE=${GPU_CHECK_DEADLINE:-330}
LOG=/dev/null
if [ -n "${OUT:-}" ]; then LOG="$OUT/gpu_check.log"; fi

# Seconds left before DEADLINE, less $1 kept for what follows (at least 1: `timeout 0` never ends).
seconds_left() {
    local left=$((DEADLINE - SECONDS - ${1:-0}))
    echo $((left > 0 ? left : 1))
}

run() {
    echo "== device"
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
        || echo "nvidia-smi: not available"
    local nvcc
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    if [ ! -x "$nvcc" ]; then
        echo "check.sh: no nvcc (not on PATH, not at /usr/local/cuda/bin/nvcc)"
        return 1
    fi
    echo "nvcc: $nvcc ($("$nvcc" --version | tail -1)); cmake $(cmake --version | head -1 | awk '{print $3}'); $(c++ --version | head -1)"
    if [ ! -f .gpucheck/include/fmt/format.h ]; then
        echo "check.sh: .gpucheck/include/fmt is missing: run tests/gpu/prepare_carry.sh and carry .gpucheck"
        return 1
    fi

    echo "== libraries"
    local generator=()
    if ninja --version >/dev/null 2>&1; then generator=(-G Ninja); fi  # one that runs, not just a name
    local toolkit
    toolkit=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
    # The pip wheels' roots (nvidia/cudnn, nvidia/nccl, nvidia/cu13, ... as PyTorch installs
    # them), each with lib/ and usually include/, on python3's sys.path.
    local wheels=() path
    while read -r path; do
        if [ -d "$path/nvidia" ]; then wheels+=("$path"/nvidia/*/); fi
    done < <(timeout 30 python3 -c 'import sys; print("\n".join(p for p in sys.path if p))' 2>/dev/null)
    local extra=() library_dirs=()
    # A library from the toolkit, else from a wheel, passed to CMake by its full path: wheels and
    # runtime packages ship only the versioned file (libcudnn.so.9, libnccl.so.2,
    # libcublasLt.so.13), which find_library does not look for. NCCL and cuDNN are taken only
    # with their header from the same place (a library without its header fails the compile).
    # Nothing found: CMake's own search decides; cuBLASLt is required, and without NCCL or
    # cuDNN the build drops them and their rows say SKIPPED.
    # usage: use_library LIBNAME LIBRARY_VARIABLE [HEADER INCLUDE_VARIABLE]
    use_library() {
        local root library
        for root in "$toolkit" "${wheels[@]}"; do
            root=${root%/}
            library=$(ls "$root"/lib64/"$1".so "$root"/lib/"$1".so "$root"/lib64/"$1".so.[0-9]* \
                "$root"/lib/"$1".so.[0-9]* 2>/dev/null | head -1)
            if [ -z "$library" ]; then continue; fi
            if [ -n "${3:-}" ] && [ ! -f "$root/include/$3" ]; then
                echo "$1: $library has no include/$3 beside it: not used"
                continue
            fi
            echo "$1: $library${3:+ with $root/include/$3}"
            extra+=("-D$2=$library")
            if [ -n "${3:-}" ]; then extra+=("-D$4=$root/include"); fi
            library_dirs+=("$(dirname "$library")")
            return
        done
        echo "$1: none usable in $toolkit or ${#wheels[@]} pip wheel folders: CMake's own search decides"
    }
    use_library libcublasLt CUDA_cublasLt_LIBRARY
    use_library libnccl NCCL_LIBRARY nccl.h NCCL_INCLUDE_DIR
    use_library libcudnn CUDNN_LIBRARY cudnn_graph.h CUDNN_INCLUDE_DIR
    # cuDNN loads its engine libraries (libcudnn_engines_*.so.9) with dlopen, which the
    # executable's RUNPATH does not serve: the folders go on LD_LIBRARY_PATH.
    if [ ${#library_dirs[@]} -gt 0 ]; then
        export LD_LIBRARY_PATH="$(IFS=:; echo "${library_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi

    echo "== build ($BUILD_DIR)"
    local start=$SECONDS
    # fmt and BLAS are ignored even where installed, so this build is the same here and there.
    cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DRINGLM_CORE_ONLY=ON -DRINGLM_CUDA=on -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 \
        -DRINGLM_FMT_INCLUDE="$PWD/.gpucheck/include" -DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON \
        -DCMAKE_DISABLE_FIND_PACKAGE_BLAS=ON -DRINGLM_TESTS=OFF -DRINGLM_BENCH=OFF "${extra[@]}" || return 1
    echo "CMake chose:"
    grep -E '^(CUDA_cublasLt_LIBRARY|NCCL_LIBRARY|NCCL_INCLUDE_DIR|CUDNN_LIBRARY|CUDNN_INCLUDE_DIR):' \
        "$BUILD_DIR/CMakeCache.txt" | sed 's/^/  /'
    # at least 90 s are kept for gpu_check (the previous H200 run: build 29 s, checks 16 s)
    timeout --kill-after=10 "$(seconds_left 90)" cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target gpu_check
    local status=$?
    if [ "$status" -ne 0 ]; then
        echo "check.sh: build failed (status $status$([ "$status" -eq 124 ] && echo ": out of time"))"
        return "$status"
    fi
    echo "build: $((SECONDS - start)) s"

    echo "== gpu_check (at most $(seconds_left) s)"
    start=$SECONDS
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} timeout --kill-after=10 "$(seconds_left)" \
        "$BUILD_DIR/tests/gpu/gpu_check" --require-device
    status=$?
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "check.sh: gpu_check ran out of time after $((SECONDS - start)) s (GPU_CHECK_DEADLINE=$DEADLINE); the rows above ran"
    elif [ "$status" -gt 128 ]; then
        echo "check.sh: gpu_check died of signal $((status - 128)) after $((SECONDS - start)) s; the rows above ran"
    fi
    echo "gpu_check: $((SECONDS - start)) s"
    return "$status"
}

run 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
echo "check.sh: exit status $status, $SECONDS s" | tee -a "$LOG"
exit "$status"
