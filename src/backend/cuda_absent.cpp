// A build without the CUDA backend (see cuda_runtime.h).
#include "backend/cuda_runtime.h"

#include "util/error.h"

namespace ringlm {

bool cuda_backend_built() { return false; }

int cuda_device_count() { return 0; }

bool init_cuda_backend(int device) {
    fail("backend cuda, but this ringlm was built without the CUDA backend (nvcc was not found); rebuild with the "
         "CUDA toolkit installed (cmake -DRINGLM_CUDA=on), or use backend cpu");
}

}  // namespace ringlm
