#include "train/training_setup.h"

#include "backend/cpu/cpu_threads.h"
#include "backend/cuda_runtime.h"
#include "model/hf_hub.h"
#include "model/pretrained.h"
#include "parallel/collective_error.h"
#include "parallel/communicators.h"
#include "parallel/nccl.h"
#include "parallel/ring_attention.h"
#include "parallel/watchdog.h"
#include "train/checkpoint.h"
#include "train/dataset_preparation.h"
#include "train/input_checks.h"
#include "train/run_directory.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>

namespace ringlm {

namespace {

Llama make_model(const Config& config, ModelUse use) {
    if (!config.model.base_model.empty()) {
        const std::string path = resolve_base_model_path(config.model.base_model);  // org/name: the hub cache
        if (!std::filesystem::exists(path))
            fail_uniform("{}: base_model '{}' does not exist", config.source, config.model.base_model);
        return load_base_model(path, config.parallel.backend, use);
    }
    Llama model = make_llama(config.model.model_config, config.parallel.backend, use);
    init_llama_weights(model, static_cast<uint64_t>(config.training.seed));
    return model;
}

// `backend: cuda`: this rank's GPU, local_rank % device count, becomes its device (ranks on
// one node share the node's GPUs round-robin). Every rank decides the same: the device count
// is the minimum over the world, so a node without a GPU stops every rank with one message.
struct DeviceChoice {
    int device = -1;   // this rank's GPU; -1 for backend cpu
    int devices = 0;   // GPUs per node (the fewest of any node)
};

DeviceChoice select_device(const Config& config, const Topology& topology) {
    if (config.parallel.backend == Device::cpu) return {};
    if (!cuda_backend_built())
        fail_uniform("{}: backend cuda, but this ringlm was built without the CUDA backend (nvcc was not found); "
                     "rebuild with the CUDA toolkit installed (cmake -DRINGLM_CUDA=on), or use backend cpu",
                     config.source);
    int64_t fewest_devices = -cuda_device_count();  // the fewest over the world = -(the largest of the negatives)
    world_communicator().all_reduce_max(&fewest_devices, 1);
    const int devices = static_cast<int>(-fewest_devices);
    if (devices == 0)
        fail_uniform("{}: backend cuda, but no CUDA device was found (on at least one node of this run); use "
                     "backend cpu, or run on GPU nodes",
                     config.source);
    const int device = topology.local_rank % devices;
    init_cuda_backend(device);
    return {device, devices};
}

// `transport:` resolved to mpi or nccl, the same on every rank. auto: nccl with backend cuda
// when every rank has a GPU of its own (NCCL refuses two ranks of a communicator on one GPU),
// else mpi. With backend cuda the MPI transport moves every tensor through host copies
// (mpi_communicator.h): fine for the gradient sum at S = 1; for SP (ranks sharing a GPU, the
// way to check S = 2 or 4 against S = 1 on one GPU) it must be asked for by name, since no
// copy overlaps the attention and it has not yet run on a GPU.
TransportKind resolve_transport(const Config& config, const Topology& topology, int devices) {
    const TransportKind configured = config.parallel.transport;
    if (config.parallel.backend == Device::cpu) return TransportKind::mpi;  // nccl refused by the config parser
    const int most_ranks_on_a_node = topology.most_ranks_on_a_node;
    const bool gpu_per_rank = topology.world_size == 1 || most_ranks_on_a_node <= devices;
    const bool nccl_built = nccl_available();
    if (configured == TransportKind::nccl && !nccl_built)
        fail_uniform("{}: transport nccl, but this ringlm was built without NCCL (nccl.h and libnccl were not found "
                     "next to the CUDA toolkit); install NCCL and rebuild, or use transport auto",
                     config.source);
    if (configured == TransportKind::nccl && !gpu_per_rank)
        fail_uniform("{}: transport nccl needs a GPU per rank (NCCL refuses two ranks on one GPU), but a node runs {} "
                     "ranks on {} GPU(s); start at most {} ranks per node, or use transport mpi with "
                     "sequence_parallel_degree 1",
                     config.source, most_ranks_on_a_node, devices, devices);
    const bool nccl = configured == TransportKind::nccl ||
                      (configured == TransportKind::automatic && nccl_built && gpu_per_rank);
    if (!nccl && topology.sp_size > 1 && configured != TransportKind::mpi) {
        const std::string why = !nccl_built ? "this ringlm was built without NCCL"
                                            : fmt::format("a node runs {} ranks on {} GPU(s), and NCCL needs a GPU "
                                                          "per rank",
                                                          most_ranks_on_a_node, devices);
        fail_uniform("{}: backend cuda with sequence_parallel_degree {} runs its ring over NCCL, but {}; use a GPU per "
                     "rank, or `transport: mpi`, which moves the ring's K/V through host memory (ranks may share a "
                     "GPU; slow, for checking S > 1 on one GPU)",
                     config.source, topology.sp_size, why);
    }
    return nccl ? TransportKind::nccl : TransportKind::mpi;
}

}  // namespace

ChunkLayout chunk_layout_for(RingAttnFunc variant, LoadBalance load_balance) {
    if (load_balance == LoadBalance::document) return ChunkLayout::document;
    switch (variant) {
        case RingAttnFunc::batch_zigzag: return ChunkLayout::zigzag;
        case RingAttnFunc::batch_stripe: return ChunkLayout::striped;
        case RingAttnFunc::batch_ring:
        case RingAttnFunc::varlen_llama3: return ChunkLayout::contiguous;
    }
    return ChunkLayout::contiguous;
}

TrainingSetup make_model_setup(const Config& config, ModelUse use) {
    check_together([&] { check_input_paths(config); });
    TrainingSetup setup;
    setup.config = config;
    start_watchdog(config.parallel.collective_timeout_s);
    if (config.parallel.threads > 0) set_cpu_threads(static_cast<int>(config.parallel.threads));
    setup.topology = make_topology(static_cast<int>(config.parallel.sequence_parallel_degree), config.source);
    const Topology& topology = setup.topology;
    const DeviceChoice device = select_device(config, topology);
    setup.transport_kind = resolve_transport(config, topology, device.devices);
    setup.model = make_model(config, use);
    if (config.training.bf16) enable_bf16_matmuls(setup.model);
    const ModelConfig& model_config = setup.model.config;
    if (config.data.sequence_len > model_config.max_position)
        fail_uniform("{}: sequence_len {} exceeds the model's max_position {}", config.source, config.data.sequence_len,
                     model_config.max_position);

    const RingAttnFunc variant = resolve_ring_attn_func(config.parallel.ring_attn_func, config.data.sample_packing);
    if (config.parallel.heads_k_stride > 0 && model_config.n_kv_heads % config.parallel.heads_k_stride != 0)
        fail_uniform("{}: heads_k_stride {} must divide the model's {} KV heads", config.source,
                     config.parallel.heads_k_stride, model_config.n_kv_heads);
    setup.variant = variant;
    setup.context_parallel =
        plan_context_parallel(config.parallel.context_parallel_backend, config.parallel.ulysses_degree,
                              model_config.n_heads, model_config.n_kv_heads, topology.sp_size,
                              topology.sp_ranks_per_node, config.source + ": ");
    const int ulysses_degree = setup.context_parallel.ulysses_degree;
    if (ulysses_degree > 1 && ulysses_degree < topology.sp_size)
        split_usp_groups(topology.sp_comm.get(), ulysses_degree, setup.topology.ulysses_comm, setup.topology.ring_comm);
    setup.topology.ulysses_degree = ulysses_degree;
    setup.comms = make_communicators(topology, setup.transport_kind == TransportKind::nccl, device.device);
    const LoadBalance load_balance = resolve_load_balance(config.parallel.load_balance, config.data.sample_packing);
    setup.layout = SequenceLayout{chunk_layout_for(variant, load_balance), topology.sp_size, topology.sp_rank};
    setup.forward.gradient_checkpointing = config.training.gradient_checkpointing;
    setup.forward.offload_checkpoints = config.training.offload_checkpoints;
    setup.forward.bf16_activations = config.training.bf16_activations;
    setup.forward.tiled_mlp = config.training.tiled_mlp;
    setup.forward.tiled_mlp_num_shards = config.training.tiled_mlp_num_shards;
    if (topology.sp_size > 1) {
        setup.forward.attention = sequence_parallel_attention(*setup.comms.sp, variant, config.parallel.heads_k_stride,
                                                              ulysses_degree, config.training.gradient_checkpointing,
                                                              model_config.n_layers);
    }
    return setup;
}

TrainingSetup make_training_setup(const Config& config, bool for_training) {
    if (for_training) validate_for_training(config);
    // eval only: the model needs no gradient buffer (half its memory)
    TrainingSetup setup = make_model_setup(config, for_training ? ModelUse::training : ModelUse::inference);
    // After the input paths (make_model_setup), before the data is read or anything written.
    if (for_training) setup.resume_from = check_run_directory(config);
    const Topology& topology = setup.topology;
    const ModelConfig& model_config = setup.model.config;

    // Read and validated even though training needs only the token files: a tokenizer that
    // does not fit the model, or was not the one the files were made with, is caught here.
    const int64_t vocab = model_config.vocab_size;
    const bool rank_zero = topology.rank == 0;
    // Typed datasets (raw JSONL) are prepared into dataset_prepared_path by rank 0 first.
    const TokenFilePaths paths = token_file_paths(config, vocab, rank_zero);
    check_together([&] {
        const std::unique_ptr<Tokenizer> tokenizer = load_config_tokenizer(config, vocab);
        TokenFileChecks checks(config, vocab, tokenizer.get(), rank_zero);
        setup.corpus = std::make_unique<Corpus>(paths.datasets, vocab, checks.of("datasets"));
        if (!config.data.test_datasets.empty())
            setup.eval_corpus = std::make_unique<Corpus>(paths.test_datasets, vocab, checks.of("test_datasets"));
    });
    if (!config.data.test_datasets.empty()) {
        setup.split.train.resize(setup.corpus->num_documents());
        std::iota(setup.split.train.begin(), setup.split.train.end(), 0);
        setup.split.validation.resize(setup.eval_corpus->num_documents());
        std::iota(setup.split.validation.begin(), setup.split.validation.end(), 0);
    } else {
        setup.split = split_documents(setup.corpus->num_documents(), config.data.val_set_size,
                                      static_cast<uint64_t>(config.training.seed));
    }

    if (for_training) {
        SamplerSettings settings{static_cast<uint64_t>(config.training.seed), config.data.sequence_len,
                                 config.data.sample_packing, config.training.micro_batch_size,
                                 config.training.gradient_accumulation_steps, topology.dp_size};
        setup.sampler = std::make_unique<Sampler>(settings, setup.split.train, setup.corpus->document_lengths());
        setup.total_steps = config.training.max_steps > 0
                                ? config.training.max_steps
                                : static_cast<int64_t>(std::ceil(config.training.num_epochs *
                                                                 static_cast<double>(setup.sampler->steps_per_epoch())));
    }
    return setup;
}

std::string launch_summary(const TrainingSetup& setup) {
    const Topology& t = setup.topology;
    const Config& c = setup.config;
    const char* core_type = std::getenv("OPENBLAS_CORETYPE");
    const int64_t global_batch = t.dp_size * c.training.micro_batch_size * c.training.gradient_accumulation_steps;
    return fmt::format(
        "ringlm: world {} on {} node(s), sequence_parallel_degree S={} x data-parallel D={}, backend {}, transport {}, "
        "{} thread(s) per rank, BLAS core type {}; global batch {} sequences x {} tokens ({} x micro batch {} x "
        "accumulation {}); context parallel: {}",
        t.world_size, t.nodes, t.sp_size, t.dp_size, name(c.parallel.backend), name(setup.transport_kind), cpu_threads(),
        core_type && *core_type ? core_type : "auto-detected", global_batch, c.data.sequence_len, t.dp_size,
        c.training.micro_batch_size, c.training.gradient_accumulation_steps, setup.context_parallel.reason);
}

}  // namespace ringlm
