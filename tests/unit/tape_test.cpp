// The tape: inference mode, gradient accumulation for tensors used twice, skipped nodes,
// bound parameter gradients across backward passes, and activation checkpointing.
#include "autograd/checkpoint.h"
#include "ops/ops.h"
#include "tensor/allocator.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// out = a + b, a node written here so the tests do not depend on the elementwise ops.
Tensor add_for_test(Tape& tape, const Tensor& a, const Tensor& b) {
    Tensor out = empty_like(a);
    backend(a).add(out, a, b);
    tape.record("add_for_test", out, [a, b](Grads& grads, const Tensor& dout) {
        backend(dout).axpy(grads.of(a), dout, 1.0);
        backend(dout).axpy(grads.of(b), dout, 1.0);
    });
    return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

size_t bytes_in_use() { return cpu_allocator().stats().bytes_in_use; }

}  // namespace

TEST(Tape, InferenceModeRecordsAndKeepsNothing) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 64, C = 256;  // x is 64 KiB, y 64 KiB, inv_rms 256 B
    // The bytes still held once x and w are gone: y alone when nothing was saved; x, w and
    // inv_rms too when a training tape holds rmsnorm's node.
    auto bytes_held_after_forward = [&](Tape& tape, Tensor& y) {
        const size_t before = bytes_in_use();
        {
            Tensor x = random_uniform({T, C}, DType::f32, rng);
            Tensor w = random_uniform({C}, DType::f32, rng);
            y = rmsnorm(tape, x, w, 1e-5);
        }
        return bytes_in_use() - before;
    };
    const size_t y_bytes = T * C * sizeof(float);

    Tape inference(Tape::Mode::inference);
    Tensor y_inference;
    EXPECT_EQ(bytes_held_after_forward(inference, y_inference), y_bytes);
    EXPECT_EQ(inference.size(), 0u);
    EXPECT_FALSE(inference.recording());

    Tape training;
    Tensor y_training;
    EXPECT_GE(bytes_held_after_forward(training, y_training), 2 * y_bytes + C * sizeof(float));
    EXPECT_EQ(training.size(), 1u);
    training.clear();  // dropping the nodes frees what they saved
    EXPECT_EQ(training.size(), 0u);
}

// x feeds two rmsnorms whose outputs are added, and w feeds two rmsnorms in a chain: both
// gradients are sums of two contributions, checked against finite differences.
TEST(Tape, TensorUsedTwiceAccumulatesBothContributions) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 4, C = 6;
    auto op = [](Tape& tape, const std::vector<Tensor>& in) {
        const Tensor &x = in[0], &w = in[1], &u = in[2];
        Tensor twice = add_for_test(tape, rmsnorm(tape, x, w, 1e-5), rmsnorm(tape, x, u, 1e-5));
        return rmsnorm(tape, rmsnorm(tape, twice, w, 1e-5), u, 1e-5);
    };
    std::vector<Tensor> inputs{random_uniform({T, C}, DType::f64, rng),
                               random_uniform({C}, DType::f64, rng, 0.5, 1.5),
                               random_uniform({C}, DType::f64, rng, 0.5, 1.5)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1, 2}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;

    // a + a: the same tensor as both inputs of one node gets 2 * dout
    Tensor a = random_uniform({3, 5}, DType::f64, rng);
    Tape tape;
    Tensor doubled = add_for_test(tape, a, a);
    Tensor dout = random_uniform({3, 5}, DType::f64, rng);
    Grads grads;
    grads.of(a);
    tape.backward(doubled, dout, grads);
    for (int64_t i = 0; i < a.numel(); i++)
        EXPECT_EQ(grads.find(a)->data<double>()[i], 2 * dout.data<double>()[i]) << "element " << i;
}

TEST(Tape, NodeWithoutGradientIsSkipped) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    Tensor x = random_uniform({3, 4}, DType::f32, rng);
    Tensor w = random_uniform({4}, DType::f32, rng);
    Tensor w_unused = random_uniform({4}, DType::f32, rng);
    Tape tape;
    Tensor y = rmsnorm(tape, x, w, 1e-5);
    Tensor side = rmsnorm(tape, x, w_unused, 1e-5);  // recorded after y, yet off y's path
    bool side_ran = false;
    tape.record("spy", side, [&](Grads&, const Tensor&) { side_ran = true; });
    Tensor first = rmsnorm(tape, y, w, 1e-5);
    EXPECT_EQ(tape.size(), 4u);
    Grads grads;
    tape.backward(first, random_uniform(first.shape(), DType::f32, rng), grads);
    EXPECT_FALSE(side_ran);
    EXPECT_EQ(grads.find(w_unused), nullptr);  // the skipped rmsnorm touched nothing
    EXPECT_NE(grads.find(w), nullptr);
    EXPECT_NE(grads.find(x), nullptr);
    EXPECT_EQ(grads.find(y), nullptr);  // an intermediate gradient is dropped once consumed
    EXPECT_EQ(tape.size(), 0u);

    // a node with two outputs, only one of which receives a gradient: it runs, and sees the
    // other's gradient as undefined
    Tensor out_a = zeros({2, 2}), out_b = zeros({2, 2});
    bool ran = false, a_defined = false, b_defined = true;
    tape.record("two outputs", {out_a, out_b}, [&](Grads&, const std::vector<Tensor>& dys) {
        ran = true;
        a_defined = dys[0].defined();
        b_defined = dys[1].defined();
    });
    tape.backward(out_a, zeros({2, 2}), grads);
    EXPECT_TRUE(ran);
    EXPECT_TRUE(a_defined);
    EXPECT_FALSE(b_defined);
}

// A node names its outputs by descriptor and does not hold them, and ops whose backward does
// not read an input do not save it: along scale -> reshape -> rope -> add -> scale only the
// last output (held by the caller) outlives forward. The same chain in f64 still has the
// finite-difference gradient, so backward finds every gradient from the descriptors.
TEST(Tape, ActivationsNoOneNeedsAreFreedDuringForward) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 16, H = 4, D = 8;  // [T, H * D] f32 is 2 KiB, a whole number of allocator granules
    Tensor position_ids = random_ints({T}, rng, 0, 1024);
    const RopeFrequencies frequencies = default_rope_frequencies(10000.0, D);  // the model's table, made once
    auto chain = [&](Tape& tape, const std::vector<Tensor>& in) {
        Tensor doubled = scale(tape, in[0], 2.0);
        Tensor rotated = rope(tape, reshape(tape, doubled, {T, H, D}), position_ids, frequencies);
        return scale(tape, add(tape, rotated, rotated), 0.5);
    };

    Tensor x = random_uniform({T, H * D}, DType::f32, rng);
    Tape tape;
    const size_t before = bytes_in_use();
    Tensor y = chain(tape, {x});
    // before descriptors the tape held doubled, rotated, the sum and y: four times this
    EXPECT_EQ(bytes_in_use() - before, static_cast<size_t>(T * H * D) * sizeof(float));
    EXPECT_EQ(tape.size(), 5u);
    Grads grads;
    tape.backward(y, random_uniform(y.shape(), DType::f32, rng), grads);
    ASSERT_NE(grads.find(x), nullptr);
    EXPECT_EQ(grads.find(x)->shape(), x.shape());

    GradientCheck check = check_gradients_f64(chain, {random_uniform({T, H * D}, DType::f64, rng)}, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

// bf16 matmuls: to_bf16 does not save its f32 input, so between forward and backward the
// linear op holds the bf16 copy of x and nothing of the f32 activation that was cast.
TEST(Tape, Bf16MatmulKeepsOnlyTheBf16CopyOfItsInput) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 32, in = 64, out = 16;
    Tensor w = random_uniform({out, in}, DType::f32, rng);
    Tensor w_bf16 = empty(w.shape(), DType::bf16);
    backend(w).copy(w_bf16, w);
    Tensor x = random_uniform({T, in}, DType::f32, rng);
    Tape tape;
    const size_t before = bytes_in_use();
    Tensor y = linear(tape, to_bf16(tape, scale(tape, x, 3.0)), w, w_bf16);
    // y (f32 [T, out]) and the bf16 copy of 3x; not 3x itself (f32 [T, in])
    EXPECT_EQ(bytes_in_use() - before, static_cast<size_t>(T * out) * sizeof(float) + static_cast<size_t>(T * in) * 2);
    Tensor w_grad = zeros_like(w);
    Grads grads;
    grads.bind(w, w_grad);
    tape.backward(y, random_uniform(y.shape(), DType::f32, rng), grads);
    ASSERT_NE(grads.find(x), nullptr);
    EXPECT_EQ(grads.find(x)->dtype(), DType::f32);
    EXPECT_GT(max_abs(*grads.find(x)), 0) << "seed " << seed;
    EXPECT_GT(max_abs(w_grad), 0) << "seed " << seed;
}

// Gradient accumulation: two micro batches, one bound buffer holding the sum of both.
TEST(Tape, BoundGradientAccumulatesAcrossBackwardPasses) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 5, C = 8;
    Tensor w = random_uniform({C}, DType::f64, rng, 0.5, 1.5);
    Tensor x1 = random_uniform({T, C}, DType::f64, rng), x2 = random_uniform({T, C}, DType::f64, rng);
    Tensor dy1 = random_uniform({T, C}, DType::f64, rng), dy2 = random_uniform({T, C}, DType::f64, rng);
    auto gradient_of_w = [&](const Tensor& x, const Tensor& dy, Grads& grads) {
        Tape tape;
        Tensor y = rmsnorm(tape, rmsnorm(tape, x, w, 1e-5), w, 1e-5);
        tape.backward(y, dy, grads);
    };
    // each micro batch alone, in its own unbound Grads
    Grads alone1, alone2;
    alone1.of(w);
    alone2.of(w);
    gradient_of_w(x1, dy1, alone1);
    gradient_of_w(x2, dy2, alone2);

    Tensor w_grad = zeros_like(w);
    Grads grads;
    grads.bind(w, w_grad);
    gradient_of_w(x1, dy1, grads);
    EXPECT_TRUE(same_bits(w_grad, *alone1.find(w)));  // the first pass lands in the bound buffer
    grads.clear_unbound();
    EXPECT_EQ(grads.find(x1), nullptr);
    ASSERT_NE(grads.find(w), nullptr);  // bound: survives clear_unbound
    gradient_of_w(x2, dy2, grads);
    for (int64_t c = 0; c < C; c++) {
        // (g1 + a) + b against g1 + (a + b): equal up to the rounding of one addition
        const double g1 = alone1.find(w)->data<double>()[c], g2 = alone2.find(w)->data<double>()[c];
        EXPECT_NEAR(w_grad.data<double>()[c], g1 + g2, 1e-14 * (std::fabs(g1) + std::fabs(g2))) << "element " << c;
    }
    EXPECT_THROW(grads.bind(w, zeros({C + 1}, DType::f64)), Error);
    EXPECT_THROW(grads.bind(w, zeros({C}, DType::f32)), Error);
}

// A region (two rmsnorms, then the cross-entropy) run checkpointed and unchecked: the same
// gradient bits, and less memory held between forward and backward.
TEST(Checkpoint, SameGradientsWithLessMemory) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 64, C = 128, V = 50;
    Tensor x = random_uniform({T, C}, DType::f32, rng);
    Tensor w1 = random_uniform({C}, DType::f32, rng, 0.5, 1.5);
    Tensor w2 = random_uniform({C}, DType::f32, rng, 0.5, 1.5);
    Tensor classifier = random_uniform({V, C}, DType::f32, rng);
    Tensor labels = random_ints({T}, rng, 0, static_cast<int32_t>(V));
    labels.data<int32_t>()[3] = -100;
    Tensor dlosses = random_uniform({T}, DType::f32, rng);
    Region region = [&](Tape& tape, const Tensor& input) {
        Tensor h = rmsnorm(tape, rmsnorm(tape, input, w1, 1e-5), w2, 1e-5);
        return cross_entropy(tape, h, classifier, labels, 24);
    };

    struct Run {
        std::vector<Tensor> gradients;  // x, w1, w2, classifier
        Tensor losses;
        size_t bytes_held = 0;          // after forward, before backward
    };
    enum class Mode { plain, checkpointed, offloaded };
    auto run = [&](Mode mode) {
        Run result;
        Tape tape;
        const size_t before = bytes_in_use();
        result.losses = mode == Mode::plain ? region(tape, x)
                                            : checkpoint(tape, "region", region, x, mode == Mode::offloaded);
        result.bytes_held = bytes_in_use() - before;
        Grads grads;
        for (const Tensor* t : {&x, &w1, &w2, &classifier}) grads.bind(*t, zeros_like(*t));
        tape.backward(result.losses, dlosses, grads);
        for (const Tensor* t : {&x, &w1, &w2, &classifier}) result.gradients.push_back(*grads.find(*t));
        return result;
    };
    Run plain = run(Mode::plain), checkpointed = run(Mode::checkpointed), offloaded = run(Mode::offloaded);

    const char* names[] = {"x", "w1", "w2", "classifier"};
    for (const Run* other : {&checkpointed, &offloaded}) {
        const char* which = other == &checkpointed ? "checkpointed" : "offloaded";
        EXPECT_TRUE(same_bits(other->losses, plain.losses)) << which << ", seed " << seed;
        // x is bound, as a model's parameters are: offloading hands the replayed copy's
        // gradient to x's own buffer
        for (int i = 0; i < 4; i++)
            EXPECT_TRUE(same_bits(other->gradients[i], plain.gradients[i])) << which << " " << names[i] << ", seed "
                                                                           << seed;
    }
    for (int i = 0; i < 4; i++)
        EXPECT_GT(max_abs(plain.gradients[i]), 0) << names[i];  // a gradient that is all zero proves nothing
    // unchecked keeps two [T, C] activations (64 KiB) and more; checkpointed only the losses;
    // offloaded the losses and x's host copy (here the same host memory, on a GPU host instead of device)
    EXPECT_GE(plain.bytes_held, 2 * T * C * sizeof(float));
    EXPECT_LE(checkpointed.bytes_held, 1024u);
    EXPECT_LT(checkpointed.bytes_held, plain.bytes_held);
    EXPECT_LE(offloaded.bytes_held, checkpointed.bytes_held + T * C * sizeof(float));
}

}  // namespace ringlm
