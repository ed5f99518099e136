// The ring-pass variants of ring attention (batch_ring, batch_zigzag, batch_stripe) against the
// single-rank attention of the whole row: out, lse, dq, dk, dv at every rank's tokens.
//
// Every rank draws the same whole rows (the seed comes from rank 0), computes the reference with
// the attention block kernel over all tokens in f64 (the kernel itself verified against a naive
// f64 reference in tests/unit/attention_block_test.cpp), then runs the op on its shard, cut as
// the data layer cuts it (row_chunk_indices: the variant's own layout, or load_balance:
// document's per-document head-tail pieces), through a Tape so the backward is the one
// training runs. The world is split
// into sequence-parallel groups of every S that divides it, so one mpiexec covers several S.
#include "parallel/chunk_layout.h"
#include "parallel/mpi_communicator.h"
#include "parallel/ring_attention.h"
#include "parallel/topology.h"
#include "mpi/mpi_test_util.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ringlm {
using namespace ringlm::testing;

namespace {

double max_over_world(double value) {
    double worst = 0;
    MPI_Allreduce(&value, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

ChunkLayout layout_of(RingAttnFunc variant) {
    switch (variant) {
        case RingAttnFunc::batch_zigzag: return ChunkLayout::zigzag;
        case RingAttnFunc::batch_stripe: return ChunkLayout::striped;
        default: return ChunkLayout::contiguous;
    }
}

Tensor i32_tensor(const std::vector<int32_t>& values) {
    return from_vector(values, {static_cast<int64_t>(values.size())});
}

// x[rows[i]] for each i (host tensors, rows of the first dimension).
Tensor gather_rows(const Tensor& x, const std::vector<int32_t>& rows) {
    const size_t row_bytes = x.bytes() / x.size(0);
    Shape shape = x.shape();
    shape[0] = static_cast<int64_t>(rows.size());
    Tensor y = empty(shape, x.dtype());
    for (size_t i = 0; i < rows.size(); i++)
        std::memcpy(static_cast<char*>(y.raw()) + i * row_bytes, static_cast<const char*>(x.raw()) + rows[i] * row_bytes,
                    row_bytes);
    return y;
}

// --- the whole batch, identical on every rank ----------------------------------------------

// H = 8 so Ulysses splits heads over up to 8 ranks; Hkv = 2 < S = 4, 8 replicates KV heads.
constexpr int64_t rows_per_batch = 2, sequence_len = 100, H = 8, Hkv = 2, D = 16;

// Two rows of `padded` tokens, concatenated as the trainer does: each row's global index
// restarts at 0, segment ids are unique across rows. Packed: documents of random lengths
// (one of length 1, one of 41 that spans several chunks) in random order, then trailing
// padding in its own segment. Unpacked: one document, then the padding.
struct Batch {
    int64_t padded = 0;
    std::vector<int32_t> index, segments;  // per token of the concatenation
    Tensor q, k, v, dout;
};

Batch make_batch(std::mt19937_64& rng, bool packing, int64_t padded) {
    Batch batch;
    batch.padded = padded;
    std::uniform_int_distribution<int64_t> padding(3, 8), length(2, 30);
    for (int64_t row = 0; row < rows_per_batch; row++) {
        const int64_t content = sequence_len - padding(rng);
        std::vector<int64_t> documents;
        if (packing) {
            documents = {1, 41};
            int64_t used = 42;
            while (used < content) {
                documents.push_back(std::min(length(rng), content - used));
                used += documents.back();
            }
            std::shuffle(documents.begin(), documents.end(), rng);
        } else {
            documents = {content};
        }
        documents.push_back(padded - content);  // the padding, a segment of its own
        int32_t segment = static_cast<int32_t>(row * (padded + 1));
        for (int64_t document : documents) {
            for (int64_t t = 0; t < document; t++) batch.segments.push_back(segment);
            segment++;
        }
        for (int64_t t = 0; t < padded; t++) batch.index.push_back(static_cast<int32_t>(t));
    }
    const int64_t T = rows_per_batch * padded;
    batch.q = random_uniform({T, H, D}, DType::f32, rng, -2, 2);
    batch.k = random_uniform({T, Hkv, D}, DType::f32, rng, -2, 2);
    batch.v = random_uniform({T, Hkv, D}, DType::f32, rng);
    batch.dout = random_uniform({T, H, D}, DType::f32, rng);
    return batch;
}

const double scale = 1.0 / std::sqrt(static_cast<double>(D));

struct Attention {
    Tensor out, lse, dq, dk, dv;
};

// The single-rank attention of the whole batch, in f64.
Attention whole_attention(const Batch& batch) {
    const int64_t T = batch.q.size(0);
    const DType f64 = DType::f64;
    Attention a{empty({T, H, D}, f64), empty({T, H}, f64), zeros({T, H, D}, f64), zeros({T, Hkv, D}, f64),
                zeros({T, Hkv, D}, f64)};
    const Tensor index = i32_tensor(batch.index), segments = i32_tensor(batch.segments);
    const AttentionMask mask{index, segments, index, segments, true, {}, {}};
    const Tensor q = to_dtype(batch.q, f64), k = to_dtype(batch.k, f64), v = to_dtype(batch.v, f64);
    Backend& cpu = backend(q);
    cpu.attention_block_forward(a.out, a.lse, q, k, v, mask, scale);
    cpu.attention_block_backward(a.dq, a.dk, a.dv, to_dtype(batch.dout, f64), q, k, v, a.out, a.lse, mask, scale);
    return a;
}

// This rank's tokens (positions in the concatenation), row by row as make_token_batch keeps them.
std::vector<int32_t> shard_tokens(const Batch& batch, const SequenceLayout& sequence) {
    std::vector<int32_t> tokens;
    for (int64_t row = 0; row < rows_per_batch; row++) {
        const auto first = batch.segments.begin() + row * batch.padded;
        const std::vector<std::vector<int32_t>> chunks =
            row_chunk_indices(std::vector<int32_t>(first, first + batch.padded), sequence.layout, sequence.sp_size);
        for (int32_t index : chunks.at(static_cast<size_t>(sequence.sp_rank)))
            tokens.push_back(static_cast<int32_t>(row * batch.padded + index));
    }
    return tokens;
}

RingAttentionInputs shard_inputs(const Batch& batch, const std::vector<int32_t>& tokens) {
    std::vector<int32_t> index, segments;
    for (int32_t t : tokens) {
        index.push_back(batch.index[t]);
        segments.push_back(batch.segments[t]);
    }
    RingAttentionInputs in;
    in.q = gather_rows(batch.q, tokens);
    in.k = gather_rows(batch.k, tokens);
    in.v = gather_rows(batch.v, tokens);
    in.global_index = i32_tensor(index);
    in.segment_ids = i32_tensor(segments);
    in.scale = scale;
    return in;
}

// The op on this rank's shard, forward and backward through a Tape.
Attention ring_op(Communicator& transport, RingAttnFunc variant, const RingAttentionInputs& in, const Tensor& dout,
                  AttentionReplay* replay = nullptr) {
    Tape tape;
    Attention a;
    a.out = ring_attention(tape, transport, variant, in, replay);
    Grads grads;
    tape.backward(a.out, dout, grads);
    auto gradient = [&](const Tensor& x) {
        const Tensor* g = grads.find(x);
        if (!g) fail("ring_attention test: no gradient reached an input");
        return *g;
    };
    a.dq = gradient(in.q);
    a.dk = gradient(in.k);
    a.dv = gradient(in.v);
    return a;
}

// An SP group of S adjacent ranks of the world, and its transport (with USP's Ulysses groups
// of U ranks and ring groups of S / U when 1 < U < S).
struct Group {
    MpiComm comm, ulysses_comm, ring_comm;
    std::unique_ptr<Communicator> transport;
};

Group sp_group(int S, int U = 1) {
    MPI_Comm comm = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split(MPI_COMM_WORLD, world_rank() / S, world_rank(), &comm), "MPI_Comm_split");
    Group group{MpiComm(comm), MpiComm(), MpiComm(), nullptr};
    if (U > 1 && U < S) split_usp_groups(group.comm.get(), U, group.ulysses_comm, group.ring_comm);
    group.transport = make_mpi_communicator(group.comm.get(), group.ulysses_comm.get(), group.ring_comm.get());
    return group;
}

// Every S that divides the world: 1 and the world size at least.
std::vector<int> group_sizes() {
    std::vector<int> sizes;
    for (int S = 1; S <= world_size(); S *= 2)
        if (world_size() % S == 0) sizes.push_back(S);
    return sizes;
}

constexpr RingAttnFunc ring_variants[] = {RingAttnFunc::batch_ring, RingAttnFunc::batch_zigzag,
                                          RingAttnFunc::batch_stripe};

// The variant at S (with Ulysses over U of the S ranks when U > 1) in the given chunk layout
// against the whole: out, lse, dq, dk, dv at this rank's tokens, worst over the world.
void expect_matches_whole(RingAttnFunc variant, ChunkLayout layout, int S, bool packing, uint64_t seed, int U = 1) {
    Group group = sp_group(S, U);
    const SequenceLayout sequence{layout, S, group.transport->rank()};
    std::mt19937_64 rng(seed);
    const Batch batch = make_batch(rng, packing, padded_row_length(sequence_len, sequence));
    const Attention whole = whole_attention(batch);
    const std::vector<int32_t> tokens = shard_tokens(batch, sequence);
    RingAttentionInputs in = shard_inputs(batch, tokens);
    in.ulysses_degree = U;

    const Attention mine = ring_op(*group.transport, variant, in, gather_rows(batch.dout, tokens));
    Tensor out = empty(in.q.shape()), lse = empty({in.q.size(0), H});
    if (U > 1) {
        ulysses_forward(*group.transport, variant, in, out, lse);
    } else {
        ring_pass_forward(*group.transport, in, out, lse);
    }

    const double errors[] = {
        max_relative_error(mine.out, gather_rows(whole.out, tokens)),
        max_relative_error(lse, gather_rows(whole.lse, tokens)),
        max_relative_error(mine.dq, gather_rows(whole.dq, tokens)),
        max_relative_error(mine.dk, gather_rows(whole.dk, tokens)),
        max_relative_error(mine.dv, gather_rows(whole.dv, tokens)),
    };
    const char* names[] = {"out", "lse", "dq", "dk", "dv"};
    std::string report;
    for (int i = 0; i < 5; i++) {
        const double worst = max_over_world(errors[i]);
        report += fmt::format(" {} {:.2e}", names[i], worst);
        EXPECT_LE(worst, 1e-5) << names[i] << " of " << name(variant) << ", layout " << static_cast<int>(layout)
                               << ", S = " << S << ", U = " << U << (packing ? ", packed" : ", one document")
                               << ", seed " << seed;
    }
    EXPECT_EQ(max_relative_error(out, mine.out), 0.0) << "the variant's forward and the op differ, seed " << seed;
    if (world_rank() == 0)
        std::printf("%-12s S=%d U=%d %-8s%s%s\n", std::string(name(variant)).c_str(), S, U,
                    packing ? "packed" : "unpacked", layout == ChunkLayout::document ? " document" : "",
                    report.c_str());
}

// Forwards to another communicator, counting ring steps.
class CountingCommunicator final : public Communicator {
public:
    explicit CountingCommunicator(Communicator& inner) : inner_(inner) {}
    int size() const override { return inner_.size(); }
    int rank() const override { return inner_.rank(); }
    std::unique_ptr<PendingExchange> ring_shift(const std::vector<Tensor>& send,
                                                const std::vector<Tensor>& receive) override {
        ring_shifts++;
        return inner_.ring_shift(send, receive);
    }
    std::unique_ptr<PendingExchange> all_gather(const Tensor& in, const Tensor& out) override {
        exchanges++;
        return inner_.all_gather(in, out);
    }
    std::unique_ptr<PendingExchange> reduce_scatter(const Tensor& in, const Tensor& out) override {
        exchanges++;
        return inner_.reduce_scatter(in, out);
    }
    std::unique_ptr<PendingExchange> all_to_all(const Tensor& in, const Tensor& out) override {
        all_to_alls++;
        return inner_.all_to_all(in, out);
    }
    std::unique_ptr<PendingExchange> all_reduce(const Tensor& x) override { return inner_.all_reduce(x); }
    void all_reduce_sum(double* values, int count) override { inner_.all_reduce_sum(values, count); }
    void all_reduce_max(int64_t* values, int count) override { inner_.all_reduce_max(values, count); }
    void broadcast(void* data, int64_t bytes, int root) override { inner_.broadcast(data, bytes, root); }
    std::vector<std::vector<int32_t>> all_gather_varying(const std::vector<int32_t>& mine) override {
        return inner_.all_gather_varying(mine);
    }
    void barrier() override { inner_.barrier(); }
    int ring_shifts = 0, exchanges = 0, all_to_alls = 0;

private:
    Communicator& inner_;
};

bool bitwise_equal(const Tensor& a, const Tensor& b) {
    return a.bytes() == b.bytes() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

}  // namespace

TEST(RingAttention, PackedRowsMatchSingleRank) {
    const uint64_t seed = shared_seed();
    for (RingAttnFunc variant : ring_variants)
        for (int S : group_sizes()) expect_matches_whole(variant, layout_of(variant), S, true, seed);
}

TEST(RingAttention, OneDocumentMatchesSingleRank) {
    const uint64_t seed = shared_seed();
    for (RingAttnFunc variant : ring_variants)
        for (int S : group_sizes()) expect_matches_whole(variant, layout_of(variant), S, false, seed);
}

// load_balance: document. The ring pass is one code path for every ring variant (the variant
// only picks the layout), so one variant covers it; its block skipping sees every rank's
// index/segment ranges span the row and skips nothing, which stays correct.
TEST(RingAttention, DocumentLayoutMatchesSingleRank) {
    const uint64_t seed = shared_seed();
    for (bool packing : {true, false})
        for (int S : group_sizes()) expect_matches_whole(RingAttnFunc::batch_ring, ChunkLayout::document, S, packing, seed);
}

// Activation checkpointing's recompute: the replayed forward must not touch the ring (S - 1
// shifts the first time, none on replay), and the backward must give the same bits.
TEST(RingAttention, ReplayDoesNoCommunicationAndGivesTheSameGradients) {
    const uint64_t seed = shared_seed();
    const int S = world_size();
    Group group = sp_group(S);
    for (RingAttnFunc variant : ring_variants) {
        const SequenceLayout sequence{layout_of(variant), S, group.transport->rank()};
        std::mt19937_64 rng(seed);
        const Batch batch = make_batch(rng, true, padded_row_length(sequence_len, sequence));
        const std::vector<int32_t> tokens = shard_tokens(batch, sequence);
        const RingAttentionInputs in = shard_inputs(batch, tokens);
        const Tensor dout = gather_rows(batch.dout, tokens);
        CountingCommunicator counting(*group.transport);
        const std::string where = fmt::format("{}, S = {}, seed {}", name(variant), S, seed);

        // the first forward fills the replay; count the forward alone
        AttentionReplay replay;
        {
            Tape tape;
            ring_attention(tape, counting, variant, in, &replay);
            EXPECT_EQ(counting.ring_shifts, S - 1) << where;
            tape.clear();
        }
        const Attention first = ring_op(*group.transport, variant, in, dout);

        counting.ring_shifts = 0;
        Tape tape;
        const Tensor replayed = ring_attention(tape, counting, variant, in, &replay);
        EXPECT_EQ(counting.ring_shifts, 0) << "the replayed forward communicated, " << where;
        EXPECT_TRUE(bitwise_equal(replayed, first.out)) << where;
        Grads grads;
        tape.backward(replayed, dout, grads);
        // backward: S - 1 K/V shifts and S dK/dV shifts (none at S = 1)
        EXPECT_EQ(counting.ring_shifts, S > 1 ? 2 * S - 1 : 0) << where;
        EXPECT_EQ(counting.exchanges, 0) << where;
        EXPECT_TRUE(bitwise_equal(*grads.find(in.q), first.dq)) << "dq, " << where;
        EXPECT_TRUE(bitwise_equal(*grads.find(in.k), first.dk)) << "dk, " << where;
        EXPECT_TRUE(bitwise_equal(*grads.find(in.v), first.dv)) << "dv, " << where;
    }
}

// Ulysses (U = S): the head layout's token order is whatever the chunk layout gave (contiguous,
// zigzag, striped, load_balance: document); the mask from global indices keeps it exact. H = 8, Hkv = 2: at S = 4 and 8
// each KV head is replicated on S / 2 ranks and their dK/dV summed back.
TEST(UlyssesAttention, MatchesSingleRankInEveryChunkLayout) {
    const uint64_t seed = shared_seed();
    for (int S : group_sizes()) {
        if (S == 1) continue;
        for (RingAttnFunc variant : ring_variants)
            for (bool packing : {true, false}) expect_matches_whole(variant, layout_of(variant), S, packing, seed, S);
        expect_matches_whole(RingAttnFunc::batch_ring, ChunkLayout::document, S, true, seed, S);
    }
}

// USP: Ulysses over U = 2 adjacent ranks, the ring (zigzag) or the all-gather over R = S / 2.
TEST(UlyssesAttention, UspMatchesSingleRank) {
    const uint64_t seed = shared_seed();
    const int S = world_size();
    if (S < 4) GTEST_SKIP() << "USP needs U x R with R > 1: at least 4 ranks";
    for (RingAttnFunc variant : {RingAttnFunc::batch_zigzag, RingAttnFunc::varlen_llama3})
        for (bool packing : {true, false}) expect_matches_whole(variant, layout_of(variant), S, packing, seed, 2);
    expect_matches_whole(RingAttnFunc::batch_zigzag, ChunkLayout::document, S, true, seed, 2);
    if (S == 8) expect_matches_whole(RingAttnFunc::batch_zigzag, ChunkLayout::zigzag, S, true, seed, 4);  // 4 x 2
}

// Refused in one line naming the counts: 8 heads over 3 ranks cannot be split.
TEST(UlyssesAttention, HeadsThatDoNotSplitAreRefused) {
    if (world_size() != 2) GTEST_SKIP() << "one rank count is enough";
    Group group = sp_group(2);
    std::mt19937_64 rng(shared_seed());
    RingAttentionInputs in;
    in.q = random_uniform({4, 3, D}, DType::f32, rng);
    in.k = random_uniform({4, 1, D}, DType::f32, rng);
    in.v = random_uniform({4, 1, D}, DType::f32, rng);
    in.global_index = i32_tensor({0, 1, 2, 3});
    in.segment_ids = i32_tensor({0, 0, 0, 0});
    in.ulysses_degree = 2;
    Tape tape;
    try {
        ring_attention(tape, *group.transport, RingAttnFunc::batch_ring, in);
        ADD_FAILURE() << "3 heads over 2 ranks ran";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("3 attention heads and 1 KV heads cannot be split over "
                                                 "ulysses_degree 2"),
                  std::string::npos)
            << error.what();
    }
}

// Checkpointing's replay under Ulysses: no all-to-all on replay, the same bits in backward.
TEST(UlyssesAttention, ReplayDoesNoCommunicationAndGivesTheSameGradients) {
    const uint64_t seed = shared_seed();
    const int S = world_size();
    Group group = sp_group(S);
    const SequenceLayout sequence{ChunkLayout::zigzag, S, group.transport->rank()};
    std::mt19937_64 rng(seed);
    const Batch batch = make_batch(rng, true, padded_row_length(sequence_len, sequence));
    const std::vector<int32_t> tokens = shard_tokens(batch, sequence);
    RingAttentionInputs in = shard_inputs(batch, tokens);
    in.ulysses_degree = S;
    const Tensor dout = gather_rows(batch.dout, tokens);
    CountingCommunicator counting(*group.transport);
    AttentionReplay replay;
    group.transport->take_bytes_sent();
    {
        Tape tape;
        ring_attention(tape, counting, RingAttnFunc::batch_zigzag, in, &replay);
        EXPECT_EQ(counting.all_to_alls, 5) << "q, k, v there, out and lse back; seed " << seed;
        tape.clear();
    }
    // The Communicator's byte count: (S-1)/S of each all-to-all's input (q and out [T, H, D], lse
    // [T, H], k and v [T, max(Hkv, S), D] with replicated KV heads) and (S-1) x the i32 index
    // and segment ids of the mask's all-gathers.
    const int64_t T = in.q.size(0), kv_sent = std::max<int64_t>(Hkv, S);
    const CommunicatorBytes forward = group.transport->take_bytes_sent();
    EXPECT_EQ(forward.all_to_all, (S - 1) * (4 * T * (2 * H * D + 2 * kv_sent * D + H) / S)) << "seed " << seed;
    EXPECT_EQ(forward.all_gather, (S - 1) * 2 * 4 * T) << "seed " << seed;
    EXPECT_EQ(forward.ring_shift + forward.reduce_scatter, 0) << "seed " << seed;
    const Attention first = ring_op(*group.transport, RingAttnFunc::batch_zigzag, in, dout);
    counting.all_to_alls = 0;
    Tape tape;
    const Tensor replayed = ring_attention(tape, counting, RingAttnFunc::batch_zigzag, in, &replay);
    EXPECT_EQ(counting.all_to_alls, 0) << "the replayed forward communicated, seed " << seed;
    EXPECT_TRUE(bitwise_equal(replayed, first.out));
    Grads grads;
    tape.backward(replayed, dout, grads);
    EXPECT_EQ(counting.all_to_alls, 9) << "q, k, v, out, lse, dout there, dq, dk, dv back; seed " << seed;
    EXPECT_EQ(counting.ring_shifts, 0);
    EXPECT_TRUE(bitwise_equal(*grads.find(in.q), first.dq)) << "dq, seed " << seed;
    EXPECT_TRUE(bitwise_equal(*grads.find(in.k), first.dk)) << "dk, seed " << seed;
    EXPECT_TRUE(bitwise_equal(*grads.find(in.v), first.dv)) << "dv, seed " << seed;
}

}  // namespace ringlm
