#include "data/bpe.h"

#include "util/error.h"

#include <climits>
#include <queue>

namespace ringlm {

// The initial symbols of a word: bytes, or characters with byte fallback / unk.
static void initial_symbols(const BpeModel& model, std::string_view word, std::vector<int32_t>& symbols) {
    if (model.byte_level) {
        for (char byte : word) symbols.push_back(model.byte_ids[static_cast<unsigned char>(byte)]);
        return;
    }
    for (size_t at = 0; at < word.size();) {
        const unsigned char lead = static_cast<unsigned char>(word[at]);
        const size_t length = std::min(word.size() - at, size_t(lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4));
        const std::string_view character = word.substr(at, length);
        at += length;
        if (auto found = model.id_of.find(character); found != model.id_of.end()) {
            symbols.push_back(found->second);
        } else if (model.byte_fallback) {
            for (char byte : character) symbols.push_back(model.byte_ids[static_cast<unsigned char>(byte)]);
        } else if (model.unk_id >= 0) {
            if (!(model.fuse_unk && !symbols.empty() && symbols.back() == model.unk_id)) symbols.push_back(model.unk_id);
        } else {
            fail("BPE: the character '{}' has no token and the model has no unk_token", character);
        }
    }
}

// A pair that may merge; stale once either side has changed since it was pushed.
struct MergeCandidate {
    int32_t rank;
    int32_t left, right;        // symbol positions
    int32_t left_id, right_id;  // the symbols when pushed
    int32_t merged;
};
struct MergesLater {  // priority_queue is a max-heap: the top is the lowest rank, then leftmost
    bool operator()(const MergeCandidate& a, const MergeCandidate& b) const {
        if (a.rank != b.rank) return a.rank > b.rank;
        return a.left > b.left;
    }
};

// Short words (most of them): scan every adjacent pair for the lowest rank (leftmost on ties),
// merge it, repeat. The same merges as the heap below, without its allocations.
constexpr size_t short_word_symbols = 24;

static void merge_short_word(const BpeModel& model, std::vector<int32_t>& symbols) {
    while (symbols.size() > 1) {
        int32_t best_rank = INT32_MAX, best_merged = -1;
        size_t best = 0;
        for (size_t i = 0; i + 1 < symbols.size(); i++) {
            const auto found = model.merges.find(merge_key(symbols[i], symbols[i + 1]));
            if (found != model.merges.end() && found->second.rank < best_rank) {
                best_rank = found->second.rank;
                best_merged = found->second.merged;
                best = i;
            }
        }
        if (best_merged < 0) return;
        symbols[best] = best_merged;
        symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
    if (word.empty()) return;
    if (ignore_merges) {
        if (auto found = id_of.find(word); found != id_of.end()) {
            ids.push_back(found->second);
            return;
        }
    }
    std::vector<int32_t> symbols;
    symbols.reserve(word.size());
    initial_symbols(*this, word, symbols);
    if (symbols.size() <= short_word_symbols) {
        merge_short_word(*this, symbols);
        ids.insert(ids.end(), symbols.begin(), symbols.end());
        return;
    }
    const int32_t n = static_cast<int32_t>(symbols.size());
    // symbols as a linked list; a merge keeps the left position and unlinks the right one
    std::vector<int32_t> next(n), previous(n);
    for (int32_t i = 0; i < n; i++) {
        next[i] = i + 1 < n ? i + 1 : -1;
        previous[i] = i - 1;
    }
    std::priority_queue<MergeCandidate, std::vector<MergeCandidate>, MergesLater> candidates;
    auto push_candidate = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const auto found = merges.find(merge_key(symbols[left], symbols[right]));
        if (found != merges.end())
            candidates.push({found->second.rank, left, right, symbols[left], symbols[right], found->second.merged});
    };
    for (int32_t i = 0; i + 1 < n; i++) push_candidate(i, i + 1);
    while (!candidates.empty()) {
        const MergeCandidate best = candidates.top();
        candidates.pop();
        if (next[best.left] != best.right || symbols[best.left] != best.left_id || symbols[best.right] != best.right_id)
            continue;
        symbols[best.left] = best.merged;
        const int32_t after = next[best.right];
        next[best.left] = after;
        if (after >= 0) previous[after] = best.left;
        next[best.right] = -2;
        symbols[best.right] = -1;
        push_candidate(previous[best.left], best.left);
        push_candidate(best.left, after);
    }
    for (int32_t i = 0; i >= 0; i = next[i]) ids.push_back(symbols[i]);
}

}  // namespace ringlm
