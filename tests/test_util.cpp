#include "test_util.h"

#include "ops/ops.h"

#include <cmath>
#include <cstdlib>
#include <numeric>

namespace ringlm::testing {

uint64_t fresh_seed() {
    if (const char* fixed = std::getenv("RINGLM_TEST_SEED")) return std::strtoull(fixed, nullptr, 10);
    return std::random_device{}();
}

Tensor random_uniform(Shape shape, DType dtype, std::mt19937_64& rng, double low, double high) {
    Tensor x = empty(shape, dtype);
    std::uniform_real_distribution<double> uniform(low, high);
    if (dtype == DType::f32) {
        for (int64_t i = 0; i < x.numel(); i++) x.data<float>()[i] = static_cast<float>(uniform(rng));
    } else if (dtype == DType::f64) {
        for (int64_t i = 0; i < x.numel(); i++) x.data<double>()[i] = uniform(rng);
    } else {
        fail("random_uniform: {} is not f32 or f64", dtype_name(dtype));
    }
    return x;
}

Tensor random_ints(Shape shape, std::mt19937_64& rng, int32_t low, int32_t high) {
    Tensor x = empty(shape, DType::i32);
    std::uniform_int_distribution<int32_t> uniform(low, high - 1);
    for (int64_t i = 0; i < x.numel(); i++) x.data<int32_t>()[i] = uniform(rng);
    return x;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
    if (!is_floating(x.dtype()) || x.dtype() == dtype) return x;
    Tensor y = empty(x.shape(), dtype, x.device());
    backend(x).copy(y, x);
    return y;
}

double max_abs(const Tensor& x) {
    Tensor x64 = to_dtype(x, DType::f64);
    double m = 0;
    for (int64_t i = 0; i < x64.numel(); i++) m = std::max(m, std::fabs(x64.data<double>()[i]));
    return m;
}

bool all_finite(const Tensor& x) {
    Tensor x64 = to_dtype(x, DType::f64);
    for (int64_t i = 0; i < x64.numel(); i++)
        if (!std::isfinite(x64.data<double>()[i])) return false;
    return true;
}

double max_relative_error(const Tensor& actual, const Tensor& expected) {
    if (actual.numel() != expected.numel())
        fail("max_relative_error: {} vs {}", actual.describe(), expected.describe());
    Tensor a = to_dtype(actual, DType::f64), e = to_dtype(expected, DType::f64);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < e.numel(); i++) {
        const double ai = a.data<double>()[i], ei = e.data<double>()[i];
        if (std::isnan(ai) || std::isnan(ei)) return INFINITY;  // NaN never passes, not even NaN == NaN
        if (std::isinf(ei) || std::isinf(ai)) {
            if (ai != ei) return INFINITY;  // -inf LSE must be -inf exactly
            continue;
        }
        worst = std::max(worst, std::fabs(ai - ei));
        scale = std::max(scale, std::fabs(ei));
    }
    if (scale == 0) return worst == 0 ? 0 : INFINITY;
    return worst / scale;
}

namespace {

// sum(y * R) in f64, for the finite differences.
double weighted_sum(const Tensor& y, const Tensor& weights) { return backend(y).dot(to_dtype(y, DType::f64), weights); }

}  // namespace

GradientCheck check_gradients_f64(const OpUnderTest& op, std::vector<Tensor> inputs,
                                  const std::vector<int>& differentiable, std::mt19937_64& rng, double step) {
    Tape tape;
    Tensor y = op(tape, inputs);
    Tensor upstream = random_uniform(y.shape(), DType::f64, rng);
    Grads grads;
    for (int i : differentiable) grads.of(inputs[i]);  // keep them past backward
    tape.backward(y, to_dtype(upstream, y.dtype()), grads);

    GradientCheck result;
    for (int i : differentiable) {
        Tensor& x = inputs[i];
        if (x.dtype() != DType::f64) fail("check_gradients_f64: input {} is {}, not f64", i, x.describe());
        Tensor numeric = empty(x.shape(), DType::f64);
        double* xp = x.data<double>();
        for (int64_t e = 0; e < x.numel(); e++) {
            const double saved = xp[e];
            Tape no_grad(Tape::Mode::inference);
            xp[e] = saved + step;
            const double plus = weighted_sum(op(no_grad, inputs), upstream);
            xp[e] = saved - step;
            const double minus = weighted_sum(op(no_grad, inputs), upstream);
            xp[e] = saved;
            numeric.data<double>()[e] = (plus - minus) / (2 * step);
        }
        const Tensor* analytic = grads.find(x);
        const double error = analytic ? max_relative_error(*analytic, numeric) : INFINITY;
        if (error >= result.max_error) result = {error, "gradient of input " + std::to_string(i)};
    }
    return result;
}

GradientCheck check_f32_against_f64(const OpUnderTest& op, const std::vector<Tensor>& inputs_f64,
                                    const std::vector<int>& differentiable, std::mt19937_64& rng) {
    std::vector<Tensor> inputs_f32;
    for (const Tensor& x : inputs_f64) inputs_f32.push_back(to_dtype(x, DType::f32));
    // fresh copies of the f64 inputs, so the two runs share nothing but values
    std::vector<Tensor> inputs_64;
    for (const Tensor& x : inputs_f64) inputs_64.push_back(to_dtype(to_dtype(x, DType::f32), DType::f64));

    auto run = [&](std::vector<Tensor>& inputs, const Tensor& upstream, Tensor& y, std::vector<Tensor>& gradients) {
        Tape tape;
        y = op(tape, inputs);
        Grads grads;
        for (int i : differentiable) grads.of(inputs[i]);
        tape.backward(y, to_dtype(upstream, y.dtype()), grads);
        for (int i : differentiable) gradients.push_back(*grads.find(inputs[i]));
    };
    Tape probe(Tape::Mode::inference);
    Tensor upstream = random_uniform(op(probe, inputs_64).shape(), DType::f64, rng);
    Tensor y32, y64;
    std::vector<Tensor> g32, g64;
    run(inputs_f32, upstream, y32, g32);
    run(inputs_64, upstream, y64, g64);

    GradientCheck result{max_relative_error(y32, y64), "output"};
    for (size_t i = 0; i < g32.size(); i++) {
        const double error = max_relative_error(g32[i], g64[i]);
        if (error > result.max_error) result = {error, "gradient of input " + std::to_string(differentiable[i])};
    }
    return result;
}

ModelConfig tiny_model_config(int64_t vocab_size, int64_t max_position, bool tied_embeddings, int64_t ffn_dim) {
    ModelConfig c;
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.ffn_dim = ffn_dim;
    c.vocab_size = vocab_size;
    c.max_position = max_position;
    c.tied_embeddings = tied_embeddings;
    return c;
}

TokenBatch random_token_sequence(std::mt19937_64& rng, int64_t T, int32_t vocab) {
    std::vector<int32_t> ids(T), positions(T), segments(T, 0), labels(T, -100);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
    std::iota(positions.begin(), positions.end(), 0);
    return TokenBatch{from_vector(ids, {T}), from_vector(positions, {T}), from_vector(positions, {T}),
                      from_vector(segments, {T}), from_vector(labels, {T}), {}};
}

Tensor model_logits(const Llama& model, const TokenBatch& batch) {
    Tape no_grad(Tape::Mode::inference);
    return linear(no_grad, llama_hidden(no_grad, model, batch), model.output);
}

}  // namespace ringlm::testing
