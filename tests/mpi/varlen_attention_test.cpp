// varlen_llama3 ring attention against single-rank attention on the whole row(s).
//
// Every rank draws the same full-row inputs (rank 0's seed, broadcast), keeps its contiguous
// chunk of every row (or, for load_balance: document, its head-tail pieces of every document;
// row_chunk_indices, as the trainer cuts them), runs the ring_attention op on a
// tape (so the op's real backward runs), and compares out, lse, dq, dk, dv with the reference
// rows at its global positions. The reference is the attention block kernel in f64 on the
// whole batch: one rank, no gathering, no head groups.
#include "parallel/chunk_layout.h"
#include "parallel/mpi_communicator.h"
#include "parallel/ring_attention.h"
#include "mpi/mpi_test_util.h"

#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// A batch of packed rows, all of one length: the documents of each row; whatever the documents
// leave of the row is padding, in a segment of its own.
struct Batch {
    int64_t row_length = 0;
    std::vector<std::vector<int32_t>> documents;  // per row: document lengths
};

// The whole batch, rows concatenated: global index = position within the row, segment ids
// distinct across rows (as make_token_batch numbers them).
struct FullRows {
    std::vector<int32_t> global_index, segment_ids;
};

FullRows full_rows(const Batch& batch) {
    FullRows full;
    for (size_t row = 0; row < batch.documents.size(); row++) {
        int32_t segment = static_cast<int32_t>(row * (batch.row_length + 1));
        int32_t position = 0;
        for (int32_t length : batch.documents[row]) {
            for (int32_t t = 0; t < length; t++) {
                full.global_index.push_back(position++);
                full.segment_ids.push_back(segment);
            }
            segment++;
        }
        while (position < batch.row_length) {  // padding
            full.global_index.push_back(position++);
            full.segment_ids.push_back(segment);
        }
    }
    return full;
}

// Positions in the concatenated batch that this rank keeps: its chunk of row 0, then of row 1...
std::vector<int64_t> shard_positions(const Batch& batch, const FullRows& full, ChunkLayout layout, int sp_size,
                                     int sp_rank) {
    std::vector<int64_t> positions;
    for (size_t row = 0; row < batch.documents.size(); row++) {
        const auto first = full.segment_ids.begin() + static_cast<int64_t>(row) * batch.row_length;
        const std::vector<std::vector<int32_t>> chunks =
            row_chunk_indices(std::vector<int32_t>(first, first + batch.row_length), layout, sp_size);
        for (int32_t index : chunks.at(static_cast<size_t>(sp_rank)))
            positions.push_back(static_cast<int64_t>(row) * batch.row_length + index);
    }
    return positions;
}

// Rows `positions` of x (any dtype), in that order.
Tensor take_rows(const Tensor& x, const std::vector<int64_t>& positions) {
    Shape shape = x.shape();
    shape[0] = static_cast<int64_t>(positions.size());
    Tensor taken = empty(shape, x.dtype());
    const size_t row_bytes = x.bytes() / static_cast<size_t>(x.size(0));
    for (size_t i = 0; i < positions.size(); i++)
        std::memcpy(static_cast<char*>(taken.raw()) + i * row_bytes,
                    static_cast<const char*>(x.raw()) + positions[i] * row_bytes, row_bytes);
    return taken;
}

Tensor i32_tensor(const std::vector<int32_t>& values) {
    return from_vector(values, {static_cast<int64_t>(values.size())});
}

struct Errors {
    double out = 0, lse = 0, dq = 0, dk = 0, dv = 0;
};

// One configuration: the errors of this rank's shard against the reference.
Errors run_case(const Batch& batch, ChunkLayout layout, int64_t H, int64_t Hkv, int64_t D, int64_t heads_k_stride,
                std::mt19937_64& rng, const std::string& where) {
    const int S = world_size(), rank = world_rank();
    const FullRows full = full_rows(batch);
    const int64_t total = static_cast<int64_t>(full.global_index.size());
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    // the same values on every rank (same seed, same draws)
    const Tensor q = random_uniform({total, H, D}, DType::f32, rng, -2, 2);
    const Tensor k = random_uniform({total, Hkv, D}, DType::f32, rng, -2, 2);
    const Tensor v = random_uniform({total, Hkv, D}, DType::f32, rng);
    const Tensor dout = random_uniform({total, H, D}, DType::f32, rng);

    // reference: the whole batch on one rank, in f64
    const Tensor index_full = i32_tensor(full.global_index), segment_full = i32_tensor(full.segment_ids);
    const AttentionMask mask{index_full, segment_full, index_full, segment_full, true, {}, {}};
    const Tensor q64 = to_dtype(q, DType::f64), k64 = to_dtype(k, DType::f64), v64 = to_dtype(v, DType::f64);
    const Tensor dout64 = to_dtype(dout, DType::f64);
    Tensor out_ref = empty({total, H, D}, DType::f64), lse_ref = empty({total, H}, DType::f64);
    Tensor dq_ref = zeros({total, H, D}, DType::f64), dk_ref = zeros({total, Hkv, D}, DType::f64);
    Tensor dv_ref = zeros({total, Hkv, D}, DType::f64);
    Backend& cpu = backend(q64);
    cpu.attention_block_forward(out_ref, lse_ref, q64, k64, v64, mask, scale);
    cpu.attention_block_backward(dq_ref, dk_ref, dv_ref, dout64, q64, k64, v64, out_ref, lse_ref, mask, scale);

    // this rank's shard through the op
    const std::vector<int64_t> mine = shard_positions(batch, full, layout, S, rank);
    RingAttentionInputs in;
    in.q = take_rows(q, mine);
    in.k = take_rows(k, mine);
    in.v = take_rows(v, mine);
    in.global_index = take_rows(index_full, mine);
    in.segment_ids = take_rows(segment_full, mine);
    in.scale = scale;
    in.heads_k_stride = heads_k_stride;
    std::unique_ptr<Communicator> transport = make_mpi_communicator(MPI_COMM_WORLD);
    Tape tape;
    const Tensor out = ring_attention(tape, *transport, RingAttnFunc::varlen_llama3, in);
    Grads grads;
    tape.backward(out, take_rows(dout, mine), grads);
    const Tensor* dq = grads.find(in.q);
    const Tensor* dk = grads.find(in.k);
    const Tensor* dv = grads.find(in.v);
    if (!dq || !dk || !dv) {
        ADD_FAILURE() << "no gradient reached q, k or v: " << where;
        return {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
    }
    // the LSE is not an output of the op: the forward directly
    Tensor out_direct = empty(in.q.shape(), DType::f32), lse = empty({in.q.size(0), H}, DType::f32);
    varlen_llama3_forward(*transport, in, out_direct, lse);

    Errors errors;
    errors.out = std::max(max_relative_error(out, take_rows(out_ref, mine)),
                          max_relative_error(out_direct, take_rows(out_ref, mine)));
    errors.lse = max_relative_error(lse, take_rows(lse_ref, mine));
    errors.dq = max_relative_error(*dq, take_rows(dq_ref, mine));
    errors.dk = max_relative_error(*dk, take_rows(dk_ref, mine));
    errors.dv = max_relative_error(*dv, take_rows(dv_ref, mine));
    const double tolerance = 1e-5;
    EXPECT_LE(errors.out, tolerance) << "out, " << where;
    EXPECT_LE(errors.lse, tolerance) << "lse, " << where;
    EXPECT_LE(errors.dq, tolerance) << "dq, " << where;
    EXPECT_LE(errors.dk, tolerance) << "dk, " << where;
    EXPECT_LE(errors.dv, tolerance) << "dv, " << where;
    return errors;
}

// Rows of 192 and 2 x 96 tokens (multiples of 2, 4 and 8 ranks). Chunk boundaries at S = 4:
// 48, 96, 144 (one row), 24, 48, 72 (two rows). Documents straddle them, one has one token,
// the padding at the end is its own segment; the last batch is drawn at random.
std::vector<Batch> batches(std::mt19937_64& rng) {
    Batch random_row{160, {{}}};
    int32_t used = 0;
    while (true) {
        const int32_t length = 1 + static_cast<int32_t>(rng() % 60);
        if (used + length > 150) break;  // at least 10 tokens of padding
        random_row.documents[0].push_back(length);
        used += length;
    }
    return {
        {192, {{37, 1, 70, 50, 20}}},          // 14 tokens of padding
        {96, {{30, 1, 45}, {60, 20, 1}}},      // two rows, 20 and 15 tokens of padding
        random_row,
    };
}

std::string describe(const Batch& batch) {
    std::string text = fmt::format("rows of {} tokens, documents", batch.row_length);
    for (const auto& row : batch.documents) text += fmt::format(" [{}]", fmt::join(row, " "));
    return text;
}

// The worst errors over every configuration and rank, printed by rank 0 (the numbers the
// tolerance is judged against).
void report(const char* test, Errors worst) {
    double values[5] = {worst.out, worst.lse, worst.dq, worst.dk, worst.dv};
    MPI_Allreduce(MPI_IN_PLACE, values, 5, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (world_rank() == 0)
        std::printf("%s, %d ranks: worst relative error out %.2e lse %.2e dq %.2e dk %.2e dv %.2e\n", test,
                    world_size(), values[0], values[1], values[2], values[3], values[4]);
}

void run_heads(const char* test, int64_t H, int64_t Hkv, int64_t D, const std::vector<int64_t>& strides,
               ChunkLayout layout = ChunkLayout::contiguous) {
    const uint64_t seed = shared_seed();
    std::mt19937_64 rng(seed);
    Errors worst;
    for (const Batch& batch : batches(rng)) {
        for (int64_t stride : strides) {
            const std::string where =
                fmt::format("layout {} H {} Hkv {} D {} heads_k_stride {}, {}, rank {} of {}, seed {}",
                            static_cast<int>(layout), H, Hkv, D, stride, describe(batch), world_rank(), world_size(), seed);
            const Errors e = run_case(batch, layout, H, Hkv, D, stride, rng, where);
            worst = {std::max(worst.out, e.out), std::max(worst.lse, e.lse), std::max(worst.dq, e.dq),
                     std::max(worst.dk, e.dk), std::max(worst.dv, e.dv)};
        }
    }
    report(test, worst);
}

}  // namespace

TEST(VarlenLlama3, GqaFourByTwoMatchesSingleRank) { run_heads("H 4 Hkv 2 D 16", 4, 2, 16, {1, 2, 0}); }

TEST(VarlenLlama3, GqaEightByFourMatchesSingleRank) { run_heads("H 8 Hkv 4 D 32", 8, 4, 32, {1, 2, 0}); }

// load_balance: document: every document (and the padding) cut head-tail over the ranks.
TEST(VarlenLlama3, DocumentLayoutMatchesSingleRank) {
    run_heads("document layout, H 4 Hkv 2 D 16", 4, 2, 16, {1, 0}, ChunkLayout::document);
}

TEST(VarlenLlama3, StrideNotDividingKvHeadsIsRefused) {
    std::mt19937_64 rng(shared_seed());
    RingAttentionInputs in;
    in.q = random_uniform({8, 4, 16}, DType::f32, rng);
    in.k = random_uniform({8, 2, 16}, DType::f32, rng);
    in.v = random_uniform({8, 2, 16}, DType::f32, rng);
    in.global_index = i32_tensor({0, 1, 2, 3, 4, 5, 6, 7});
    in.segment_ids = i32_tensor({0, 0, 0, 0, 0, 0, 0, 0});
    in.heads_k_stride = 3;
    std::unique_ptr<Communicator> transport = make_mpi_communicator(MPI_COMM_WORLD);
    Tensor out = empty(in.q.shape()), lse = empty({8, 4});
    try {
        varlen_llama3_forward(*transport, in, out, lse);
        ADD_FAILURE() << "heads_k_stride 3 with 2 KV heads was accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("heads_k_stride 3 must divide the 2 KV heads"), std::string::npos)
            << error.what();
    }
}

}  // namespace ringlm
