// Activation checkpointing: run a region (one transformer layer) without keeping its saved
// tensors; during backward run its forward again on a fresh tape and backpropagate through
// that. Memory per checkpointed layer drops to its input; compute grows by one forward.
#pragma once

#include "autograd/tape.h"

#include <functional>

namespace ringlm {

using Region = std::function<Tensor(Tape& tape, const Tensor& x)>;

// y = region(x). The region must be deterministic (same output when run again) and must
// read parameters through tensors bound in the Grads that backward receives.
Tensor checkpoint(Tape& tape, const char* name, const Region& region, const Tensor& x);

}  // namespace ringlm
