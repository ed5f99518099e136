#include "expect_error.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// More tokens than vocabulary entries, so ids repeat; ids[1] == ids[0] for certain.
Tensor repeating_ids(int64_t T, int32_t V, std::mt19937_64& rng) {
    Tensor ids = random_ints({T}, rng, 0, V);
    ids.data<int32_t>()[1] = ids.data<int32_t>()[0];
    return ids;
}

}  // namespace

TEST(Embedding, GradientsMatchFiniteDifferencesWithRepeatedIds) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t V = 5, C = 6, T = 9;
    Tensor ids = repeating_ids(T, V, rng);
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) { return embedding(tape, in[0], ids); };
    std::vector<Tensor> inputs{random_uniform({V, C}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Embedding, MatchesNaiveGatherAndScatterAdd) {
    // C = 150 spans several of the backward's column blocks, with a ragged last one.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t V = 7, C = 150, T = 40;
    Tensor ids = repeating_ids(T, V, rng);
    Tensor table = random_uniform({V, C}, DType::f64, rng);
    Tensor dout = random_uniform({T, C}, DType::f64, rng);

    Tape tape;
    Tensor out = embedding(tape, table, ids);
    Grads grads;
    grads.of(table);
    tape.backward(out, dout, grads);

    Tensor expected_dtable = zeros({V, C}, DType::f64);
    for (int64_t t = 0; t < T; t++) {
        const int64_t id = ids.data<int32_t>()[t];
        for (int64_t c = 0; c < C; c++) {
            EXPECT_EQ(out.data<double>()[t * C + c], table.data<double>()[id * C + c]) << "t " << t << " c " << c;
            expected_dtable.data<double>()[id * C + c] += dout.data<double>()[t * C + c];
        }
    }
    EXPECT_LE(max_relative_error(*grads.find(table), expected_dtable), 1e-15) << "seed " << seed;
}

TEST(Embedding, BackwardIsDeterministic) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t V = 3, C = 256, T = 64;
    Tensor ids = repeating_ids(T, V, rng);
    Tensor dout = random_uniform({T, C}, DType::f32, rng);
    Tensor first = zeros({V, C}), second = zeros({V, C});
    backend(dout).embedding_backward(first, dout, ids);
    backend(dout).embedding_backward(second, dout, ids);
    EXPECT_EQ(std::memcmp(first.raw(), second.raw(), first.bytes()), 0) << "seed " << seed;
}

TEST(Embedding, UsedTwiceAccumulatesGradients) {
    // The op applied twice to the same inputs: the second backward must add to the first
    // (backward kernels accumulate), or the gradient comes out halved.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    Tensor ids = from_vector<int32_t>({1, 3, 1, 0, 1}, {5});
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) {
        return add(tape, embedding(tape, in[0], ids), embedding(tape, in[0], ids));
    };
    GradientCheck check = check_gradients_f64(op, {random_uniform({4, 3}, DType::f64, rng)}, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Embedding, RejectsIdsOutsideVocabulary) {
    Tape tape;
    Tensor table = zeros({10, 4});
    for (int32_t bad : {10, -1}) {
        Tensor ids = from_vector<int32_t>({0, 3, 9, bad, 2}, {5});
        try {
            embedding(tape, table, ids);
            ADD_FAILURE() << "id " << bad << " was accepted";
        } catch (const Error& error) {
            const std::string message = error.what();
            EXPECT_EQ(message.rfind("embedding:", 0), 0u) << message;
            EXPECT_NE(message.find(fmt::format("ids[3] = {}", bad)), std::string::npos) << message;
        }
    }
}

TEST(Embedding, RejectsBadShapesAndDtypes) {
    Tape tape;
    Tensor ids = zeros({5}, DType::i32);
    expect_error_naming("embedding", [&] { embedding(tape, zeros({10, 4}), zeros({5})); });                  // f32 ids
    expect_error_naming("embedding", [&] { embedding(tape, zeros({10, 4}), zeros({5, 1}, DType::i32)); });  // 2-D ids
    expect_error_naming("embedding", [&] { embedding(tape, zeros({40}), ids); });                           // 1-D table
    expect_error_naming("embedding", [&] { embedding(tape, zeros({10, 4}, DType::i32), ids); });           // int table
}

}  // namespace ringlm
