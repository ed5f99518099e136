// tiled_mlp against finite differences (f64), and against the untiled MLP built from the ops
// it replaces (linear, swiglu, linear; with to_bf16 in bf16), for tiles that do and do not
// divide the rows: the output and every gradient.
#include "expect_error.h"
#include "ops/bf16.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// inputs: x [T, C], w1 [F, C], w3 [F, C], w2 [C, F]
std::vector<Tensor> random_mlp_inputs(int64_t T, int64_t C, int64_t F, DType dtype, std::mt19937_64& rng) {
    return {random_uniform({T, C}, dtype, rng), random_uniform({F, C}, dtype, rng), random_uniform({F, C}, dtype, rng),
            random_uniform({C, F}, dtype, rng)};
}

struct MlpRun {
    Tensor y;
    std::vector<Tensor> grads;  // of x, w1, w3, w2 (f32 in bf16 mode)
};

// The MLP (tiled when tile_rows > 0, else the untiled ops) and the gradients of sum(y * dy).
MlpRun run_mlp(const std::vector<Tensor>& in, const Tensor& dy, int64_t tile_rows, bool in_bf16) {
    Tape tape;
    Grads grads;
    MlpRun run;
    for (const Tensor& t : in) {
        run.grads.push_back(zeros_like(t));
        grads.bind(t, run.grads.back());
    }
    const Tensor w1_bf16 = in_bf16 ? bf16_copy(in[1]) : Tensor(), w3_bf16 = in_bf16 ? bf16_copy(in[2]) : Tensor(),
                 w2_bf16 = in_bf16 ? bf16_copy(in[3]) : Tensor();
    // in bf16 the gradient of x arrives in f32 through to_bf16, as in the model
    const Tensor x = in_bf16 ? to_bf16(tape, in[0]) : in[0];
    if (tile_rows > 0) {
        run.y = tiled_mlp(tape, x, in[1], in[2], in[3], tile_rows, w1_bf16, w3_bf16, w2_bf16);
    } else {
        Tensor g = swiglu(tape, linear(tape, x, in[1], w1_bf16), linear(tape, x, in[2], w3_bf16));
        run.y = linear(tape, in_bf16 ? to_bf16(tape, g) : g, in[3], w2_bf16);
    }
    tape.backward(run.y, dy, grads);
    return run;
}

// The share of elements further than `tolerance` (relative to max |expected|) from expected.
double share_beyond(const Tensor& actual, const Tensor& expected, double tolerance) {
    const std::vector<float> a = to_vector<float>(actual), e = to_vector<float>(expected);
    const double scale = max_abs(expected);
    size_t beyond = 0;
    for (size_t i = 0; i < a.size(); i++) beyond += std::fabs(a[i] - e[i]) > tolerance * scale;
    return static_cast<double>(beyond) / static_cast<double>(a.size());
}

// f32: every element within 1e-5. bf16: a sum that differs in its last f32 bit can round to the
// other bf16 neighbour (2^-9 relative) and carry that on, so a few elements may move by up to
// 1e-2 (as in model_equivalence_test); measured up to 2.3% of them past 1e-5 over 300 seeds, so
// at most 10% may be. A missing or misplaced bf16 rounding moves nearly every element by ~1e-3.
void expect_close(const Tensor& actual, const Tensor& expected, bool in_bf16, const std::string& what) {
    if (!in_bf16) {
        EXPECT_LE(max_relative_error(actual, expected), 1e-5) << what;
        return;
    }
    EXPECT_LE(max_relative_error(actual, expected), 1e-2) << what;
    EXPECT_LE(share_beyond(actual, expected, 1e-5), 0.1) << what << ": elements beyond 1e-5";
}

void expect_runs_equal(const MlpRun& tiled, const MlpRun& untiled, bool in_bf16, const std::string& what) {
    expect_close(tiled.y, untiled.y, in_bf16, what + ": y");
    const char* names[] = {"x", "w1", "w3", "w2"};
    for (size_t i = 0; i < tiled.grads.size(); i++)
        expect_close(tiled.grads[i], untiled.grads[i], in_bf16, what + ": d" + names[i]);
}

}  // namespace

TEST(TiledMlp, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    for (int64_t tile_rows : {1, 3, 7, 64}) {
        auto op = [tile_rows](Tape& tape, const std::vector<Tensor>& in) {
            return tiled_mlp(tape, in[0], in[1], in[2], in[3], tile_rows);
        };
        std::vector<Tensor> inputs = random_mlp_inputs(7, 5, 6, DType::f64, rng);
        GradientCheck check = check_gradients_f64(op, inputs, {0, 1, 2, 3}, rng);
        EXPECT_LE(check.max_error, 1e-6) << check.worst << ", tile_rows " << tile_rows << ", seed " << seed;
        GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1, 2, 3}, rng);
        EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", tile_rows " << tile_rows << ", seed " << seed;
    }
}

// The tiles change the order in which dw1, dw3, dw2 add their rows' terms, and GEMMs of fewer
// rows may round their sums differently (see expect_close for what that does in bf16).
TEST(TiledMlp, EqualsTheUntiledMlpInF32AndBf16) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 50, C = 32, F = 40;
    std::vector<Tensor> inputs = random_mlp_inputs(T, C, F, DType::f32, rng);
    const Tensor dy = random_uniform({T, C}, DType::f32, rng);
    for (bool in_bf16 : {false, true}) {
        const MlpRun untiled = run_mlp(inputs, dy, 0, in_bf16);
        for (int64_t tile_rows : {1, 16, 50, 64}) {
            const MlpRun tiled = run_mlp(inputs, dy, tile_rows, in_bf16);
            expect_runs_equal(tiled, untiled, in_bf16,
                              fmt::format("{}, tile_rows {}, seed {}", in_bf16 ? "bf16" : "f32", tile_rows, seed));
        }
    }
}

TEST(TiledMlp, RejectsMismatchedShapesAndTiles) {
    std::mt19937_64 rng(1);
    std::vector<Tensor> in = random_mlp_inputs(4, 3, 5, DType::f32, rng);
    Tape tape;
    expect_error_naming("tiled_mlp", [&] { tiled_mlp(tape, in[0], in[1], in[2], in[3], 0); });
    expect_error_naming("tiled_mlp", [&] { tiled_mlp(tape, in[0], in[1], in[2], in[1], 2); });  // w2 [F, C]
    expect_error_naming("tiled_mlp", [&] { tiled_mlp(tape, in[0], in[1], in[3], in[3], 2); });  // w3 [C, F]
    Tensor x_bf16 = bf16_copy(in[0]);
    expect_error_naming("tiled_mlp", [&] { tiled_mlp(tape, x_bf16, in[1], in[2], in[3], 2); });  // no bf16 copies
}

}  // namespace ringlm
