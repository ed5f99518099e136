// Learning rate at an optimizer step: linear warmup from 0 over warmup_steps, then
//   cosine:   lr * 0.5 (1 + cos(pi * progress))
//   linear:   lr * (1 - progress)
//   constant: lr
// with progress = (step - warmup) / (total - warmup) in [0, 1] (as Hugging Face's schedulers).
#pragma once

#include "config/config.h"

#include <cstdint>

namespace ringlm {

double learning_rate_at(int64_t step, int64_t total_steps, int64_t warmup_steps, double peak, LrScheduler schedule);

}  // namespace ringlm
