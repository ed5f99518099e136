#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ringlm {

double learning_rate_at(int64_t step, int64_t total_steps, int64_t warmup_steps, double peak, LrScheduler schedule) {
    if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    if (schedule == LrScheduler::constant) return peak;
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
    const double progress = std::clamp(static_cast<double>(step - warmup_steps) / span, 0.0, 1.0);
    if (schedule == LrScheduler::linear) return peak * (1.0 - progress);
    return peak * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace ringlm
