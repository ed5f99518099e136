#!/usr/bin/env python3
"""The layer rules of DESIGN.md, checked on the source tree (ctest: lint.layers).

  1. src/<folder> includes only folders at or below it, in this order (bottom first):
       util tensor backend autograd ops data model parallel config train rl cli
     (config knows the plain settings of the layers below it and is read by train, rl and cli).
  2. Nothing in src/ includes a cuda/ header; cuda/ includes only util, tensor, backend,
     autograd, ops and parallel (it implements the Backend and Communicator interfaces).
  3. Only src/parallel and cuda/ talk to MPI or NCCL (calls, types, headers).
  4. No file in src/ tests a CUDA build macro (the CUDA backend and NCCL are picked at link time:
     backend/cuda_runtime.h, parallel/nccl.h).
  5. Every folder of src/ is one CMake library: ringlm_folder_library(<folder> ...).
  6. The GPU check's core-only build (CMakeLists.txt's RINGLM_CORE_ONLY_SOURCES, src/ util to ops,
     cuda/ but the NCCL bootstrap, tests/gpu's programs) reaches, through its includes, no header
     of a library the GPU machine lacks (HDF5, yaml-cpp, nlohmann/json, CLI11, PCRE2, utf8proc,
     MPI); with MPI (carried there) all of src/parallel and the bootstrap are built too, and may
     reach <mpi.h> alone. A file that breaks this stops tests/gpu/check.sh's build there, and
     nothing else here builds those configurations.

Usage: layers.py SOURCE_DIR      (exit 1 and one line per violation)
       layers.py --self-test     (each rule must catch a planted violation)
"""
import os
import re
import sys

ORDER = ["util", "tensor", "backend", "autograd", "ops", "data", "model", "parallel", "config", "train", "rl", "cli"]
RANK = {folder: i for i, folder in enumerate(ORDER)}
CUDA_MAY_INCLUDE = {"util", "tensor", "backend", "autograd", "ops", "parallel"}
SOURCE_SUFFIXES = (".h", ".cpp", ".cu", ".cuh")

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
MPI_USE = re.compile(r'(#\s*include\s*<mpi\.h>|\bMPI_[A-Z][A-Za-z_]*\b|#\s*include\s*<nccl\.h>|\bnccl[A-Z]\w*\s*\()')
CUDA_MACRO = re.compile(r'^\s*#\s*(if|ifdef|ifndef|elif)\b.*\b(RINGLM_WITH_CUDA|RINGLM_WITH_NCCL|RINGLM_WITH_CUDNN|'
                        r'__CUDACC__|__CUDA_ARCH__|CUDART_VERSION|NCCL_VERSION_CODE)\b')


def strip_comment(line):
    return line.split("//", 1)[0]


def check_file(path, folder, lines):
    """Violations of rules 1-4 in one file; folder: its src/ folder, or "cuda"."""
    problems = []
    for number, line in enumerate(lines, 1):
        where = f"{path}:{number}"
        include = INCLUDE.match(line)
        if include:
            target = include.group(1)
            top = target.split("/", 1)[0] if "/" in target else None
            if folder == "cuda":
                if top is not None and top not in CUDA_MAY_INCLUDE:
                    problems.append(f"{where}: cuda/ includes {target} (only {', '.join(sorted(CUDA_MAY_INCLUDE))})")
            elif top is None:
                problems.append(f"{where}: src/{folder} includes \"{target}\", a cuda/ header (or a path without "
                                "its folder)")
            elif top not in RANK:
                problems.append(f"{where}: src/{folder} includes {target}: no such layer")
            elif RANK[top] > RANK[folder]:
                problems.append(f"{where}: src/{folder} includes {target}, a layer above it")
        code = strip_comment(line)
        if folder not in ("parallel", "cuda") and MPI_USE.search(code):
            problems.append(f"{where}: src/{folder} talks to MPI or NCCL ({MPI_USE.search(code).group(0).strip()}); "
                            "only src/parallel and cuda/ may")
        if folder != "cuda" and CUDA_MACRO.search(code):
            problems.append(f"{where}: src/{folder} tests a CUDA build macro; only cuda/ may")
    return problems


def check_cmake(cmake_text, folders):
    return [f"CMakeLists.txt: src/{folder} is not one library (no ringlm_folder_library({folder} ...))"
            for folder in folders
            if not re.search(r'ringlm_folder_library\(\s*' + re.escape(folder) + r'\b', cmake_text)]


def check_tree(root):
    problems = []
    folders = sorted(d for d in os.listdir(os.path.join(root, "src")) if os.path.isdir(os.path.join(root, "src", d)))
    for folder in folders:
        if folder not in RANK:
            problems.append(f"src/{folder}: a folder that is not a layer of DESIGN.md (add it to ORDER in {__file__})")
    for base, folder_of in (("src", None), ("cuda", "cuda")):
        for directory, _, files in os.walk(os.path.join(root, base)):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, root)
                folder = folder_of or relative.split(os.sep)[1]
                with open(path, encoding="utf-8") as source:
                    problems += check_file(relative, folder, source.read().splitlines())
    with open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8") as cmake:
        cmake_text = cmake.read()
    problems += check_cmake(cmake_text, [f for f in folders if f in RANK])
    problems += check_core_only(read_lines(root), core_only_sources(root, cmake_text))
    problems += check_core_only(read_lines(root), core_only_sources(root, cmake_text, with_mpi=True), ("mpi.h",))
    return problems


ABSENT_ON_GPU_MACHINE = re.compile(r'^\s*#\s*include\s*<(hdf5\.h|H5\w*\.h|yaml-cpp/[^>]+|nlohmann/[^>]+|CLI/[^>]+|'
                                   r'pcre2\.h|utf8proc\.h|mpi\.h)>')
SEARCHED = ("src", "cuda", "tests", os.path.join("tests", "gpu"))  # where a quoted include is looked up
CORE_FOLDERS = ("util", "tensor", "backend", "autograd", "ops")


def core_only_sources(root, cmake_text, with_mpi=False):
    """The sources of the core-only build (with_mpi: of the one with MPI), relative to root."""
    listed = re.search(r'set\(RINGLM_CORE_ONLY_SOURCES(.*?)\)', cmake_text, re.S)
    sources = listed.group(1).split() if listed else []
    for folder in CORE_FOLDERS:
        for directory, _, files in os.walk(os.path.join(root, "src", folder)):
            sources += [os.path.relpath(os.path.join(directory, name), root) for name in sorted(files)
                        if name.endswith((".cpp", ".cu"))]
    for directory in (["src/parallel"] if with_mpi else []):
        sources += [os.path.join(directory, name) for name in sorted(os.listdir(os.path.join(root, directory)))
                    if name.endswith(".cpp")]
    cuda = os.path.join(root, "cuda")
    sources += [os.path.join("cuda", name) for name in sorted(os.listdir(cuda))
                if name.endswith((".cpp", ".cu")) and (with_mpi or name != "nccl_bootstrap.cpp")]
    gpu = os.path.join("tests", "gpu")
    sources += [os.path.join(gpu, name) for name in sorted(os.listdir(os.path.join(root, gpu)))
                if name.endswith(".cpp") and (with_mpi or name != "gpu_sp_check.cpp")]
    return sources + [os.path.join("tests", "test_util.cpp")]


def check_core_only(read, sources, allowed=()):
    """Rule 6. read(path) gives a file's lines (None if absent); a quoted include is looked up
    in SEARCHED. One violation per absent header reached (but `allowed`), with the chain."""
    problems, seen = [], set()
    queue = [(source, [source]) for source in sources]
    while queue:
        path, chain = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        for line in read(path) or []:
            absent = ABSENT_ON_GPU_MACHINE.match(line)
            if absent and absent.group(1) not in allowed:
                problems.append(f"{path}: includes <{absent.group(1)}>, which the GPU check's core-only build lacks "
                                f"(reached from {' -> '.join(chain)})")
            include = INCLUDE.match(line)
            if include:
                for candidate in (os.path.join(folder, include.group(1)) for folder in SEARCHED):
                    if read(candidate) is not None:
                        queue.append((candidate, chain + [candidate]))
                        break
    return problems


def read_lines(root):
    def read(path):
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            return None
        with open(full, encoding="utf-8") as source:
            return source.read().splitlines()
    return read


def self_test():
    """Each rule catches a planted violation and lets the allowed case through."""
    cases = [
        ("data", ['#include "train/trainer.h"'], 1),        # rule 1: upwards
        ("train", ['#include "data/batch.h"'], 0),
        ("config", ['#include "parallel/parallel_settings.h"'], 0),
        ("parallel", ['#include "config/config.h"'], 1),
        ("train", ['#include "cuda_backend.h"'], 1),         # rule 2
        ("cuda", ['#include "parallel/communicator.h"'], 0),
        ("cuda", ['#include "train/trainer.h"'], 1),
        ("rl", ["    MPI_Bcast(x, 1, MPI_INT, 0, comm);"], 1),  # rule 3
        ("cli", ["#include <mpi.h>"], 1),
        ("train", ["// MPI_COMM_WORLD in a comment is fine"], 0),
        ("parallel", ["    MPI_Barrier(comm);"], 0),
        ("train", ["    ncclAllReduce(a, b, n, t, op, c, s);"], 1),
        ("train", ["#ifdef RINGLM_WITH_NCCL"], 1),          # rule 4
        ("backend", ["#if defined(RINGLM_WITH_CUDA) && 1"], 1),
        ("cuda", ["#ifdef RINGLM_WITH_CUDNN"], 0),
    ]
    failed = 0
    for folder, lines, expected in cases:
        found = check_file("planted", folder, lines)
        if len(found) != expected:
            print(f"self-test: src/{folder} {lines!r}: expected {expected} violation(s), found {found}")
            failed += 1
    if len(check_cmake("ringlm_folder_library(util fmt)", ["util", "data"])) != 1:
        print("self-test: the CMake rule missed a folder without a library")
        failed += 1
    # rule 6: an HDF5 header two includes away from a core source, and one nothing core reaches
    tree = {"src/parallel/chunk_layout.cpp": ['#include "data/token_dataset.h"'],
            "src/data/token_dataset.h": ['#include "data/hdf5_handle.h"'],
            "src/data/hdf5_handle.h": ["#include <hdf5.h>"],
            "src/data/corpus.cpp": ["#include <yaml-cpp/yaml.h>"]}
    found = check_core_only(tree.get, ["src/parallel/chunk_layout.cpp"])
    if len(found) != 1 or "hdf5.h" not in found[0] or "token_dataset.h" not in found[0]:
        print(f"self-test: the core-only rule found {found} (expected the one hdf5.h chain)")
        failed += 1
    tree = {"src/parallel/topology.h": ["#include <mpi.h>"], "tests/gpu/gpu_sp_check.cpp": ['#include "parallel/topology.h"']}
    if len(check_core_only(tree.get, ["tests/gpu/gpu_sp_check.cpp"])) != 1 or \
            check_core_only(tree.get, ["tests/gpu/gpu_sp_check.cpp"], ("mpi.h",)):
        print("self-test: the core-only rule did not tell the MPI build's <mpi.h> from the plain one's")
        failed += 1
    return failed


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        failed = self_test()
        print("layers self-test: " + ("FAILED" if failed else "every rule caught its planted violation"))
        return 1 if failed else 0
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems = check_tree(sys.argv[1])
    for problem in problems:
        print(problem)
    print(f"layers: {len(problems)} violation(s)" if problems else "layers: every file keeps to its layer")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
