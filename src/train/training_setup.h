// Everything a run needs, built and checked BEFORE any compute and before anything is written
// to output_dir: topology, model (pretrained or fresh, or the checkpoint to resume), data
// (every token validated against the model's vocabulary), the train/eval split, the sampler
// and the sequence layout. Bad input anywhere stops here with a message naming the place.
#pragma once

#include "config/config.h"
#include "data/corpus.h"
#include "data/sampler.h"
#include "model/llama.h"
#include "parallel/communicators.h"
#include "parallel/chunk_layout.h"
#include "parallel/context_parallel.h"
#include "parallel/topology.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace ringlm {

struct TrainingSetup {
    Config config;
    Topology topology;
    Communicators comms;  // after topology: made from its MPI groups, gone before them
    Llama model;
    std::unique_ptr<Corpus> corpus;       // training documents (and the held-out ones when val_set_size)
    std::unique_ptr<Corpus> eval_corpus;  // test_datasets, when given
    DocumentSplit split;                  // document indices into corpus (train) and the eval corpus
    std::unique_ptr<Sampler> sampler;
    SequenceLayout layout;
    RingAttnFunc variant = RingAttnFunc::batch_zigzag;  // resolved; used when sp_size > 1
    ContextParallelPlan context_parallel;               // ring, ulysses or usp (parallel/context_parallel.h)
    TransportKind transport_kind = TransportKind::mpi;  // resolved from config.parallel.transport: mpi or nccl
    ForwardOptions forward;
    int64_t total_steps = 0;
    std::optional<std::string> resume_from;  // checkpoint to load, resolved from resume_from_checkpoint
    const Corpus& evaluation_corpus() const { return eval_corpus ? *eval_corpus : *corpus; }
};

// How a rank cuts its rows for a ring variant: zigzag and stripe their own layouts, batch_ring
// and varlen_llama3 contiguous chunks; load_balance document: per-document head-tail chunks
// whatever the variant (every variant accepts every layout: masks use global indices).
ChunkLayout chunk_layout_for(RingAttnFunc variant, LoadBalance load_balance = LoadBalance::none);

// The part every command shares: threads, topology, the model (base_model or fresh), the
// sequence layout, the communicators and, when S > 1, ring attention as the model's attention.
// `ringlm grpo` builds on this with its own prompt data (src/rl). `use`: whether the model gets
// a gradient buffer (make_llama).
TrainingSetup make_model_setup(const Config& config, ModelUse use = ModelUse::training);

// `for_training` false: eval only (no sampler, no resume, no gradient buffer; the model from
// base_model or the latest checkpoint in output_dir).
TrainingSetup make_training_setup(const Config& config, bool for_training);

// One line on rank 0: world, nodes, S, D, backend, transport, threads, BLAS core type, global batch.
std::string launch_summary(const TrainingSetup& setup);

}  // namespace ringlm
