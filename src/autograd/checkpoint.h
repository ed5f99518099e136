// Activation checkpointing: run a region (one transformer layer) without keeping its saved
// tensors; during backward run its forward again on a fresh tape and backpropagate through
// that. Memory per checkpointed layer drops to its input; compute grows by one forward.
//
// Offloaded (`gradient_checkpointing: offload`, as axolotl spells it): the input itself is
// kept in host memory instead, and copied back to its device when backward reaches the
// region; on a GPU each layer's [T, dim] input then leaves the device between forward and
// backward (ALST's checkpoint offload; on the CPU backend it is a copy that saves nothing).
#pragma once

#include "autograd/tape.h"

#include <functional>

namespace ringlm {

using Region = std::function<Tensor(Tape& tape, const Tensor& x)>;

// y = region(x). The region must be deterministic (same output when run again) and must
// read parameters through tensors bound in the Grads that backward receives. `offload`: keep
// x in host memory (the caller's x may then be freed); x's gradient is the same either way.
Tensor checkpoint(Tape& tape, const char* name, const Region& region, const Tensor& x, bool offload = false);

}  // namespace ringlm
