#include "data/sampler.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace ringlm {

namespace {

// A generator per (seed, epoch): splitmix64 of both, so neighbouring seeds and epochs give
// unrelated shuffles.
std::mt19937_64 generator_for(uint64_t seed, uint64_t stream) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return std::mt19937_64(z ^ (z >> 31));
}

// std::shuffle's output is implementation-defined; Fisher-Yates with our own draws is not.
void shuffle(std::vector<int64_t>& values, std::mt19937_64& rng) {
    for (size_t i = values.size(); i > 1; i--) {
        const size_t j = static_cast<size_t>(rng() % i);
        std::swap(values[i - 1], values[j]);
    }
}

}  // namespace

DocumentSplit split_documents(int64_t n_documents, double val_fraction, uint64_t seed) {
    std::vector<int64_t> order(n_documents);
    std::iota(order.begin(), order.end(), 0);
    auto rng = generator_for(seed, 0xda7a);
    shuffle(order, rng);
    int64_t n_validation = static_cast<int64_t>(std::llround(static_cast<double>(n_documents) * val_fraction));
    if (val_fraction > 0 && n_validation == 0) n_validation = 1;
    if (n_validation >= n_documents && val_fraction > 0)
        fail("data: val_set_size {} leaves no training documents out of {}", val_fraction, n_documents);
    DocumentSplit split;
    split.validation.assign(order.begin(), order.begin() + n_validation);
    split.train.assign(order.begin() + n_validation, order.end());
    std::sort(split.validation.begin(), split.validation.end());
    std::sort(split.train.begin(), split.train.end());
    return split;
}

Sampler::Sampler(SamplerSettings settings, std::vector<int64_t> train_documents, std::vector<int64_t> document_lengths)
    : settings_(settings), train_documents_(std::move(train_documents)), document_lengths_(std::move(document_lengths)) {
    const std::vector<PackedRow>& rows = epoch_rows(0);
    steps_per_epoch_ = static_cast<int64_t>(rows.size()) / rows_per_step();
    efficiency_ = ringlm::packing_efficiency(rows, settings_.sequence_len);
    if (steps_per_epoch_ == 0)
        fail("data: {} rows of {} tokens are fewer than one step needs ({} = {} data-parallel groups x {} micro batch x "
             "{} accumulation steps); use more data or a smaller batch",
             rows.size(), settings_.sequence_len, rows_per_step(), settings_.data_parallel_size,
             settings_.micro_batch_size, settings_.gradient_accumulation_steps);
}

int64_t Sampler::rows_per_step() const {
    return settings_.data_parallel_size * settings_.micro_batch_size * settings_.gradient_accumulation_steps;
}

const std::vector<PackedRow>& Sampler::epoch_rows(int64_t epoch) {
    if (epoch != cached_epoch_) {
        std::vector<int64_t> order = train_documents_;
        auto rng = generator_for(settings_.seed, static_cast<uint64_t>(epoch) + 1);
        shuffle(order, rng);
        cached_rows_ = pack_pieces(split_into_pieces(order, document_lengths_, settings_.sequence_len),
                                   settings_.sequence_len, settings_.packing);
        cached_epoch_ = epoch;
    }
    return cached_rows_;
}

std::vector<PackedRow> Sampler::micro_batch(int64_t step, int64_t micro, int64_t dp_rank) {
    const int64_t epoch = step / steps_per_epoch_, step_in_epoch = step % steps_per_epoch_;
    const std::vector<PackedRow>& rows = epoch_rows(epoch);
    const int64_t B = settings_.micro_batch_size, D = settings_.data_parallel_size;
    // Micro batch index within the step: accumulation-major, then data-parallel group.
    // Another epoch's shuffle can pack into slightly fewer rows than epoch 0's: wrap around.
    const int64_t first = step_in_epoch * rows_per_step() + (micro * D + dp_rank) * B;
    std::vector<PackedRow> batch;
    for (int64_t i = 0; i < B; i++) batch.push_back(rows[static_cast<size_t>(first + i) % rows.size()]);
    return batch;
}

}  // namespace ringlm
