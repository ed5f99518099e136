// Helpers shared by the tests: random inputs, relative error, and the gradient checker.
//
// Relative error is normwise: max_i |a_i - e_i| / max_i |e_i|. Every element is compared;
// the scale is the tensor's largest magnitude, so elements that cancel to near zero do not
// demand more relative accuracy than the arithmetic can give.
#pragma once

#include "autograd/tape.h"
#include "backend/backend.h"
#include "model/llama.h"
#include "model/model_config.h"

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace ringlm::testing {

// A seed that differs per test and per run unless RINGLM_TEST_SEED fixes it; printed on failure.
uint64_t fresh_seed();

// Uniform in [low, high), f32 or f64.
Tensor random_uniform(Shape shape, DType dtype, std::mt19937_64& rng, double low = -1.0, double high = 1.0);
// Integers in [low, high), i32.
Tensor random_ints(Shape shape, std::mt19937_64& rng, int32_t low, int32_t high);

// Convert a floating tensor to another floating dtype (integer tensors are returned as is).
Tensor to_dtype(const Tensor& x, DType dtype);

// Normwise over every element: max|actual - expected| / max|expected|. Infinite (fails any
// tolerance) when either side has a NaN, or an infinity the other side does not have exactly.
double max_relative_error(const Tensor& actual, const Tensor& expected);
double max_abs(const Tensor& x);
bool all_finite(const Tensor& x);

// An op under test: builds its output from inputs on the given tape.
using OpUnderTest = std::function<Tensor(Tape& tape, const std::vector<Tensor>& inputs)>;

struct GradientCheck {
    double max_error = 0;   // worst over the checked inputs
    std::string worst;      // "input 1" for the message
};

// Analytic gradients (tape backward, with a random upstream gradient R) against central
// finite differences of sum(op(inputs) * R), all in f64. `differentiable` lists the inputs
// whose gradient is checked; every element of each is perturbed.
GradientCheck check_gradients_f64(const OpUnderTest& op, std::vector<Tensor> inputs,
                                  const std::vector<int>& differentiable, std::mt19937_64& rng,
                                  double step = 1e-5);

// The op run in f32 against the op run in f64 on the same values: output and the gradients
// of `differentiable` inputs. Returns the worst relative error.
GradientCheck check_f32_against_f64(const OpUnderTest& op, const std::vector<Tensor>& inputs_f64,
                                    const std::vector<int>& differentiable, std::mt19937_64& rng);

// The small fresh model the model-level tests train and sample: dim 32, 2 layers, 4 query
// heads over 2 KV heads (GQA), ffn 48 unless given.
ModelConfig tiny_model_config(int64_t vocab_size, int64_t max_position, bool tied_embeddings = false,
                              int64_t ffn_dim = 48);

// One sequence of `T` random tokens in [0, vocab) at positions 0..T-1, no loss.
TokenBatch random_token_sequence(std::mt19937_64& rng, int64_t T, int32_t vocab);
// A model's logits [T, vocab_size] on a batch, without gradients.
Tensor model_logits(const Llama& model, const TokenBatch& batch);

}  // namespace ringlm::testing
