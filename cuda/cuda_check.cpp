#include "cuda_check.h"

#include "util/error.h"

namespace ringlm::kernels {

bool synchronize_after_launch = false;

void throw_cuda_error(const char* library, const char* call, const char* error, const char* file, int line) {
    fail("cuda backend: {} call {} failed at {}:{}: {}", library, call, file, line, error);
}

}  // namespace ringlm::kernels
