#include "data/attention_work.h"

#include "util/error.h"

#include <algorithm>
#include <unordered_map>

namespace ringlm {

std::vector<int64_t> attention_pairs_per_rank(const std::vector<int32_t>& segment_ids,
                                              const std::vector<std::vector<int32_t>>& chunks) {
    // visible[i] = #{j <= i : segment j == segment i}: query i's keys (a segment need not be one run)
    std::vector<int64_t> visible(segment_ids.size());
    std::unordered_map<int32_t, int64_t> seen;
    for (size_t i = 0; i < segment_ids.size(); i++) visible[i] = ++seen[segment_ids[i]];
    std::vector<int64_t> pairs(chunks.size(), 0);
    for (size_t rank = 0; rank < chunks.size(); rank++)
        for (int32_t index : chunks[rank]) {
            if (index < 0 || static_cast<size_t>(index) >= visible.size())
                fail("attention_pairs_per_rank: rank {} holds index {} of a {}-token row", rank, index, visible.size());
            pairs[rank] += visible[static_cast<size_t>(index)];
        }
    return pairs;
}

double attention_imbalance(const std::vector<int64_t>& pairs_per_rank) {
    int64_t total = 0, most = 0;
    for (int64_t pairs : pairs_per_rank) {
        total += pairs;
        most = std::max(most, pairs);
    }
    if (total == 0) return 1.0;
    return static_cast<double>(most) * static_cast<double>(pairs_per_rank.size()) / static_cast<double>(total);
}

}  // namespace ringlm
