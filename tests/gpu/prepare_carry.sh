#!/usr/bin/env bash
# Run HERE (the development machine) before tests/gpu/check.sh is sent to a GPU machine:
# copies into .gpucheck/ (git-ignored) what that machine lacks and the core-only build needs,
# so the device call can carry it (carry: [".gpucheck"]). The GPU image has CUDA, cmake and
# Python (pip-wheel cuDNN/NCCL, which check.sh finds), maybe ninja, but no MPI/HDF5/YAML/fmt/BLAS:
#   .gpucheck/include/fmt  fmt's headers (used header-only there);
#   .gpucheck/openmpi/     Debian 12's Open MPI as .deb files (about 7 MB): the library, mpirun,
#                          the headers, and the libraries they load that an image may lack (not
#                          libc, libstdc++ or zlib). check.sh unpacks them into its build folder
#                          and runs them from there (OPAL_PREFIX), for S ranks on the one GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpucheck
mkdir -p .gpucheck/include .gpucheck/openmpi
cp -r /usr/include/fmt .gpucheck/include/fmt
packages=(libopenmpi3 libopenmpi-dev openmpi-bin openmpi-common libpmix2 libhwloc15 libevent-core-2.1-7
          libevent-pthreads-2.1-7 libfabric1 libibverbs1 librdmacm1 libnl-3-200 libnl-route-3-200 libpsm-infinipath1
          libpsm2-2 libucx0 libnuma1 libpciaccess0 libmunge2 libudev1)
# apt-get download writes into the current folder; as root it warns that _apt cannot write there
(cd .gpucheck/openmpi && apt-get download -q "${packages[@]}" 2>&1 | grep -v -e '^Get:' -e 'unsandboxed' || true)
if [ "$(ls .gpucheck/openmpi/*.deb | wc -l)" -ne "${#packages[@]}" ]; then
    echo "prepare_carry.sh: apt-get download fetched $(ls .gpucheck/openmpi/*.deb | wc -l) of ${#packages[@]} packages" \
         "(run apt-get update?)" >&2
    exit 1
fi
echo "prepared .gpucheck ($(du -sh .gpucheck | cut -f1)): fmt $(grep -m1 '#define FMT_VERSION' .gpucheck/include/fmt/core.h | awk '{print $3}')," \
     "Open MPI $(ls .gpucheck/openmpi/ | sed -n 's/^libopenmpi3_\(.*\)_amd64.deb$/\1/p')"
