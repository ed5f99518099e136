// Held-out loss: the eval documents packed like training rows (no shuffle), dealt to the
// data-parallel groups round-robin, chunked for sequence parallelism like training; the
// loss sums and token counts are reduced over the world. perplexity = exp(mean loss).
#pragma once

#include "train/training_setup.h"

namespace ringlm {

struct EvalResult {
    double loss = 0, perplexity = 0;
    int64_t tokens = 0;
};

// Returns nullopt-like tokens == 0 when there is nothing to evaluate.
EvalResult evaluate(const TrainingSetup& setup);

}  // namespace ringlm
