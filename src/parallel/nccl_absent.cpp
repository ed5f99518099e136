// A build without NCCL (no CUDA backend, or NCCL not found next to it): see nccl.h.
#include "parallel/nccl.h"

#include "util/error.h"

namespace ringlm {

bool nccl_available() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator>, int) {
    fail("this ringlm was built without NCCL (nccl.h and libnccl were not found next to the CUDA toolkit)");
}

}  // namespace ringlm
