#!/usr/bin/env bash
# The GPU check, run from the repository root on a GPU machine (after tests/gpu/prepare_carry.sh
# here, carrying .gpucheck): prints the device, builds the core layers + CUDA backend in
# core-only mode (no HDF5/YAML/GTest there; fmt header-only and Debian's Open MPI from .gpucheck,
# the no-BLAS CPU GEMM as the reference), runs gpu_check (kernels, the NCCL transport on one
# rank, a 20-step CPU vs CUDA training run, stories260K generation, benchmarks, training-step
# MFU) and ends with its table, then gpu_sp_check with S = 2 and 4 ranks sharing the GPU
# (sequence parallelism against one rank) and its table. Everything is also
# written to $OUT/gpu_check.log when $OUT is set, line by line (a crash or a timeout keeps what ran).
# Exit status: non-zero if any check failed (gpu_check's first, then gpu_sp_check's), the build
# failed, no CUDA device was found, or the time ran out (124).
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

    # Debian's Open MPI, carried as .deb files (prepare_carry.sh), unpacked into the build folder
    # and run from there: OPAL_PREFIX relocates it, and its libraries go on LD_LIBRARY_PATH
    # (also for the link: libmpi's own dependencies). With it the build adds gpu_sp_check.
    local mpi_args=()
    if ls .gpucheck/openmpi/*.deb >/dev/null 2>&1; then
        if unpack_openmpi "$BUILD_DIR/openmpi"; then
            mpi_args=(-DMPI_C_COMPILER="$OPAL_PREFIX/bin/mpicc.openmpi")
        else
            echo "Open MPI: could not unpack .gpucheck/openmpi: no gpu_sp_check"
        fi
    else
        echo "Open MPI: not carried (run tests/gpu/prepare_carry.sh): no gpu_sp_check"
    fi

    echo "== build ($BUILD_DIR)"
    local start=$SECONDS
    # fmt and BLAS are ignored even where installed, so this build is the same here and there.
    cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DRINGLM_CORE_ONLY=ON -DRINGLM_CUDA=on -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 \
        -DRINGLM_FMT_INCLUDE="$PWD/.gpucheck/include" -DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON \
        -DCMAKE_DISABLE_FIND_PACKAGE_BLAS=ON -DRINGLM_TESTS=OFF -DRINGLM_BENCH=OFF "${extra[@]}" "${mpi_args[@]}" \
        || return 1
    # gpu_sp_check (only with the carried MPI, unpacked above) keeps SP_SECONDS (default 100) of
    # the time for its two runs, from the build's time too
    local sp_check="$BUILD_DIR/tests/gpu/gpu_sp_check" sp_reserve=0
    if [ ${#mpi_args[@]} -gt 0 ]; then sp_reserve=${SP_SECONDS:-100}; fi
    echo "CMake chose:"
    grep -E '^(CUDA_cublasLt_LIBRARY|NCCL_LIBRARY|NCCL_INCLUDE_DIR|CUDNN_LIBRARY|CUDNN_INCLUDE_DIR|MPI_C_COMPILER|MPI_mpi_LIBRARY):' \
        "$BUILD_DIR/CMakeCache.txt" | sed 's/^/  /'
    # at least 90 s are kept for gpu_check (the previous H200 run: build 29 s, checks 16 s).
    # gpu_check first, so a compile error in gpu_sp_check alone does not stop it.
    timeout --kill-after=10 "$(seconds_left $((90 + sp_reserve)))" \
        cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target gpu_check
    local status=$?
    if [ "$status" -ne 0 ]; then
        echo "check.sh: build failed (status $status$([ "$status" -eq 124 ] && echo ": out of time"))"
        return "$status"
    fi
    if [ "$sp_reserve" -gt 0 ]; then
        rm -f "$sp_check"  # never a leftover binary from an earlier call
        timeout --kill-after=10 "$(seconds_left $((90 + sp_reserve)))" \
            cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target gpu_sp_check
        local sp_build=$?
        if [ "$sp_build" -ne 0 ]; then
            echo "check.sh: gpu_sp_check's build failed (status $sp_build): gpu_check runs alone"
            sp_reserve=0
        fi
    fi
    echo "build: $((SECONDS - start)) s"

    echo "== gpu_check (at most $(seconds_left "$sp_reserve") s)"
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} timed gpu_check "$(seconds_left "$sp_reserve")" \
        "$BUILD_DIR/tests/gpu/gpu_check" --require-device
    status=$?
    if [ "$sp_reserve" -eq 0 ]; then
        if [ ${#mpi_args[@]} -gt 0 ] && [ "$status" -eq 0 ]; then return 1; fi  # gpu_sp_check did not build
        return "$status"
    fi

    # S ranks on the one GPU; as root, oversubscribed, unbound (the sandbox's topology may not
    # bind), shared memory copied in and out (no cross-memory attach in a sandbox), and quiet
    # about the carried transports whose hardware libraries are absent.
    local mpi_env=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
                   OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mca_base_component_show_load_errors=0
                   PMIX_MCA_pcompress_base_silence_warning=1 OMP_NUM_THREADS=4)
    echo "== gpu_sp_check, S = 2 and the Llama-3.2-1B shape (at most $(seconds_left 40) s)"
    (export "${mpi_env[@]}"; timed "gpu_sp_check S=2" "$(seconds_left 40)" \
        "$OPAL_PREFIX/bin/orterun" -np 2 --bind-to none "$sp_check" --require-device --llama32-1b)
    local sp_status=$?
    echo "== gpu_sp_check, S = 4 (at most $(seconds_left) s)"
    (export "${mpi_env[@]}"; timed "gpu_sp_check S=4" "$(seconds_left)" \
        "$OPAL_PREFIX/bin/orterun" -np 4 --bind-to none "$sp_check" --require-device)
    local sp4_status=$?
    echo "check.sh: gpu_check status $status, gpu_sp_check S=2 status $sp_status, S=4 status $sp4_status"
    if [ "$status" -ne 0 ]; then return "$status"; fi
    if [ "$sp_status" -ne 0 ]; then return "$sp_status"; fi
    return "$sp4_status"
}

# usage: timed NAME SECONDS COMMAND...: COMMAND under `timeout SECONDS`, saying how it ended.
timed() {
    local name=$1 limit=$2 start=$SECONDS status
    shift 2
    timeout --kill-after=10 "$limit" "$@"
    status=$?
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "check.sh: $name ran out of time after $((SECONDS - start)) s (GPU_CHECK_DEADLINE=$DEADLINE); the rows above ran"
    elif [ "$status" -gt 128 ]; then
        echo "check.sh: $name died of signal $((status - 128)) after $((SECONDS - start)) s; the rows above ran"
    fi
    echo "$name: $((SECONDS - start)) s"
    return "$status"
}

# usage: unpack_openmpi FOLDER: the carried .deb files unpacked into FOLDER (dpkg-deb, else ar
# and tar), then OPAL_PREFIX and LD_LIBRARY_PATH exported for it (its folders after those already
# on LD_LIBRARY_PATH, which keep the lead: the CUDA wheels' libraries above).
unpack_openmpi() {
    local root deb
    rm -rf "$1" && mkdir -p "$1" || return 1
    root=$(cd "$1" && pwd)
    for deb in .gpucheck/openmpi/*.deb; do
        deb=$(readlink -f "$deb")
        if command -v dpkg-deb >/dev/null; then
            dpkg-deb -x "$deb" "$root" || return 1
        else
            (cd "$root" && ar p "$deb" "$(ar t "$deb" | grep '^data.tar')" | tar -xJ) || return 1
        fi
    done
    export OPAL_PREFIX="$root/usr"
    local libraries="$OPAL_PREFIX/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu"
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$libraries"
    echo "Open MPI: $("$OPAL_PREFIX/bin/ompi_info" --version 2>&1 | head -1) unpacked into $root"
}

run 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
echo "check.sh: exit status $status, $SECONDS s" | tee -a "$LOG"
exit "$status"
