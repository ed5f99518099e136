// Group-relative advantages (GRPO, Shao et al. 2024; TRL's GRPOTrainer): the rewards of one
// prompt's G completions are compared with each other only.
//   scale_rewards true:  A_j = (r_j - mean_g) / (std_g + 1e-4)
//   scale_rewards false: A_j =  r_j - mean_g
// std_g is the SAMPLE standard deviation (divisor G - 1), as TRL's torch.std; 1e-4 is TRL's.
// Pure arithmetic on the gathered rewards, so every rank computes the same values.
#pragma once

#include <cstdint>
#include <vector>

namespace ringlm {

// `rewards` holds consecutive groups of `group_size` (a prompt's completions).
std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t group_size, bool scale_rewards);

// mean_g and std_g (sample) of each group, for metrics.
struct GroupStatistics {
    std::vector<double> mean, std;
};
GroupStatistics group_statistics(const std::vector<double>& rewards, int64_t group_size);

}  // namespace ringlm
