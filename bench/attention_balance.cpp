// ringlm_attention_balance: how evenly each chunk layout spreads causal attention work over the
// S ranks of a sequence-parallel group, on real packed rows. No training, no MPI: the rows come
// from the trainer's sampler (packing on, one row per micro batch) and the trainer's
// make_token_batch, whose exact per-rank pair count (data/attention_work.h) gives each row's
// attention_imbalance = max over ranks / mean. Prints one Markdown table row per layout: the
// mean and the largest per-row imbalance over the first `rows` rows.
//
//   ringlm_attention_balance FILE.h5 [sequence_len 8192] [S 4] [rows 100] [seed 42]
#include "data/attention_work.h"
#include "parallel/chunk_layout.h"
#include "data/corpus.h"
#include "data/sampler.h"
#include "util/error.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

namespace ringlm {
namespace {

struct LayoutResult {
    double mean = 0, worst = 0;
};

LayoutResult measure(Corpus& corpus, Sampler& sampler, int64_t sequence_len, int64_t rows, ChunkLayout layout,
                     int64_t S) {
    LayoutResult result;
    for (int64_t step = 0; step < rows; step++) {
        const std::vector<PackedRow> row = sampler.micro_batch(step, 0, 0);
        const TokenBatch batch = make_token_batch(row, sequence_len, corpus.reader(), SequenceLayout{layout, S, 0});
        const double imbalance = attention_imbalance(batch.sp_attention_pairs);
        result.mean += imbalance / static_cast<double>(rows);
        result.worst = std::max(result.worst, imbalance);
    }
    return result;
}

int run(int argc, char** argv) {
    if (argc < 2) fail("usage: ringlm_attention_balance FILE.h5 [sequence_len 8192] [S 4] [rows 100] [seed 42]");
    const std::string path = argv[1];
    const int64_t sequence_len = argc > 2 ? std::stoll(argv[2]) : 8192;
    const int64_t S = argc > 3 ? std::stoll(argv[3]) : 4;
    int64_t rows = argc > 4 ? std::stoll(argv[4]) : 100;
    const uint64_t seed = argc > 5 ? std::stoull(argv[5]) : 42;

    Corpus corpus({path}, std::numeric_limits<int32_t>::max());
    std::vector<int64_t> documents(static_cast<size_t>(corpus.num_documents()));
    std::iota(documents.begin(), documents.end(), 0);
    Sampler sampler(SamplerSettings{seed, sequence_len, true, 1, 1, 1}, documents, corpus.document_lengths());
    rows = std::min(rows, sampler.steps_per_epoch());
    fmt::print("{}: {} documents, {} tokens; rows of {} tokens (packing efficiency {:.1f}%), S = {}, first {} rows "
               "of epoch 0 (seed {})\n\n",
               path, corpus.num_documents(), corpus.total_tokens(), sequence_len,
               100 * sampler.packing_efficiency(), S, rows, seed);
    fmt::print("| layout | used by | attention_imbalance, mean over rows | worst row |\n|---|---|---|---|\n");
    const struct {
        ChunkLayout layout;
        const char* name;
        const char* used_by;
    } layouts[] = {
        {ChunkLayout::contiguous, "contiguous", "batch_ring, varlen_llama3 (load_balance none)"},
        {ChunkLayout::zigzag, "zigzag per row", "batch_zigzag (load_balance none)"},
        {ChunkLayout::striped, "striped", "batch_stripe (load_balance none)"},
        {ChunkLayout::document, "per-document head-tail", "any variant, load_balance document"},
    };
    for (const auto& entry : layouts) {
        const LayoutResult result = measure(corpus, sampler, sequence_len, rows, entry.layout, S);
        fmt::print("| {} | {} | {:.4f} | {:.4f} |\n", entry.name, entry.used_by, result.mean, result.worst);
    }
    return 0;
}

}  // namespace
}  // namespace ringlm

int main(int argc, char** argv) {
    try {
        return ringlm::run(argc, argv);
    } catch (const std::exception& error) {
        fmt::print(stderr, "ringlm_attention_balance: error: {}\n", error.what());
        return 1;
    }
}
