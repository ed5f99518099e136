// The model on the GPU: the same training run on the CPU and CUDA backends (in f32, and with
// bf16 matmuls), stories260K greedy generation on both, and the training step's speed (MFU, f32
// and bf16). Everything here is core-only
// (model, batches, AdamW, LR schedule, tokenizer): no MPI, HDF5 or YAML on the GPU machine.
#include "cuda_backend.h"
#include "cuda_check.h"
#include "parallel/chunk_layout.h"
#include "data/tokenizer.h"
#include "gpu_check.h"
#include "model/generate.h"
#include "model/llama2c_checkpoint.h"
#include "model/model_flops.h"
#include "ops/ops.h"
#include "tensor/allocator.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace ringlm::gpu_check {

namespace {

// --- training: the same run on both backends -------------------------------------------------

constexpr int64_t training_steps = 20;
constexpr double training_tolerance = 1e-4;  // relative, per step's loss
// bf16 matmuls: both backends round the same values, but a different f32 summation order moves
// a value across a bf16 rounding boundary now and then, and that difference grows over steps
constexpr double bf16_training_tolerance = 1e-2;
constexpr uint64_t data_seed = 20261128;     // fixed: the same data and weights on every machine

// f32 everywhere; bf16 matmuls (config bf16: true); bf16 activations on top (bf16_activations)
enum class Precision { f32, bf16_matmuls, bf16_activations };

const char* precision_name(Precision precision) {
    return precision == Precision::f32 ? "f32" : precision == Precision::bf16_matmuls ? "bf16" : "bf16 activations";
}

// Two documents per row (a packed row: attention must respect the boundary), a few padding
// tokens at the end; fresh rows for every step. Tokens follow a learnable rule,
// next = (5 * token + 1) mod V three times in four, else a random token, so the loss falls.
std::vector<TokenBatch> random_batches(int64_t steps, int64_t rows, int64_t sequence_len, int64_t vocab_size) {
    std::mt19937_64 rng(data_seed);
    const int32_t V = static_cast<int32_t>(vocab_size);
    std::uniform_int_distribution<int32_t> random_token(0, V - 1), quarter(0, 3);
    std::vector<std::vector<int32_t>> documents;
    std::vector<TokenBatch> batches;
    const int64_t padding = 5;
    for (int64_t step = 0; step < steps; step++) {
        std::vector<PackedRow> packed;
        for (int64_t row = 0; row < rows; row++) {
            const int64_t first_length = sequence_len / 3 + (step * 7 + row * 37) % (sequence_len / 3);
            PackedRow packed_row;
            for (int64_t length : {first_length, sequence_len - padding - first_length}) {
                std::vector<int32_t> tokens(static_cast<size_t>(length));
                tokens[0] = random_token(rng);
                for (size_t t = 1; t < tokens.size(); t++)
                    tokens[t] = quarter(rng) == 0 ? random_token(rng) : (5 * tokens[t - 1] + 1) % V;
                packed_row.pieces.push_back({static_cast<int64_t>(documents.size()), 0, length});
                packed_row.used += length;
                documents.push_back(std::move(tokens));
            }
            packed.push_back(packed_row);
        }
        const DocumentReader reader = [&documents](int64_t document) {
            return DocumentTokens{documents[static_cast<size_t>(document)], {}};
        };
        batches.push_back(make_token_batch(packed, sequence_len, reader, SequenceLayout{}));
    }
    return batches;
}

// One optimizer step on one micro batch (host tensors), as the trainer does it on one rank:
// batch to the model's device, forward, backward, AdamW queued, then one read of the loss and
// the gradient's sum of squares (the step's one wait). Returns the loss before the update,
// per loss token.
double train_step(Llama& model, AdamW& optimizer, const TokenBatch& host_batch, double learning_rate,
                  const ForwardOptions& options = {}) {
    const double loss_tokens = static_cast<double>(count_loss_tokens(host_batch));
    const Tensor loss_sum = forward_backward(model, host_batch, options);
    Tensor values = zeros({2}, DType::f64, model.parameters.device());  // loss sum, gradient sum of squares
    Tensor loss_slot = values.rows(0, 1), sum_squares_slot = values.rows(1, 2);
    backend(loss_sum).sum_to(loss_slot, loss_sum);
    queue_adamw_step(optimizer, model, learning_rate, loss_tokens, sum_squares_slot);
    Tensor host = empty({2}, DType::f64);
    backend(values).copy(host, values);
    finish_adamw_step(optimizer, host.data<double>()[1], loss_tokens);
    return host.data<double>()[0] / loss_tokens;
}

// One optimizer step per batch: the loss before each update.
std::vector<double> train(const ModelConfig& config, Device device, const Tensor& initial_parameters,
                          const std::vector<TokenBatch>& batches, Precision precision) {
    Llama model = make_llama(config, device);
    backend(model.parameters).copy(model.parameters, initial_parameters);
    // the bf16 copy made from the master weights just copied
    if (precision != Precision::f32) enable_bf16_matmuls(model);
    ForwardOptions options;
    options.bf16_activations = precision == Precision::bf16_activations;
    AdamW optimizer = make_adamw(model, AdamWSettings{0.9, 0.95, 1e-8, 0.1, 1.0});
    std::vector<double> losses;
    for (size_t step = 0; step < batches.size(); step++) {
        const double lr = learning_rate_at(static_cast<int64_t>(step), static_cast<int64_t>(batches.size()), 2, 1e-3,
                                           LrScheduler::cosine);
        losses.push_back(train_step(model, optimizer, batches[step], lr, options));
    }
    return losses;
}

void check_training_run(Checker& checker, Precision precision) {
    const std::string name = std::string("train 20 steps ") + precision_name(precision) +
                             " dim 256 L4 H8/4 V512, 4x512 tokens: CPU vs CUDA losses";
    const double tolerance = precision != Precision::f32 ? bf16_training_tolerance : training_tolerance;
    checker.check(name, [&] {
        ModelConfig config;
        config.dim = 256;
        config.n_layers = 4;
        config.n_heads = 8;
        config.n_kv_heads = 4;
        config.ffn_dim = 768;
        config.vocab_size = 512;
        config.max_position = 512;
        config.tied_embeddings = false;
        const std::vector<TokenBatch> batches = random_batches(training_steps, 4, 512, config.vocab_size);
        Llama initial = make_llama(config, Device::cpu);
        init_llama_weights(initial, data_seed);

        using Clock = std::chrono::steady_clock;
        const auto cpu_start = Clock::now();
        const std::vector<double> cpu_losses = train(config, Device::cpu, initial.parameters, batches, precision);
        const auto gpu_start = Clock::now();
        const std::vector<double> gpu_losses = train(config, Device::cuda, initial.parameters, batches, precision);
        const auto end = Clock::now();

        double worst = -1;
        int64_t worst_step = 0;
        for (size_t step = 0; step < cpu_losses.size(); step++) {
            const double error = std::fabs(gpu_losses[step] - cpu_losses[step]) / std::fabs(cpu_losses[step]);
            if (!(error <= worst)) {  // a NaN becomes the worst
                worst = error;
                worst_step = static_cast<int64_t>(step) + 1;
            }
        }
        auto print_curve = [](const char* label, const std::vector<double>& losses, double seconds) {
            std::printf("      %s losses (%.1f s):", label, seconds);
            for (double loss : losses) std::printf(" %.6f", loss);
            std::printf("\n");
        };
        print_curve("CPU ", cpu_losses, std::chrono::duration<double>(gpu_start - cpu_start).count());
        print_curve("CUDA", gpu_losses, std::chrono::duration<double>(end - gpu_start).count());
        char detail[160];
        std::snprintf(detail, sizeof detail, "worst step %lld: error %.2e (tolerance %.0e); loss %.4f -> %.4f",
                      static_cast<long long>(worst_step), worst, tolerance, cpu_losses.front(),
                      cpu_losses.back());
        // the run must also learn, or equal curves would prove little
        const bool learned = cpu_losses.back() < cpu_losses.front() - 0.05;
        checker.add(name, worst <= tolerance && learned, learned ? detail : std::string(detail) + ", NOT LEARNING");
    });
}

// --- stories260K: greedy generation on both backends -----------------------------------------

void check_generation(Checker& checker) {
    const std::string name = "stories260K greedy 40 tokens: CUDA tokens == CPU tokens";
    checker.check(name, [&] {
        const std::string directory = std::string(RINGLM_SOURCE_DIR) + "/data/stories260K/";
        const Llama2cCheckpoint checkpoint = load_llama2c_checkpoint(directory + "stories260K.bin");
        const auto tokenizer = load_tokenizer(directory + "tok512.bin", checkpoint.config.vocab_size);
        const std::vector<int32_t> prompt = tokenizer->encode("Once upon a time", true, false);
        SamplingOptions options;
        options.max_new_tokens = 40;
        options.stop_at_bos_or_eos = false;  // always 40 tokens to compare
        std::vector<int32_t> generated[2];
        for (Device device : {Device::cpu, Device::cuda}) {
            Llama model = make_llama(checkpoint.config, device, ModelUse::inference);  // as `ringlm generate`
            load_parameters(model, checkpoint.parameters, directory + "stories260K.bin");
            generated[static_cast<int>(device)] = generate(model, prompt, options);
        }
        const std::vector<int32_t>& cpu_tokens = generated[0];
        const std::vector<int32_t>& gpu_tokens = generated[1];
        std::vector<int32_t> story = prompt;
        story.insert(story.end(), gpu_tokens.begin(), gpu_tokens.end());
        std::printf("      CUDA: \"%s\"\n", tokenizer->decode(story).c_str());
        size_t first_difference = 0;
        while (first_difference < cpu_tokens.size() && first_difference < gpu_tokens.size() &&
               cpu_tokens[first_difference] == gpu_tokens[first_difference])
            first_difference++;
        const bool same = cpu_tokens == gpu_tokens && cpu_tokens.size() == 40;
        char detail[96];
        if (same) {
            std::snprintf(detail, sizeof detail, "all %zu tokens equal", cpu_tokens.size());
        } else {
            std::snprintf(detail, sizeof detail, "%zu CPU / %zu CUDA tokens, first difference at token %zu",
                          cpu_tokens.size(), gpu_tokens.size(), first_difference);
        }
        checker.add(name, same, detail);
    });
}

}  // namespace

void check_training(Checker& checker) {
    check_training_run(checker, Precision::f32);
    check_training_run(checker, Precision::bf16_matmuls);
    check_training_run(checker, Precision::bf16_activations);
    check_generation(checker);
}

// --- the training step's speed ----------------------------------------------------------------

namespace {

// How a timed step runs: the attention kernel (tiled f32, or the bf16 tensor cores) and
// checkpointing (none, in place, or offloaded to host memory: compare the peak memory).
enum class Checkpointing { none, in_place, offload };

// A timed model and batch: the first rows' 8-layer model (4 x 2048 tokens), and the shape the
// issue names, Llama-3.2-1B (dim 2048, 16 layers, 32/8 heads, ffn 8192, vocab 128256, tied
// embeddings) at 1 x 8192 tokens.
struct StepShape {
    std::string label;
    ModelConfig config;
    int64_t sequences, sequence_len;
};

StepShape small_shape() {
    ModelConfig config;
    config.dim = 2048;
    config.n_layers = 8;
    config.n_heads = 16;
    config.n_kv_heads = 8;
    config.ffn_dim = 5632;
    config.vocab_size = 32000;
    config.max_position = 2048;
    config.tied_embeddings = false;
    return {"dim 2048 L8 H16/8 ffn 5632 V32000, 4x2048 tokens", config, 4, 2048};
}

StepShape llama32_1b_shape(int64_t sequence_len) {
    return {"Llama-3.2-1B shape, 1x" + std::to_string(sequence_len) + " tokens", llama32_1b_config(sequence_len), 1,
            sequence_len};
}

struct StepRecipe {
    Precision precision = Precision::bf16_matmuls;
    AttentionKernel attention = AttentionKernel::tensor;
    Checkpointing checkpointing = Checkpointing::none;
    bool tiled_mlp = false;
};

std::string recipe_text(const StepRecipe& recipe) {
    return std::string(precision_name(recipe.precision)) +
           (recipe.attention == AttentionKernel::tensor ? ", tensor-core attention" : "") +
           (recipe.checkpointing == Checkpointing::in_place  ? ", checkpointing"
            : recipe.checkpointing == Checkpointing::offload ? ", checkpoints offloaded"
                                                             : "") +
           (recipe.tiled_mlp ? ", tiled MLP" : "");
}

ForwardOptions forward_options(const StepRecipe& recipe) {
    ForwardOptions options;
    options.gradient_checkpointing = recipe.checkpointing != Checkpointing::none;
    options.offload_checkpoints = recipe.checkpointing == Checkpointing::offload;
    options.bf16_activations = recipe.precision == Precision::bf16_activations;
    options.tiled_mlp = recipe.tiled_mlp;
    return options;
}

Llama make_speed_model(const StepShape& shape, const StepRecipe& recipe) {
    Llama model = make_llama(shape.config, Device::cuda);
    fill_parameters_quickly(model);
    if (recipe.precision != Precision::f32) enable_bf16_matmuls(model);
    return model;
}

// One optimizer step, the update included (the wait makes the time the step's own).
double timed_step(Llama& model, AdamW& optimizer, const TokenBatch& host_batch, const ForwardOptions& options) {
    const double loss = train_step(model, optimizer, host_batch, 1e-4, options);
    CUDA_CHECK(cudaStreamSynchronize(cuda_compute_stream()));
    return loss;
}

// Returns the last step's loss (NaN when the row failed).
double bench_training_step(Checker& checker, const BenchPeaks& peaks, const StepShape& shape, const StepRecipe& recipe) {
    const std::string name = "train step MFU, " + recipe_text(recipe) + ", " + shape.label;
    double last_loss = NAN;
    const ForwardOptions options = forward_options(recipe);
    cuda().set_attention_kernel(recipe.attention);
    checker.check(name, [&] {
        const int64_t tokens = shape.sequences * shape.sequence_len;
        Llama model = make_speed_model(shape, recipe);
        AdamW optimizer = make_adamw(model, AdamWSettings{});
        const TokenBatch host_batch =
            random_batches(1, shape.sequences, shape.sequence_len, shape.config.vocab_size)[0];
        using Clock = std::chrono::steady_clock;
        const int warmup_steps = 1, timed_steps = 3;
        allocator_for(Device::cuda).reset_peak();  // the peak of this model's steps (parameters included)
        for (int i = 0; i < warmup_steps; i++) timed_step(model, optimizer, host_batch, options);
        const auto start = Clock::now();
        const long long waits_before = kernels::host_waits;
        double loss = 0;
        for (int i = 0; i < timed_steps; i++) loss = timed_step(model, optimizer, host_batch, options);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / timed_steps;
        // the backend's own waits for the GPU (kernels::wait_for_stream), not the one above
        const double waits_per_step = static_cast<double>(kernels::host_waits - waits_before) / timed_steps;

        // Model FLOPs as `ringlm bench` counts them (model_flops.h: PaLM's MFU convention)
        const double achieved =
            model_flops_per_step(shape.config, shape.sequence_len, shape.sequences) / seconds / 1e12;  // TFLOP/s
        char result[32], detail[240];
        std::snprintf(result, sizeof result, "%.0f tokens/s", static_cast<double>(tokens) / seconds);
        std::snprintf(detail, sizeof detail,
                      "%.3f s/step, %.1f TFLOP/s: MFU %.1f%% of bf16 GEMM peak %.0f, %.1f%% of f32 GEMM %.1f "
                      "(loss %.3f, peak memory %.1f GiB, %.0f host waits per step)",
                      seconds, achieved, 100.0 * achieved / peaks.bf16_tflops, peaks.bf16_tflops,
                      100.0 * achieved / peaks.f32_tflops, peaks.f32_tflops, loss,
                      static_cast<double>(allocator_for(Device::cuda).stats().peak_bytes_in_use) / 1073741824.0,
                      waits_per_step);
        checker.note(name, result, detail, !std::isfinite(loss));
        last_loss = loss;
    });
    cuda().set_attention_kernel(AttentionKernel::tiled);
    return last_loss;
}

// The longest sequence one optimizer step of the Llama-3.2-1B shape trains with, doubling from
// 8K tokens until the device's memory runs out (the allocator's error) or a step takes longer
// than `step_limit_s` (then the row says "at least"). The model and AdamW state stay; only
// the batch grows.
void longest_sequence(Checker& checker, const StepRecipe& recipe, double step_limit_s) {
    const std::string name = "longest sequence, Llama-3.2-1B shape, " + recipe_text(recipe);
    cuda().set_attention_kernel(recipe.attention);
    checker.check(name, [&] {
        const int64_t limit = int64_t(1) << 20;
        Llama model = make_speed_model(llama32_1b_shape(limit), recipe);
        AdamW optimizer = make_adamw(model, AdamWSettings{});
        const ForwardOptions options = forward_options(recipe);
        int64_t longest = 0;
        double longest_seconds = 0, longest_peak_gib = 0;
        std::string stopped = "reached " + std::to_string(limit) + " tokens";
        for (int64_t T = 8192; T <= limit; T *= 2) {
            const TokenBatch batch = random_batches(1, 1, T, model.config.vocab_size)[0];
            allocator_for(Device::cuda).reset_peak();
            const auto start = std::chrono::steady_clock::now();
            try {
                timed_step(model, optimizer, batch, options);
            } catch (const Error& error) {
                const std::string message = error.what();
                // the device allocator's own error, not the pinned host memory's
                if (message.find("cuda allocator: cudaMalloc") == std::string::npos) throw;
                stopped = std::to_string(T) + " tokens ran out of memory";
                break;
            }
            longest = T;
            longest_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            longest_peak_gib =
                static_cast<double>(allocator_for(Device::cuda).stats().peak_bytes_in_use) / 1073741824.0;
            if (longest_seconds > step_limit_s) {
                stopped = "stopped doubling: the step took over " + std::to_string(int(step_limit_s)) + " s";
                break;
            }
        }
        char result[48], detail[200];
        std::snprintf(result, sizeof result, "%s%lld tokens", stopped.find("stopped") == 0 ? "at least " : "",
                      static_cast<long long>(longest));
        std::snprintf(detail, sizeof detail, "%.1f s/step, peak %.1f GiB there; %s", longest_seconds,
                      longest_peak_gib, stopped.c_str());
        checker.note(name, result, detail, longest == 0);
    });
    cuda().set_attention_kernel(AttentionKernel::tiled);
}

}  // namespace

void bench_training_step(Checker& checker, const BenchPeaks& peaks) {
    const StepShape small = small_shape();
    bench_training_step(checker, peaks, small, {Precision::f32, AttentionKernel::tiled});
    bench_training_step(checker, peaks, small, {Precision::bf16_matmuls, AttentionKernel::tiled});
    bench_training_step(checker, peaks, small, {Precision::bf16_matmuls, AttentionKernel::tensor});
    bench_training_step(checker, peaks, small, {Precision::bf16_activations, AttentionKernel::tensor});
    // the same steps from the same start: offloading moves the saved inputs, not the arithmetic
    const double in_place = bench_training_step(
        checker, peaks, small, {Precision::bf16_matmuls, AttentionKernel::tensor, Checkpointing::in_place});
    const double offload = bench_training_step(
        checker, peaks, small, {Precision::bf16_matmuls, AttentionKernel::tensor, Checkpointing::offload});
    checker.check("train steps, checkpoints offloaded = in place (last loss)",
                  [&] { checker.compare_value("train steps, checkpoints offloaded = in place (last loss)", offload,
                                              in_place, 1e-6); });
    // the measurement: Llama-3.2-1B shape at 8K tokens, bf16, against the bf16 peak
    const StepShape llama_1b = llama32_1b_shape(8192);
    bench_training_step(checker, peaks, llama_1b, {Precision::bf16_matmuls, AttentionKernel::tensor});
    bench_training_step(checker, peaks, llama_1b, {Precision::bf16_activations, AttentionKernel::tensor});
    // and how long a sequence trains, without and with the memory features
    longest_sequence(checker, {Precision::bf16_matmuls, AttentionKernel::tensor}, 12.0);
    longest_sequence(checker,
                     {Precision::bf16_activations, AttentionKernel::tensor, Checkpointing::offload, true}, 12.0);
}

}  // namespace ringlm::gpu_check
