// The sampler: which rows each optimizer step trains on, as a pure function of
// (seed, epoch, step). Nothing is carried from step to step, so resuming from a checkpoint
// is just "epoch e, step s" and every rank computes the same plan without talking.
//
// Each epoch shuffles the training documents (seeded by seed and epoch), cuts and packs
// them into rows, and deals rows_per_step = D * micro_batch_size * grad_accum rows per step.
// Data-parallel group g takes micro batches g, g + D, ... of each step's rows: disjoint across
// groups, identical within a sequence-parallel group (whose ranks share g). The partial last
// step of an epoch is dropped.
#pragma once

#include "data/packing.h"

#include <cstdint>
#include <vector>

namespace ringlm {

struct SamplerSettings {
    uint64_t seed = 0;
    int64_t sequence_len = 0;
    bool packing = true;
    int64_t micro_batch_size = 1;
    int64_t gradient_accumulation_steps = 1;
    int64_t data_parallel_size = 1;  // D
};

// Training and validation documents: a seeded shuffle of all documents, the first
// round(n * val_fraction) are held out (at least one when val_fraction > 0).
struct DocumentSplit {
    std::vector<int64_t> train, validation;
};
DocumentSplit split_documents(int64_t n_documents, double val_fraction, uint64_t seed);

class Sampler {
public:
    Sampler(SamplerSettings settings, std::vector<int64_t> train_documents, std::vector<int64_t> document_lengths);

    int64_t rows_per_step() const;
    int64_t steps_per_epoch() const { return steps_per_epoch_; }
    double packing_efficiency() const { return efficiency_; }  // of epoch 0

    // The rows of one micro batch: optimizer step `step` (counted from 0 across epochs),
    // accumulation index `micro` (0 .. grad_accum-1), for data-parallel group `dp_rank`.
    std::vector<PackedRow> micro_batch(int64_t step, int64_t micro, int64_t dp_rank);

private:
    const std::vector<PackedRow>& epoch_rows(int64_t epoch);
    SamplerSettings settings_;
    std::vector<int64_t> train_documents_, document_lengths_;
    int64_t steps_per_epoch_ = 0;
    double efficiency_ = 0;
    int64_t cached_epoch_ = -1;
    std::vector<PackedRow> cached_rows_;
};

}  // namespace ringlm
