// Sequence parallelism changes nothing but where the work happens: for every ring attention
// variant, packing on and off, every (S, D) the world allows and gradient accumulation 1 and
// 2 (with activation checkpointing in the accumulation runs, so the replay path is covered,
// and, unpacked, the tiled MLP: 3 tiles per rank, against the whole MLP on the single rank),
// one training step's loss equals the single-rank run on the same global batch within 1e-6
// relative, and every parameter gradient within 1e-5.
// With bf16 matmuls (`bf16: true`) the same holds: the bf16 rounding is per element, so only
// the f32 summation order differs (ring merges), as in f32. Measured (S=2, 4; D=1, 2): loss
// within 5e-8, most gradients within 1e-5, but a sum that lands on the other side of a bf16
// rounding boundary moves that element by 2^-9 and what depends on it: up to 1.6e-3 seen on
// a small gradient (wk of layer 0). So the loss keeps 1e-5, the gradients bf16's 1e-2.
// With bf16 activations (`bf16_activations: true`) on top, every tensor between the matmuls is
// rounded to bf16, and a ring's f32 partials are merged in another order than the single
// rank's one block before out is rounded: many more elements land across a rounding boundary,
// each moving by 2^-8 and moving what reads it. Measured over 60 runs (S=2, 4; D=1, 2; ring,
// Ulysses, varlen_llama3; accumulation 1 and 2): loss within 3.5e-6, gradients within 1.1e-2
// normwise (this tiny model's sums are short, so one flip weighs much; bf16 activations
// against bf16 matmuls alone differ by 3e-3 on one rank). The loss is held to 1e-4 (the
// issue's bf16 bar is 1e-3), the gradients to 3e-2. A ring step's block left out of the merge
// moved the gradients by 0.44 to 11 (tried once, S = 2).
//
// load_balance: document (every packed document cut head-tail over the S ranks) is checked the
// same way under the ring pass, under varlen_llama3 and under Ulysses; the other cases pin
// load_balance: none, so each variant runs its own layout.
// Ulysses and USP (context_parallel.backend) the same, with 8 heads and 2 KV heads so Ulysses
// splits heads over S = 2, 4, 8 (replicating KV heads from S = 4) and USP runs 2 x 2, 2 x 4.
// The ring variants run at 2 and 4 ranks only (8 ranks on the CI's 2 cores take long).
//
// The single-rank reference runs on each rank alone: D = 1, accumulation = D x accumulation
// (the sampler deals the same rows), local attention, no communication.
#include "config/config.h"
#include "data/token_dataset.h"
#include "ops/ops.h"
#include "mpi/mpi_test_util.h"
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// Random documents of 8..150 tokens (some longer than a row: cut into pieces) and one of a
// single token, the same on every rank. Not shorter: a step whose rows all hold 1-2 token
// documents has queries that see only themselves, where d loss / d q and d k are exactly zero
// and both runs compute rounding noise that no relative tolerance can compare.
std::string write_corpus(uint64_t seed) {
    const std::string path = fmt::format("/tmp/ringlm_model_equivalence_{}.h5", seed);
    if (world_rank() == 0) {
        std::mt19937_64 rng(seed);
        std::vector<Document> documents;
        for (int d = 0; d < 40; d++) {
            Document document;
            const int length = d == 3 ? 1 : 8 + static_cast<int>(rng() % 143);
            for (int t = 0; t < length; t++) document.input_ids.push_back(static_cast<int32_t>(3 + rng() % 58));
            documents.push_back(document);
        }
        write_token_dataset(path, documents, 61, "test");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return path;
}

// Which context-parallel backend the parallel run uses (ulysses_degree for usp).
struct ContextParallel {
    ContextParallelBackend backend = ContextParallelBackend::ring;
    int64_t ulysses_degree = 0;
};

// The model families beside plain Llama: their extra parameters and RoPE tables go through
// the same ring (q/k norms and biases are per token, the RoPE table per position).
// llama32: Llama-3.2-shaped (tied embeddings, llama3 RoPE scaling, nothing else), so two families
// are held to the plain tolerances with no exception (Qwen2's key bias has one, below).
enum class Family { llama, qwen2_llama3_rope, qwen3_yarn, llama32 };

ModelConfig family_model(Family family) {
    ModelConfig m = tiny_model_config(61, 128, true);
    if (family == Family::qwen2_llama3_rope || family == Family::llama32) {
        m.qkv_bias = family == Family::qwen2_llama3_rope;
        m.rope_scaling = {.type = "llama3", .factor = 8.0, .original_max_position = 64};
    } else if (family == Family::qwen3_yarn) {
        m.qk_norm = true;
        m.head_size = 16;  // q_proj [64, 32]: head_dim != dim / n_heads
        m.rope_scaling = {.type = "yarn", .factor = 4.0, .original_max_position = 32};
    }
    return m;
}

enum class Precision { f32, bf16_matmuls, bf16_activations };

Config make_config(const std::string& corpus, uint64_t seed, RingAttnFunc variant, LoadBalance balance, bool packing,
                   int S, int64_t accumulation, Precision precision, ContextParallel cp, Family family) {
    const bool bf16 = precision != Precision::f32;
    Config c;
    c.source = "model_equivalence_test";
    c.model.has_model_config = true;
    c.model.model_config = family_model(family);
    if (cp.backend != ContextParallelBackend::ring) c.model.model_config.n_heads = 8;  // dim 32: head_dim 4
    c.data.datasets = {{corpus, {}}};
    c.data.sequence_len = 96;
    c.data.sample_packing = packing;
    c.training.micro_batch_size = 2;
    c.training.gradient_accumulation_steps = accumulation;
    c.training.gradient_checkpointing = accumulation == 2;
    // bf16 packed rows with accumulation: checkpoints offloaded to host memory
    // (gradient_checkpointing: offload); the other packed cases checkpoint in place
    c.training.offload_checkpoints = accumulation == 2 && packing && bf16;
    // unpacked rows with accumulation: the MLP in 3 tiles of each rank's rows as well (the
    // single-rank reference runs it whole)
    c.training.tiled_mlp = accumulation == 2 && !packing;
    c.training.tiled_mlp_num_shards = 3;
    c.training.bf16 = bf16;
    c.training.bf16_activations = precision == Precision::bf16_activations;
    c.training.max_steps = 1;
    c.training.seed = static_cast<int64_t>(seed % 100000);
    c.parallel.sequence_parallel_degree = S;
    c.parallel.ring_attn_func = variant;
    c.parallel.load_balance = balance;
    c.parallel.heads_k_stride = 1;  // varlen_llama3: one KV head per all-gather (the overlapped path)
    c.parallel.context_parallel_backend = cp.backend;
    c.parallel.ulysses_degree = cp.ulysses_degree;
    return c;
}

struct Reference {
    double loss = 0;
    Tensor gradients;
};

// The same global batch on one rank: every micro batch of every data-parallel group in turn.
Reference single_rank_reference(TrainingSetup& parallel, const Config& config) {
    Llama& model = parallel.model;  // same weights (same seed); its gradients are saved by the caller
    const int64_t D = parallel.topology.dp_size;
    SamplerSettings settings{static_cast<uint64_t>(config.training.seed), config.data.sequence_len,
                             config.data.sample_packing, config.training.micro_batch_size,
                             D * config.training.gradient_accumulation_steps, 1};
    Sampler sampler(settings, parallel.split.train, parallel.corpus->document_lengths());
    backend(model.gradients).fill(model.gradients, 0.0);
    double loss_sum = 0, tokens = 0;
    for (int64_t micro = 0; micro < settings.gradient_accumulation_steps; micro++) {
        TokenBatch batch = make_token_batch(sampler.micro_batch(0, micro, 0), config.data.sequence_len,
                                            parallel.corpus->reader(), SequenceLayout{});
        Tape tape;
        Grads grads;
        bind_gradients(model, grads);
        Tensor total = sum(tape, llama_token_losses(tape, model, batch));
        tape.backward(total, grads);
        loss_sum += total.data<float>()[0];
        tokens += static_cast<double>(count_loss_tokens(batch));
    }
    Reference reference{loss_sum / tokens, empty_like(model.gradients)};
    backend(model.gradients).copy(reference.gradients, model.gradients);
    return reference;
}

struct Tolerances {
    double loss = 1e-6, gradient = 1e-5;
};

// Biases start at 0 (init_llama_weights); random ones, the same on every rank, so the forward
// uses them.
void randomize_biases(Llama& model, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (const NamedParameter& p : model.named) {
        if (!p.name.ends_with(".bq") && !p.name.ends_with(".bk") && !p.name.ends_with(".bv")) continue;
        Tensor values = random_uniform(p.value.shape(), DType::f32, rng, -0.5, 0.5), destination = p.value;
        backend(destination).copy(destination, values);
    }
}

void check_equivalence(RingAttnFunc variant, bool packing, Precision precision = Precision::f32, Tolerances tolerances = {},
                       LoadBalance balance = LoadBalance::none, ContextParallel cp = {},
                       Family family = Family::llama) {
    const uint64_t seed = shared_seed();
    const std::string corpus = write_corpus(seed);
    const int W = world_size();
    for (int S = 2; S <= W; S *= 2) {
        if (W % S) continue;
        if (cp.backend == ContextParallelBackend::usp && S <= cp.ulysses_degree) continue;
        for (int64_t accumulation : {1, 2}) {
            const Config config =
                make_config(corpus, seed, variant, balance, packing, S, accumulation, precision, cp, family);
            TrainingSetup setup = make_training_setup(config, true);
            randomize_biases(setup.model, seed);
            EXPECT_EQ(setup.layout.layout, chunk_layout_for(variant, balance));
            EXPECT_EQ(setup.layout.layout == ChunkLayout::document, balance == LoadBalance::document);
            const StepResult step = accumulate_gradients(setup, 0);
            const double loss = step.loss_sum / step.loss_tokens;
            Tensor parallel_gradients = empty_like(setup.model.gradients);
            backend(parallel_gradients).copy(parallel_gradients, setup.model.gradients);
            const Reference reference = single_rank_reference(setup, config);

            const std::string where =
                fmt::format("{} ({}) family {} load_balance {} packing {} precision {} S={} D={} accumulation {} (seed {})",
                            name(variant), setup.context_parallel.reason, static_cast<int>(family), name(balance),
                            packing, static_cast<int>(precision), S, W / S, accumulation, seed);
            const double loss_error = std::fabs(loss - reference.loss) / reference.loss;
            EXPECT_LE(loss_error, tolerances.loss) << where << ": loss " << loss << " vs " << reference.loss;
            double worst_gradient = 0;
            int64_t offset = 0;
            for (const NamedParameter& p : setup.model.named) {
                const int64_t n = p.value.numel();
                const double error = max_relative_error(parallel_gradients.rows(offset, offset + n),
                                                        reference.gradients.rows(offset, offset + n));
                // With a key bias b, every score of query i holds q_i.R(j)b, nearly the same for
                // all keys j: softmax's backward cancels it (sum_j dS_ij = 0), so only RoPE's
                // rotation of b per position is left, a small sum of large terms whose rounding
                // differs with the ring's order. It reaches the key bias's gradient and, through
                // dq_i = sum_j dS_ij R(j)(k_j + b), the query's weight and bias. Measured over 50
                // runs of the biased family at S=2 and 4 (fresh seeds): bk <= 2.2e-5, bq <= 1.3e-5,
                // wq <= 1.2e-5 relative, every other gradient <= 4.8e-6; a missing or misplaced
                // block gives errors of 1e-2 and more.
                const bool through_key_bias =
                    config.model.model_config.qkv_bias &&
                    (p.name.ends_with(".bk") || p.name.ends_with(".bq") || p.name.ends_with(".wq"));
                const double tolerance = through_key_bias ? 1e-4 : tolerances.gradient;
                EXPECT_LE(error, tolerance) << where << ": gradient of " << p.name;
                worst_gradient = std::max(worst_gradient, error);
                offset += n;
            }
            if ((precision != Precision::f32 || cp.backend != ContextParallelBackend::ring || family != Family::llama) && world_rank() == 0)
                std::printf("%s: loss error %.2e, worst gradient error %.2e\n", where.c_str(), loss_error,
                            worst_gradient);
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) std::filesystem::remove(corpus);
}

// The ring variants' tests at 2 and 4 ranks only.
#define SKIP_AT_EIGHT_RANKS() \
    if (world_size() > 4) GTEST_SKIP() << "the ring variants run at 2 and 4 ranks"

}  // namespace

TEST(ModelEquivalence, Ulysses) {
    const ContextParallel ulysses{ContextParallelBackend::ulysses, 0};
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::f32, {}, LoadBalance::none, ulysses);
    check_equivalence(RingAttnFunc::batch_zigzag, false, Precision::f32, {}, LoadBalance::none, ulysses);
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::f32, {}, LoadBalance::document, ulysses);
}
TEST(ModelEquivalence, UspTwoByRing) {
    if (world_size() < 4) GTEST_SKIP() << "USP 2 x R needs R > 1";
    const ContextParallel usp{ContextParallelBackend::usp, 2};
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::f32, {}, LoadBalance::none, usp);
    check_equivalence(RingAttnFunc::batch_zigzag, false, Precision::f32, {}, LoadBalance::none, usp);
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::f32, {}, LoadBalance::document, usp);
}

TEST(ModelEquivalence, BatchRing) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_ring, true);
    check_equivalence(RingAttnFunc::batch_ring, false);
}
TEST(ModelEquivalence, BatchZigzag) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_zigzag, true);
    check_equivalence(RingAttnFunc::batch_zigzag, false);
}
TEST(ModelEquivalence, BatchStripe) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_stripe, true);
    check_equivalence(RingAttnFunc::batch_stripe, false);
}
TEST(ModelEquivalence, Bf16MatmulsBatchZigzag) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_zigzag, false, Precision::bf16_matmuls, Tolerances{1e-5, 1e-2});
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::bf16_matmuls, Tolerances{1e-5, 1e-2});
}
constexpr Tolerances bf16_activation_tolerances{1e-4, 3e-2};

TEST(ModelEquivalence, Bf16ActivationsBatchZigzag) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_zigzag, false, Precision::bf16_activations, bf16_activation_tolerances);
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::bf16_activations, bf16_activation_tolerances);
}
// bf16 q, k, v through Ulysses' all-to-all and varlen_llama3's all-gather
TEST(ModelEquivalence, Bf16ActivationsUlyssesAndVarlenLlama3) {
    const ContextParallel ulysses{ContextParallelBackend::ulysses, 0};
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::bf16_activations, bf16_activation_tolerances,
                      LoadBalance::none, ulysses);
    if (world_size() > 4) return;  // the ring variants run at 2 and 4 ranks
    check_equivalence(RingAttnFunc::varlen_llama3, true, Precision::bf16_activations, bf16_activation_tolerances,
                      LoadBalance::document);
}
TEST(ModelEquivalence, Qwen2BiasesLlama3RopeBatchZigzag) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_zigzag, true, Precision::f32, {}, LoadBalance::none, {}, Family::qwen2_llama3_rope);
}
TEST(ModelEquivalence, Llama32TiedLlama3RopeBatchRing) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_ring, true, Precision::f32, {}, LoadBalance::none, {}, Family::llama32);
}
TEST(ModelEquivalence, Qwen3NormsWideHeadsYarnVarlenLlama3) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::varlen_llama3, true, Precision::f32, {}, LoadBalance::document, {}, Family::qwen3_yarn);
}
TEST(ModelEquivalence, VarlenLlama3) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::varlen_llama3, true);
    check_equivalence(RingAttnFunc::varlen_llama3, false);
}
TEST(ModelEquivalence, DocumentLoadBalanceRingPass) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::batch_ring, true, Precision::f32, {}, LoadBalance::document);
    check_equivalence(RingAttnFunc::batch_ring, false, Precision::f32, {}, LoadBalance::document);
}
TEST(ModelEquivalence, DocumentLoadBalanceVarlenLlama3) {
    SKIP_AT_EIGHT_RANKS();
    check_equivalence(RingAttnFunc::varlen_llama3, true, Precision::f32, {}, LoadBalance::document);
    check_equivalence(RingAttnFunc::varlen_llama3, false, Precision::f32, {}, LoadBalance::document);
}

}  // namespace ringlm
