// A run's settings: YAML in, validated plain structs out. The one place for defaults and
// checks, so the layers below never re-validate a value or invent a default of their own.
//
// Keys follow axolotl where axolotl has the key (DESIGN.md "What users see"); defaults are
// axolotl's (or Hugging Face TrainingArguments' / TRL's, which axolotl passes through) where
// it has one, and are written next to each field. The YAML is flat at the top level like
// axolotl's; `model_config:`, `datasets:` entries and `trl:` are the only nested maps.
//
// A key written with no value (`warmup_steps:`) or `~` means "unset": the default applies.
// Unknown keys, wrong types and out-of-range values are refused with one line that starts
// with the file (and line), names the key by its dotted path (`trl.num_generations`) and
// says what would be accepted.
//
// Checks that need the world size or the loaded model (sequence_parallel_degree dividing the
// ranks, heads_k_stride dividing n_kv_heads of a base_model) belong to src/parallel; this
// file gives them the names and lists to use in their messages.
#pragma once

#include "data/dataset_format.h"
#include "model/model_config.h"
#include "parallel/parallel_settings.h"
#include "tensor/device.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

// --- enumerated settings: the YAML spelling is the enum's name, listed in order ------------

enum class LrScheduler : uint8_t { cosine, linear, constant };
inline constexpr std::array<std::string_view, 3> lr_scheduler_names{"cosine", "linear", "constant"};

enum class LogFormat : uint8_t { jsonl, mllog };
inline constexpr std::array<std::string_view, 2> log_format_names{"jsonl", "mllog"};

// `backend:` spells Device (tensor/device.h) in the same order: cpu, cuda.
inline constexpr std::array<std::string_view, 2> backend_names{"cpu", "cuda"};

enum class RlMethod : uint8_t { grpo };
inline constexpr std::array<std::string_view, 1> rl_method_names{"grpo"};

enum class GrpoLossType : uint8_t { grpo, bnpo, dr_grpo };
inline constexpr std::array<std::string_view, 3> grpo_loss_type_names{"grpo", "bnpo", "dr_grpo"};

// The built-in rewards of src/rl (issue 7). Add a name here when adding a reward there.
inline constexpr std::array<std::string_view, 3> reward_func_names{"exact_answer", "regex_format", "length"};

std::string_view name(LrScheduler value);
std::string_view name(LogFormat value);
std::string_view name(Device value);
std::string_view name(RlMethod value);
std::string_view name(GrpoLossType value);

// --- the sections -------------------------------------------------------------------------

struct ModelSection {
    // Exactly one of the two. base_model: a llama2.c checkpoint file (shape from its header), a
    // ringlm checkpoint (.h5), a Hugging Face folder as save_pretrained writes it (config.json +
    // model.safetensors or shards; model/hf_model.h says what loads), or a hub id org/name
    // found in the local Hugging Face cache (model/hf_hub.h; nothing is downloaded).
    // model_config: a freshly initialised model of this shape.
    std::string base_model;                // "" = not given
    bool has_model_config = false;
    // model_config keys: dim, n_layers, n_heads, vocab_size required; n_kv_heads defaults
    // to n_heads, ffn_dim to llama2.c's rule (see config.cpp), max_position to sequence_len,
    // rope_theta 10000, norm_eps 1e-5, tied_embeddings true (llama2.c's defaults).
    ModelConfig model_config;
    // A llama2.c tokenizer file, a Hugging Face tokenizer.json or model folder holding one, or
    // "bytes" (byte-level, vocabulary 256+). "" = not given: a Hugging Face base_model folder's
    // own tokenizer.json where there is one; training reads token ids from HDF5 and needs none;
    // generate/grpo need one. When there is one, training validates it at start-up and refuses
    // token files made with another one (train/input_checks.h).
    std::string tokenizer;
    bool operator==(const ModelSection&) const = default;
};

// A `datasets:` entry. Without `type:` the path is a token HDF5 file (ringlm prepare's output);
// with `type: completion | alpaca | chat_template` it is raw JSONL that train prepares itself
// into dataset_prepared_path (data/dataset_format.h). Per-entry keys, axolotl's:
//   field (completion: the text key, default text), field_messages (default messages),
//   field_system (default system), message_property_mappings {role: from, content: value},
//   chat_template (default: the top-level chat_template), roles_to_train (default [assistant]),
//   train_on_eos (turn | all | last | none, default turn); train_on_inputs is top-level.
struct DatasetEntry {
    std::string path;                      // required in each entry
    DatasetFormat format;                  // type tokens: a token HDF5 file
    bool operator==(const DatasetEntry&) const = default;
};

struct DataSection {
    std::vector<DatasetEntry> datasets;    // required by validate_for_training
    double val_set_size = 0.0;             // fraction of documents held out, in [0, 1) (axolotl: 0)
    std::vector<DatasetEntry> test_datasets;  // eval files instead of a held-out fraction
    int64_t sequence_len = 512;            // tokens per row (axolotl: 512)
    bool sample_packing = false;           // bin-pack documents into rows (axolotl: false)
    // Typed datasets: their default chat template (axolotl's top-level chat_template; unset =
    // tokenizer_default), whether prompts are trained too (axolotl: false), and where their token
    // files are cached (axolotl's key and default; keyed by content, data/prepared_dataset.h).
    ChatTemplateName chat_template = ChatTemplateName::tokenizer_default;
    bool train_on_inputs = false;
    std::string dataset_prepared_path = "last_run_prepared";
    bool operator==(const DataSection&) const = default;
};

struct TrainingSection {
    int64_t micro_batch_size = 1;          // rows per rank per micro step (axolotl: 1)
    int64_t gradient_accumulation_steps = 1;  // (axolotl: 1)
    int64_t max_steps = 0;                 // optimizer steps; 0 = run num_epochs. Wins when > 0.
    double num_epochs = 1.0;               // passes over the data, fractions allowed (axolotl: 1)
    double learning_rate = 5e-5;           // peak LR (HF TrainingArguments: 5e-5)
    LrScheduler lr_scheduler = LrScheduler::cosine;  // after warmup, to 0 at the end (axolotl: cosine)
    int64_t warmup_steps = 0;              // linear warmup from 0 (HF: 0)
    double weight_decay = 0.0;             // AdamW decoupled decay, not on norms (axolotl: 0)
    double max_grad_norm = 1.0;            // global clipping; 0 = off (HF: 1.0)
    double adam_beta1 = 0.9;               // (HF: 0.9)
    double adam_beta2 = 0.999;             // (HF: 0.999)
    double adam_epsilon = 1e-8;            // (HF: 1e-8)
    // gradient_checkpointing: true, false, or offload (axolotl's spelling): recompute each layer in
    // backward; offload keeps each layer's input in host memory meanwhile (sets both fields)
    bool gradient_checkpointing = false;
    bool offload_checkpoints = false;
    bool tiled_mlp = false;                // MLP in sequence tiles, recomputed in backward (axolotl: false)
    int64_t tiled_mlp_num_shards = 0;      // tiles per rank's rows; 0: ceil(rows / dim), as ALST (axolotl)
    bool bf16 = false;                     // matmuls in bf16, f32 master weights and accumulation (axolotl: bf16)
    bool bf16_activations = false;         // with bf16: the tensors between matmuls in bf16 too (ringlm's)
    int64_t seed = 42;                     // init, sampler, dropout-free sampling (axolotl: 42)
    bool operator==(const TrainingSection&) const = default;
};

struct OutputSection {
    std::string output_dir = "./model-out";  // checkpoints, metrics.jsonl, config (axolotl)
    int64_t save_steps = 0;                // checkpoint every N steps; 0 = only at the end
    int64_t save_total_limit = 0;          // keep the newest N checkpoints (and the newest that verifies); 0 = all (axolotl)
    int64_t logging_steps = 1;             // progress line / metrics every N steps
    int64_t eval_steps = 0;                // eval every N steps; 0 = only at the end
    std::string resume_from_checkpoint;    // "" = fresh run; a checkpoint path; "auto" = latest in output_dir
    // (HF TrainingArguments) true: an earlier run in output_dir is moved into
    // output_dir/overwritten-<time>/ and this run starts over; false: such a run is refused
    // unless resume_from_checkpoint continues it (train/run_directory.h).
    bool overwrite_output_dir = false;
    LogFormat log_format = LogFormat::jsonl;  // mllog adds :::MLLOG lines (issue 8)
    // ringlm's own: the peak of ONE rank's device in TFLOP/s (e.g. 989 for an H100 SXM's dense
    // bf16 tensor cores); > 0 adds MFU = model FLOP/s / (peak x ranks) to the progress line.
    double peak_tflops = 0;
    bool operator==(const OutputSection&) const = default;
};

struct ParallelSection {
    int64_t sequence_parallel_degree = 1;  // S ranks share each sequence (axolotl: 1)
    int64_t heads_k_stride = 0;            // varlen_llama3 gathers this many KV heads at a time; 0 = all
    std::optional<RingAttnFunc> ring_attn_func;  // unset: resolve_ring_attn_func
    // `context_parallel: {size, backend, ulysses_degree}` (axolotl's newer spelling; size is
    // sequence_parallel_degree: giving both, differently, is an error naming both).
    ContextParallelBackend context_parallel_backend = ContextParallelBackend::automatic;
    int64_t ulysses_degree = 0;            // usp: ranks per Ulysses group, dividing S; 0 = ranks per node
    std::optional<LoadBalance> load_balance;     // context_parallel.load_balance; unset: resolve_load_balance
    bool flash_attention = false;          // accepted for axolotl configs; the CPU kernel is always flash-style
    Device backend = Device::cpu;          // cpu | cuda
    TransportKind transport = TransportKind::automatic;  // auto | mpi | nccl (nccl needs backend cuda)
    int64_t threads = 0;                   // OpenMP threads per rank; 0 = OpenMP's default (OMP_NUM_THREADS)
    // ringlm's own: seconds a rank may wait in one collective or ring step before the watchdog
    // (src/parallel/watchdog.h) names the operation and aborts the job; 5x for the first step
    // (warm-up); 0 = no watchdog. Above the longest time one rank may work while others wait.
    double collective_timeout_s = 300;
    bool operator==(const ParallelSection&) const = default;
};

// `trl:` map, TRL's GRPOConfig names and defaults. Parsed and checked now; used by src/rl.
struct GrpoSection {
    int64_t num_generations = 8;           // G completions per prompt, >= 2 (TRL: 8)
    int64_t max_completion_length = 256;   // (TRL: 256)
    double temperature = 1.0;              // > 0 (TRL: 1.0)
    double top_p = 1.0;                    // in (0, 1] (TRL: 1.0)
    double beta = 0.0;                     // KL weight; 0 = no reference model (TRL: 0.0)
    double epsilon = 0.2;                  // lower clip (TRL: 0.2)
    double epsilon_high = 0.2;             // upper clip, >= epsilon; unset = epsilon (TRL)
    int64_t num_iterations = 1;            // policy updates per rollout batch (TRL: 1)
    GrpoLossType loss_type = GrpoLossType::grpo;  // the GRPO paper's per-sequence mean
    bool scale_rewards = true;             // divide advantages by the group's std (TRL: true)
    std::vector<std::string> reward_funcs; // names from reward_func_names
    // One weight per reward: reward_funcs in order, then reward_command when given.
    // Unset = 1.0 each (TRL).
    std::vector<double> reward_weights;
    std::string reward_command;            // "" = none; a program: JSON lines in, one number per line out
    double reward_timeout = 30.0;          // seconds per reward_command batch, > 0
    // ringlm's own (not TRL's): rollouts decoded together in one batched forward. Part of the
    // sampling: rollout tokens depend on it (at float rounding), never on S (src/rl/rollout.h).
    int64_t rollout_batch_size = 16;
    bool operator==(const GrpoSection&) const = default;
};

struct Config {
    std::string source;                    // the file (or name) it came from, for later messages
    ModelSection model;
    DataSection data;
    TrainingSection training;
    OutputSection output;
    ParallelSection parallel;
    std::optional<RlMethod> rl;            // `rl: grpo`; unset = supervised
    GrpoSection grpo;                      // `trl:`
    bool operator==(const Config&) const = default;
};

// --- reading, checking, writing -------------------------------------------------------------

// Reads and validates a config file; a missing/unreadable file fails naming it.
Config load_config(const std::string& path);
// The same from text; `source_name` starts every message (normally the file's path).
Config parse_config(const std::string& yaml_text, const std::string& source_name);

// What `ringlm train` / `eval` need beyond parse_config's checks: at least one dataset.
void validate_for_training(const Config& config);
// What `ringlm grpo` needs: `rl: grpo`, datasets (prompt JSONL) and at least one reward.
void validate_for_grpo(const Config& config);

// One line for logs: model, data, batch, schedule, parallel layout.
std::string describe(const Config& config);
// Every key with defaults filled, as YAML that parse_config reads back to an equal Config;
// the trainer saves it next to checkpoints.
std::string to_yaml(const Config& config);

}  // namespace ringlm
