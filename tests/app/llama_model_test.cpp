// The model against the independent PyTorch reference (tests/reference/llama_reference.py,
// run in float64): same weights, same packed batch (several documents per row, padding,
// two rows), compare logits, the loss and every parameter gradient.
#include "parallel/chunk_layout.h"
#include "model/llama.h"
#include "ops/ops.h"
#include "reference_io.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// A packed micro batch of two rows of 24 tokens: row 0 holds documents of 9, 1 and 11
// tokens (+3 padding), row 1 a document cut at 24 (its target continues past the row).
TokenBatch packed_batch(std::mt19937_64& rng, int32_t vocab) {
    std::vector<std::vector<int32_t>> documents;
    for (int64_t length : {9, 1, 11, 30}) {
        std::vector<int32_t> ids(length);
        for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
        documents.push_back(ids);
    }
    DocumentReader reader = [&](int64_t d) { return DocumentTokens{documents[d], {}}; };
    std::vector<PackedRow> rows{{{{0, 0, 9}, {1, 0, 1}, {2, 0, 11}}, 21}, {{{3, 0, 24}}, 24}};
    return make_token_batch(rows, 24, reader, SequenceLayout{});
}

std::string config_json(const ModelConfig& c) {
    return fmt::format(R"({{"dim": {}, "n_layers": {}, "n_heads": {}, "n_kv_heads": {}, "ffn_dim": {},
        "vocab_size": {}, "rope_theta": {}, "norm_eps": {}, "tied_embeddings": {}}})",
                       c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.ffn_dim, c.vocab_size, c.rope_theta,
                       c.norm_eps, c.tied_embeddings ? "true" : "false");
}

void compare_with_reference(const ModelConfig& config, ForwardOptions options) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    Llama model = make_llama(config);
    init_llama_weights(model, seed);
    // Larger than init scale so attention is far from uniform and errors would show.
    backend(model.parameters).scale(model.parameters, 5.0);
    TokenBatch batch = packed_batch(rng, static_cast<int32_t>(config.vocab_size));

    Tape tape;
    Grads grads;
    bind_gradients(model, grads);
    options.loss_chunk_rows = 7;  // not dividing T: chunk boundaries inside rows
    Tensor losses = llama_token_losses(tape, model, batch, options);
    Tensor loss = sum(tape, losses);
    tape.backward(loss, grads);
    Tape no_grad(Tape::Mode::inference);
    Tensor logits = linear(no_grad, llama_hidden(no_grad, model, batch), model.output);

    const std::string folder = make_temp_folder("ringlm_llama_ref_");
    std::map<std::string, Tensor> inputs{{"input_ids", batch.input_ids}, {"position_ids", batch.position_ids},
                                         {"global_index", batch.global_index}, {"segment_ids", batch.segment_ids},
                                         {"labels", batch.labels}};
    for (const NamedParameter& p : model.named) inputs.emplace(p.name, p.value);
    write_reference_folder(folder + "/in", config_json(config), inputs);
    run_python_reference("llama_reference.py", folder + "/in " + folder + "/out --dtype float64");
    std::map<std::string, Tensor> expected = read_reference_folder(folder + "/out");

    // f32 through 2 layers with weights x5: measured median 1.9e-6, worst 1.05e-5 over ~60
    // seeds; a wrong formula gives 1e-3 or more.
    EXPECT_LE(max_relative_error(logits, expected.at("logits")), 3e-5) << "logits, seed " << seed;
    const double reference_loss = expected.at("loss").data<double>()[0];
    EXPECT_LE(std::fabs(loss.data<float>()[0] - reference_loss) / std::fabs(reference_loss), 1e-6)
        << "loss " << loss.data<float>()[0] << " vs " << reference_loss << ", seed " << seed;
    for (const NamedParameter& p : model.named)
        EXPECT_LE(max_relative_error(p.grad, expected.at("grad." + p.name)), 1e-4) << p.name << ", seed " << seed;
    std::filesystem::remove_all(folder);
}

ModelConfig small_config(bool tied) { return tiny_model_config(61, 64, tied); }

ForwardOptions checkpointed() {
    ForwardOptions options;
    options.gradient_checkpointing = true;
    return options;
}

// 3 MLP tiles over the batch's rows (a tile boundary inside a row), with and without checkpointing
ForwardOptions tiled(bool checkpointing) {
    ForwardOptions options;
    options.gradient_checkpointing = checkpointing;
    options.tiled_mlp = true;
    options.tiled_mlp_num_shards = 3;
    return options;
}

// Checkpointing with each layer's input in host memory (gradient_checkpointing: offload).
ForwardOptions offloaded() {
    ForwardOptions options = checkpointed();
    options.offload_checkpoints = true;
    return options;
}

// The loss and every parameter gradient of one forward and backward.
std::vector<float> loss_and_gradients(Llama& model, const TokenBatch& batch, const ForwardOptions& options) {
    Tape tape;
    Grads grads;
    bind_gradients(model, grads);
    backend(model.gradients).fill(model.gradients, 0.0);
    Tensor loss = sum(tape, llama_token_losses(tape, model, batch, options));
    tape.backward(loss, grads);
    std::vector<float> values{loss.data<float>()[0]};
    values.insert(values.end(), model.gradients.data<float>(), model.gradients.data<float>() + model.gradients.numel());
    return values;
}

}  // namespace

TEST(LlamaModel, MatchesPyTorchReferenceTied) { compare_with_reference(small_config(true), {}); }
TEST(LlamaModel, MatchesPyTorchReferenceUntied) { compare_with_reference(small_config(false), {}); }
TEST(LlamaModel, MatchesPyTorchReferenceWithCheckpointing) { compare_with_reference(small_config(true), checkpointed()); }
TEST(LlamaModel, MatchesPyTorchReferenceWithOffloadedCheckpoints) {
    compare_with_reference(small_config(false), offloaded());
}
// Offloading moves where a layer's input waits, not the arithmetic: the same bits as
// checkpointing in place (and as no checkpointing, whose forward is the same ops).
TEST(LlamaModel, OffloadedCheckpointsGiveTheSameBits) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const ModelConfig config = small_config(false);
    Llama model = make_llama(config);
    init_llama_weights(model, seed);
    const TokenBatch batch = packed_batch(rng, static_cast<int32_t>(config.vocab_size));
    const std::vector<float> in_place = loss_and_gradients(model, batch, checkpointed());
    const std::vector<float> offload = loss_and_gradients(model, batch, offloaded());
    const std::vector<float> plain = loss_and_gradients(model, batch, ForwardOptions{});
    ASSERT_EQ(offload.size(), in_place.size());
    for (size_t i = 0; i < offload.size(); i++) {
        ASSERT_EQ(offload[i], in_place[i]) << "element " << i << " (0: the loss), seed " << seed;
        ASSERT_EQ(offload[i], plain[i]) << "element " << i << " (0: the loss), seed " << seed;
    }
}
TEST(LlamaModel, MatchesPyTorchReferenceWithTiledMlp) { compare_with_reference(small_config(false), tiled(false)); }
TEST(LlamaModel, MatchesPyTorchReferenceWithTiledMlpAndCheckpointing) {
    compare_with_reference(small_config(true), tiled(true));
}

}  // namespace ringlm
