#include "rl/repeat_sampler.h"

#include "util/error.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace ringlm {

RepeatSampler::RepeatSampler(const RepeatSamplerSettings& settings, const std::string& source) : settings_(settings) {
    const int64_t G = settings.num_generations, batch = settings.sequences_per_group;
    if (batch % G != 0)
        fail_uniform("{}: trl.num_generations {} must divide the sequences per data-parallel group per step, "
                     "micro_batch_size x gradient_accumulation_steps = {} (each prompt's {} completions form one "
                     "advantage group): make that product a multiple of {}",
                     source, G, batch, G, G);
    prompts_per_group_ = batch / G;
}

std::vector<int64_t> RepeatSampler::prompts(int64_t step, int64_t dp_rank) const {
    const int64_t n = settings_.num_prompts, per_step = settings_.dp_size * prompts_per_group_;
    std::vector<int64_t> chosen;
    std::vector<int64_t> order;
    int64_t order_epoch = -1;
    for (int64_t i = 0; i < prompts_per_group_; i++) {
        // position in the endless stream of per-epoch permutations
        const int64_t position = step * per_step + dp_rank * prompts_per_group_ + i;
        const int64_t epoch = position / n;
        if (epoch != order_epoch) {
            order.resize(static_cast<size_t>(n));
            std::iota(order.begin(), order.end(), 0);
            std::mt19937_64 rng(settings_.seed * 1000003u + static_cast<uint64_t>(epoch));
            std::shuffle(order.begin(), order.end(), rng);
            order_epoch = epoch;
        }
        chosen.push_back(order[static_cast<size_t>(position % n)]);
    }
    return chosen;
}

int64_t RepeatSampler::steps_per_epoch() const {
    const int64_t per_step = settings_.dp_size * prompts_per_group_;
    return std::max<int64_t>(1, (settings_.num_prompts + per_step - 1) / per_step);
}

}  // namespace ringlm
