#include "rl/advantages.h"

#include "util/error.h"

#include <cmath>

namespace ringlm {

GroupStatistics group_statistics(const std::vector<double>& rewards, int64_t group_size) {
    const size_t G = static_cast<size_t>(group_size);
    if (group_size < 2 || rewards.size() % G != 0)
        fail("advantages: {} rewards do not form groups of {} (>= 2)", rewards.size(), group_size);
    GroupStatistics statistics;
    for (size_t first = 0; first < rewards.size(); first += G) {
        double mean = 0;
        for (size_t j = first; j < first + G; j++) mean += rewards[j];
        mean /= static_cast<double>(G);
        // std = sqrt(sum (r - mean)^2 / (G - 1))
        double squares = 0;
        for (size_t j = first; j < first + G; j++) squares += (rewards[j] - mean) * (rewards[j] - mean);
        statistics.mean.push_back(mean);
        statistics.std.push_back(std::sqrt(squares / static_cast<double>(G - 1)));
    }
    return statistics;
}

std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t group_size, bool scale_rewards) {
    const GroupStatistics statistics = group_statistics(rewards, group_size);
    std::vector<double> advantages(rewards.size());
    for (size_t j = 0; j < rewards.size(); j++) {
        const size_t group = j / static_cast<size_t>(group_size);
        advantages[j] = rewards[j] - statistics.mean[group];
        if (scale_rewards) advantages[j] /= statistics.std[group] + 1e-4;
    }
    return advantages;
}

}  // namespace ringlm
