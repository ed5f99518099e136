// Exchange of tensors with the Python references in tests/reference (format in
// tests/reference/tensor_io.py), and running them with Debian's /usr/bin/python3.
#pragma once

#include "tensor/tensor.h"

#include <map>
#include <string>

namespace ringlm::testing {

void write_reference_folder(const std::string& folder, const std::string& meta_json,
                            const std::map<std::string, Tensor>& tensors);
std::map<std::string, Tensor> read_reference_folder(const std::string& folder);

// The repository root (RINGLM_SOURCE_DIR, set by ctest), for data/ and tests/reference/.
std::string source_dir();
// A fresh empty temporary folder.
std::string make_temp_folder(const std::string& prefix);
// Runs `/usr/bin/python3 tests/reference/<script> args`; fails the calling test with the
// script's output if it exits non-zero.
void run_python_reference(const std::string& script, const std::string& args);

}  // namespace ringlm::testing
