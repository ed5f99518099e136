// A model built for inference (make_llama with ModelUse::inference, what generate, export, eval
// and GRPO's reference use):
//  - holds its parameters alone: the allocator's bytes in use grow by the parameter bytes
//    (within the allocator's rounding), half of what a training model takes;
//  - generates exactly the tokens a training model with the same weights generates;
//  - refuses, with an error naming the call, everything that needs gradients
//    (bind_gradients, make_adamw, adamw_step) instead of dereferencing an
//    undefined gradient tensor.
#include "expect_error.h"
#include "model/generate.h"
#include "tensor/allocator.h"
#include "test_util.h"
#include "train/optimizer.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// Large enough (about 1 MB of f32 parameters) that the allocator's rounding of the buffer
// (64 KiB granules above 1 MiB, 256 B below) is small against it.
ModelConfig config() { return tiny_model_config(2048, 64, false, 96); }

// bytes_in_use grown by building a model for `use` (the model still alive).
size_t bytes_of_model(ModelUse use) {
    const size_t before = cpu_allocator().stats().bytes_in_use;
    const Llama model = make_llama(config(), Device::cpu, use);
    return cpu_allocator().stats().bytes_in_use - before;
}

// bytes_in_use grown by the model's RoPE table (f64 [head_dim / 2]) alone.
size_t bytes_of_rope_table() {
    const size_t before = cpu_allocator().stats().bytes_in_use;
    const RopeFrequencies table = default_rope_frequencies(10000.0, config().head_dim());
    return cpu_allocator().stats().bytes_in_use - before;
}

void copy_weights(const Llama& from, Llama& to) { backend(to.parameters).copy(to.parameters, from.parameters); }

}  // namespace

TEST(InferenceModel, HoldsNoGradientBuffer) {
    const Llama model = make_llama(config(), Device::cpu, ModelUse::inference);
    EXPECT_FALSE(model.has_gradients());
    for (const NamedParameter& p : model.named) EXPECT_FALSE(p.grad.defined()) << p.name;
    EXPECT_TRUE(make_llama(config()).has_gradients());  // training stays the default

    const size_t parameter_bytes = static_cast<size_t>(model.n_parameters()) * sizeof(float);
    const size_t inference = bytes_of_model(ModelUse::inference), training = bytes_of_model(ModelUse::training);
    // one buffer, rounded up to the allocator's granule
    EXPECT_GE(inference, parameter_bytes);
    EXPECT_LT(inference, parameter_bytes + 65536);
    // training adds the gradient buffer, as large as the parameters (both hold the RoPE table)
    const size_t table = bytes_of_rope_table();
    EXPECT_EQ(training - table, 2 * (inference - table));
}

TEST(InferenceModel, GeneratesTheTokensOfATrainingModel) {
    const uint64_t seed = fresh_seed();
    Llama training = make_llama(config());
    init_llama_weights(training, seed);
    // Larger than GPT-2's 0.02 so the logits are far from uniform and the greedy path is not
    // one repeated token.
    backend(training.parameters).scale(training.parameters, 20.0);
    Llama inference = make_llama(config(), Device::cpu, ModelUse::inference);
    copy_weights(training, inference);

    const std::vector<int32_t> prompt{1, 17, 300, 42, 1999};
    for (double temperature : {0.0, 0.8}) {
        SamplingOptions options;
        options.max_new_tokens = 24;
        options.temperature = temperature;
        options.top_p = 0.9;
        options.seed = seed;
        options.stop_at_bos_or_eos = false;
        const std::vector<int32_t> expected = generate(training, prompt, options);
        EXPECT_EQ(generate(inference, prompt, options), expected) << "temperature " << temperature << ", seed " << seed;
        EXPECT_EQ(expected.size(), 24u);
    }
}

TEST(InferenceModel, RefusesGradientsWithAnError) {
    Llama model = make_llama(config(), Device::cpu, ModelUse::inference);
    Grads grads;
    expect_error_naming("bind_gradients", [&] { bind_gradients(model, grads); });
    expect_error_naming("make_adamw", [&] { make_adamw(model, AdamWSettings{}); });
    // An optimizer made for a training model of the same shape, stepped on the inference one.
    AdamW optimizer = make_adamw(make_llama(config()), AdamWSettings{});
    expect_error_naming("adamw_step", [&] { adamw_step(optimizer, model, 1e-3, 1.0); });
    try {
        bind_gradients(model, grads);
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("built for inference"), std::string::npos) << error.what();
        EXPECT_NE(std::string(error.what()).find("ModelUse::training"), std::string::npos) << error.what();
    }
}

}  // namespace ringlm
