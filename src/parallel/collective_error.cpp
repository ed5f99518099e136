#include "parallel/collective_error.h"

#include "parallel/communicators.h"

namespace ringlm {

void fail_together(const std::string& error) { world_communicator().fail_together(error); }

void check_together(const std::function<void()>& check) { world_communicator().check_together(check); }

}  // namespace ringlm
