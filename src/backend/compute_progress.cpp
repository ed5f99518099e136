#include "backend/compute_progress.h"

namespace ringlm {

namespace {
thread_local const std::function<void()>* current_hook = nullptr;
}

ComputeProgress::ComputeProgress(std::function<void()> poll) : poll_(std::move(poll)), outer_(current_hook) {
    current_hook = &poll_;
}

ComputeProgress::~ComputeProgress() { current_hook = outer_; }

void poll_compute_progress() {
    if (current_hook) (*current_hook)();
}

}  // namespace ringlm
