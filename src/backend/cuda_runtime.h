// The CUDA backend as the layers above see it, with no CUDA type: whether the build has it, how
// many devices a node has, and starting it on one. Implemented by cuda/cuda_backend.cpp in a
// CUDA build and by cuda_absent.cpp otherwise (CMake compiles exactly one), so choosing the
// backend at run time needs no build macro anywhere above cuda/.
#pragma once

namespace ringlm {

// Whether this build has the CUDA backend (nvcc was found).
bool cuda_backend_built();
// The number of CUDA devices; 0 when there is none, no driver, or no CUDA backend (never throws).
int cuda_device_count();
// Makes `device` this process's device and registers the CUDA allocator and backend for
// Device::cuda on the first call. Returns false (and registers nothing) when no CUDA device is
// present; throws for a device number that does not exist, or a later call naming another
// device than the first (the backend's stream and memory belong to one device), or in a build
// without the CUDA backend.
bool init_cuda_backend(int device = 0);

}  // namespace ringlm
