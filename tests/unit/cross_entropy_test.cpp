// The chunked cross-entropy op against a naive f64 reference that materialises the whole
// [T, V] logits, and against finite differences.
#include "ops/check.h"
#include "ops/ops.h"
#include "tensor/allocator.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// Loss and gradients of sum_t dlosses[t] * loss[t], computed the textbook way in f64.
struct CrossEntropyReference {
    Tensor losses;       // [T]
    Tensor dhidden;      // [T, C]
    Tensor dclassifier;  // [V, C]
};

CrossEntropyReference cross_entropy_reference_f64(const Tensor& hidden, const Tensor& classifier,
                                                  const Tensor& labels, const Tensor& dlosses) {
    Tensor h = to_dtype(hidden, DType::f64), w = to_dtype(classifier, DType::f64), dl = to_dtype(dlosses, DType::f64);
    const int64_t T = h.rows(), C = h.cols(), V = w.rows();
    const double* hp = h.data<double>();
    const double* wp = w.data<double>();
    const int32_t* yp = labels.data<int32_t>();
    CrossEntropyReference ref{zeros({T}, DType::f64), zeros({T, C}, DType::f64), zeros({V, C}, DType::f64)};
    std::vector<double> logits(V), dlogits(V);
    for (int64_t t = 0; t < T; t++) {
        if (yp[t] == -100) continue;
        for (int64_t v = 0; v < V; v++) {
            double acc = 0;
            for (int64_t c = 0; c < C; c++) acc += hp[t * C + c] * wp[v * C + c];
            logits[v] = acc;
        }
        double largest = logits[0];
        for (double z : logits) largest = std::max(largest, z);
        double total = 0;
        for (double z : logits) total += std::exp(z - largest);
        const double log_normaliser = largest + std::log(total);
        // log_softmax[label] = logits[label] - log_normaliser
        ref.losses.data<double>()[t] = -(logits[yp[t]] - log_normaliser);
        for (int64_t v = 0; v < V; v++)
            dlogits[v] = dl.data<double>()[t] * (std::exp(logits[v] - log_normaliser) - (v == yp[t] ? 1.0 : 0.0));
        for (int64_t v = 0; v < V; v++) {
            for (int64_t c = 0; c < C; c++) {
                ref.dhidden.data<double>()[t * C + c] += dlogits[v] * wp[v * C + c];
                ref.dclassifier.data<double>()[v * C + c] += dlogits[v] * hp[t * C + c];
            }
        }
    }
    return ref;
}

// Labels in [0, V) with about a fifth of them -100.
Tensor random_labels(int64_t T, int64_t V, std::mt19937_64& rng) {
    Tensor labels = random_ints({T}, rng, 0, static_cast<int32_t>(V));
    std::bernoulli_distribution ignore(0.2);
    for (int64_t t = 0; t < T; t++)
        if (ignore(rng)) labels.data<int32_t>()[t] = -100;
    return labels;
}

int64_t uniform_int(std::mt19937_64& rng, int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(rng);
}

}  // namespace

TEST(CrossEntropy, MatchesNaiveReferenceForEveryChunking) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    for (int trial = 0; trial < 3; trial++) {
        const int64_t T = uniform_int(rng, 7, 40), C = uniform_int(rng, 1, 24), V = uniform_int(rng, 2, 60);
        Tensor hidden = random_uniform({T, C}, DType::f32, rng, -2, 2);
        Tensor classifier = random_uniform({V, C}, DType::f32, rng, -2, 2);
        Tensor labels = random_labels(T, V, rng);
        Tensor dlosses = random_uniform({T}, DType::f32, rng);
        CrossEntropyReference ref = cross_entropy_reference_f64(hidden, classifier, labels, dlosses);

        // one row at a time, a size that does not divide T (T - 1 leaves a last chunk of 1 row,
        // and a random one), exactly T, and more than T
        const int64_t chunkings[] = {1, T - 1, uniform_int(rng, 2, T - 1), T, T + 5};
        for (int64_t chunk_rows : chunkings) {
            SCOPED_TRACE(fmt::format("T={} C={} V={} chunk_rows={} seed {}", T, C, V, chunk_rows, seed));
            Tape tape;
            Tensor losses = cross_entropy(tape, hidden, classifier, labels, chunk_rows);
            Grads grads;
            tape.backward(losses, dlosses, grads);
            EXPECT_EQ(losses.shape(), Shape({T}));
            EXPECT_LE(max_relative_error(losses, ref.losses), 1e-5);
            EXPECT_LE(max_relative_error(*grads.find(hidden), ref.dhidden), 1e-5);
            EXPECT_LE(max_relative_error(*grads.find(classifier), ref.dclassifier), 1e-5);
            for (int64_t t = 0; t < T; t++) {
                if (labels.data<int32_t>()[t] == -100) {
                    EXPECT_EQ(losses.data<float>()[t], 0.0f) << "ignored token " << t;
                }
            }
        }
    }
}

TEST(CrossEntropy, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 7, C = 5, V = 11;
    Tensor labels = random_labels(T, V, rng);
    labels.data<int32_t>()[0] = 3;    // at least one token with a loss
    labels.data<int32_t>()[1] = -100;  // and one without
    for (int64_t chunk_rows : {int64_t{3}, T}) {
        auto op = [chunk_rows](Tape& tape, const std::vector<Tensor>& in) {
            return cross_entropy(tape, in[0], in[1], in[2], chunk_rows);
        };
        std::vector<Tensor> inputs{random_uniform({T, C}, DType::f64, rng), random_uniform({V, C}, DType::f64, rng),
                                   labels};
        GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
        EXPECT_LE(check.max_error, 1e-6) << check.worst << ", chunk_rows " << chunk_rows << ", seed " << seed;
        GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1}, rng);
        EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", chunk_rows " << chunk_rows << ", seed " << seed;
    }
}

// Logits in the thousands: exp() of them overflows float, the max-subtracted LSE does not.
// Integer inputs make the f32 logits exact, so what is measured is the softmax alone.
TEST(CrossEntropy, LargeLogitsStayFinite) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 9, C = 4, V = 13;
    auto random_integers_f32 = [&](Shape shape) {
        Tensor x = random_uniform(shape, DType::f32, rng, -30, 30);
        for (int64_t i = 0; i < x.numel(); i++) x.data<float>()[i] = std::round(x.data<float>()[i]);
        return x;
    };
    Tensor hidden = random_integers_f32({T, C});
    Tensor classifier = random_integers_f32({V, C});
    Tensor labels = random_labels(T, V, rng);
    Tensor dlosses = random_uniform({T}, DType::f32, rng);
    CrossEntropyReference ref = cross_entropy_reference_f64(hidden, classifier, labels, dlosses);
    Tape tape;
    Tensor losses = cross_entropy(tape, hidden, classifier, labels, 4);
    Grads grads;
    tape.backward(losses, dlosses, grads);
    ASSERT_TRUE(all_finite(losses)) << "seed " << seed;
    ASSERT_TRUE(all_finite(*grads.find(hidden))) << "seed " << seed;
    EXPECT_LE(max_relative_error(losses, ref.losses), 1e-5) << "seed " << seed;
    // Backward reads the lse saved in f32: near 3000 its spacing is 2.4e-4, so
    // softmax = exp(logit - lse) carries up to 1.2e-4 relative error. That, not overflow, is
    // the limit here (a naive exp would give inf or NaN).
    EXPECT_LE(max_relative_error(*grads.find(hidden), ref.dhidden), 1e-3) << "seed " << seed;
    EXPECT_LE(max_relative_error(*grads.find(classifier), ref.dclassifier), 1e-3) << "seed " << seed;
}

// The point of chunking: forward + backward never hold anything near the [T, V] logits.
TEST(CrossEntropy, NeverHoldsTheFullLogits) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 256, C = 8, V = 1000, chunk_rows = 16;
    Tensor hidden = random_uniform({T, C}, DType::f32, rng);
    Tensor classifier = random_uniform({V, C}, DType::f32, rng);
    Tensor labels = random_labels(T, V, rng);
    Tensor dlosses = random_uniform({T}, DType::f32, rng);
    Allocator& allocator = cpu_allocator();
    allocator.reset_peak();
    const size_t baseline = allocator.stats().bytes_in_use;
    {
        Tape tape;
        Tensor losses = cross_entropy(tape, hidden, classifier, labels, chunk_rows);
        // what the tape keeps after forward: losses and lse, 2 * T floats, plus block rounding
        EXPECT_LE(allocator.stats().bytes_in_use - baseline, size_t{4096});
        Grads grads;
        tape.backward(losses, dlosses, grads);
    }
    const size_t full_logits = T * V * sizeof(float);  // 1 MB
    // peak: one [16, V] chunk (64 kB), dhidden (8 kB), dclassifier (32 kB), small vectors
    EXPECT_LT(allocator.stats().peak_bytes_in_use - baseline, full_logits / 4);
}

TEST(CrossEntropy, RejectsLabelsOutsideTheVocabulary) {
    Tape tape;
    const int64_t T = 4, C = 3, V = 5;
    for (int32_t bad : {5, -1, 1000}) {
        Tensor labels = from_vector<int32_t>({0, -100, bad, 4}, {T});
        try {
            cross_entropy(tape, zeros({T, C}), zeros({V, C}), labels);
            FAIL() << "label " << bad << " accepted";
        } catch (const Error& error) {
            const std::string message = error.what();
            EXPECT_NE(message.find("cross_entropy"), std::string::npos) << message;
            EXPECT_NE(message.find("labels[2]"), std::string::npos) << message;
            EXPECT_NE(message.find(std::to_string(bad)), std::string::npos) << message;
        }
    }
    EXPECT_EQ(tape.size(), 0u);
}

// A range known on the host (a TokenBatch's) is checked without reading the labels: a device
// tensor is never read back when one is given. Here the labels are fine and the range is not,
// so only the range can fail the call; a range inside the vocabulary lets it through.
TEST(CrossEntropy, ChecksAKnownLabelRange) {
    Tape tape;
    const int64_t T = 4, C = 3, V = 5;
    const Tensor labels = from_vector<int32_t>({0, -100, 2, 4}, {T});
    for (const IdRange bad : {IdRange{0, 5}, IdRange{-1, 4}}) {
        try {
            cross_entropy(tape, zeros({T, C}), zeros({V, C}), labels, 2, {}, bad);
            FAIL() << "range [" << bad.min << ", " << bad.max << "] accepted";
        } catch (const Error& error) {
            const std::string message = error.what();
            EXPECT_NE(message.find(fmt::format("cross_entropy: labels span [{}, {}]", bad.min, bad.max)),
                      std::string::npos)
                << message;
        }
    }
    EXPECT_NO_THROW(cross_entropy(tape, zeros({T, C}), zeros({V, C}), labels, 2, {}, IdRange{0, 4}));
    EXPECT_EQ(range_of_ids(labels, -100).min, 0);
    EXPECT_EQ(range_of_ids(labels, -100).max, 4);
    EXPECT_TRUE(range_of_ids(from_vector<int32_t>({-100, -100}, {2}), -100).empty());
}

TEST(CrossEntropy, RejectsBadShapes) {
    Tape tape;
    auto expect_error_naming_op = [](auto&& call) {
        try {
            call();
            FAIL() << "no error";
        } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find("cross_entropy"), std::string::npos) << error.what();
        }
    };
    Tensor labels = from_vector<int32_t>({0, 1, 2, 3}, {4});
    // classifier width differs from hidden's
    expect_error_naming_op([&] { cross_entropy(tape, zeros({4, 3}), zeros({5, 2}), labels); });
    // one label short
    expect_error_naming_op([&] { cross_entropy(tape, zeros({5, 3}), zeros({5, 3}), labels); });
    // labels that are not i32
    expect_error_naming_op([&] { cross_entropy(tape, zeros({4, 3}), zeros({5, 3}), zeros({4})); });
    // f32 hidden against an f64 classifier
    expect_error_naming_op([&] { cross_entropy(tape, zeros({4, 3}), zeros({5, 3}, DType::f64), labels); });
    // no chunk at all
    expect_error_naming_op([&] { cross_entropy(tape, zeros({4, 3}), zeros({5, 3}), labels, 0); });
}

}  // namespace ringlm
