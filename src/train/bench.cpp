#include "train/bench.h"

#include "backend/cpu/cpu_threads.h"
#include "backend/cpu/packed_gemm.h"

#include "backend/backend.h"
#include "data/token_dataset.h"
#include "parallel/communicators.h"
#include "tensor/allocator.h"
#include "train/optimizer.h"
#include "train/trainer.h"
#include "train/training_setup.h"
#include "util/error.h"

#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

namespace ringlm {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int64_t max_over_ranks(int64_t value) {
    world_communicator().all_reduce_max(&value, 1);
    return value;
}

// Random documents of exactly sequence_len tokens: one document fills one row, no padding,
// no packing, every position but the last of each row carries a loss.
std::string write_synthetic_tokens(const BenchPoint& point, int64_t documents, int rank) {
    const std::string path = fmt::format("{}/synthetic_T{}_V{}_N{}.h5", point.work_dir, point.sequence_len,
                                         point.model.vocab_size, documents);
    if (rank == 0 && !std::filesystem::exists(path)) {
        std::filesystem::create_directories(point.work_dir);
        std::mt19937_64 rng(1234);
        std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(point.model.vocab_size - 1));
        std::vector<Document> docs(static_cast<size_t>(documents));
        for (Document& doc : docs) {
            doc.input_ids.resize(static_cast<size_t>(point.sequence_len));
            for (int32_t& id : doc.input_ids) id = token(rng);
        }
        const std::string temporary = path + ".tmp";
        write_token_dataset(temporary, docs, point.model.vocab_size, "");
        std::filesystem::rename(temporary, path);
    }
    world_communicator().barrier();
    return path;
}

Config bench_config(const BenchPoint& point, const std::string& dataset) {
    Config c;
    c.source = "ringlm bench";
    c.model.has_model_config = true;
    c.model.model_config = point.model;
    c.model.model_config.max_position = std::max(point.model.max_position, point.sequence_len);
    c.data.datasets = {DatasetEntry{dataset, {}}};
    c.data.sequence_len = point.sequence_len;
    c.data.sample_packing = false;
    c.training.micro_batch_size = point.micro_batch;
    c.training.max_steps = point.warmup_steps + point.measured_steps;
    c.training.learning_rate = 1e-4;
    c.training.lr_scheduler = LrScheduler::constant;
    c.training.gradient_checkpointing = point.gradient_checkpointing || point.offload_checkpoints;
    c.training.offload_checkpoints = point.offload_checkpoints;
    c.training.tiled_mlp = point.tiled_mlp;
    c.training.bf16 = point.bf16 || point.bf16_activations;
    c.training.bf16_activations = point.bf16_activations;
    c.output.output_dir = point.work_dir;
    c.parallel.sequence_parallel_degree = point.sequence_parallel_degree;
    c.parallel.ring_attn_func = point.ring_attn_func;
    c.parallel.threads = point.threads;
    return c;
}

long minor_page_faults() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

}  // namespace

ModelConfig peer_model_config() {
    ModelConfig m;
    m.dim = 512;
    m.n_layers = 8;
    m.n_heads = 8;
    m.n_kv_heads = 2;
    m.ffn_dim = 1376;
    m.vocab_size = 4096;
    m.tied_embeddings = true;
    return m;
}

SgemmProbe::SgemmProbe(int64_t m, int64_t n, int64_t k) : a(zeros({m, k})), b(zeros({n, k})), c(zeros({m, n})) {
    backend(a).fill(a, 0.5);
    backend(b).fill(b, 0.25);
}

namespace {
// FLOP/s of `multiply`, which does `flops` FLOPs: the median of `repeats` timed calls after
// `warmups` untimed ones.
template <typename Multiply>
double gemm_rate(double flops, int64_t repeats, int64_t warmups, Multiply multiply) {
    std::vector<double> seconds;
    for (int64_t i = 0; i < repeats + warmups; i++) {
        const auto start = Clock::now();
        multiply();
        if (i >= warmups) seconds.push_back(seconds_since(start));
    }
    return flops / median(seconds);
}
}  // namespace

double SgemmProbe::flops() const { return 2.0 * static_cast<double>(a.rows() * b.rows() * a.cols()); }

double SgemmProbe::measure(int64_t repeats, int64_t warmups) {
    return gemm_rate(flops(), repeats, warmups, [&] { backend(a).gemm(c, a, b, false, true, 1.0, 0.0); });
}

double SgemmProbe::measure_openblas(int64_t repeats, int64_t warmups) {
    return gemm_rate(flops(), repeats, warmups, [&] {
        openblas_sgemm(false, true, a.rows(), b.rows(), a.cols(), 1.0, a.data<float>(), b.data<float>(), 0.0,
                       c.data<float>());
    });
}

bool SgemmProbe::runs_packed_gemm() const { return packed_gemm_runs(a.rows()); }

TrainingSetup make_bench_setup(const BenchPoint& point) {
    const int world = world_communicator().size(), rank = world_communicator().rank();
    if (point.sequence_parallel_degree < 1 || world % point.sequence_parallel_degree != 0)
        fail_uniform("ringlm bench: sequence_parallel_degree {} must divide the {} ranks", point.sequence_parallel_degree,
                     world);
    const int64_t dp = world / point.sequence_parallel_degree;
    const int64_t total_steps = point.warmup_steps + point.measured_steps;
    const std::string dataset = write_synthetic_tokens(point, point.micro_batch * dp * total_steps, rank);
    return make_training_setup(bench_config(point, dataset), true);
}

BenchResult run_bench_point(const BenchPoint& point) {
    const int64_t total_steps = point.warmup_steps + point.measured_steps;
    TrainingSetup setup = make_bench_setup(point);
    const Topology& t = setup.topology;
    Llama& model = setup.model;
    AdamW optimizer = make_adamw(model, AdamWSettings{});

    BenchResult r;
    r.world_size = t.world_size;
    r.sp_size = t.sp_size;
    r.dp_size = t.dp_size;
    r.variant = t.sp_size > 1 ? std::string(name(setup.variant)) : "local";
    const int64_t sequences = setup.sampler->rows_per_step();
    r.tokens_per_step = sequences * point.sequence_len;
    r.n_parameters = model.n_parameters();
    r.n_matmul_parameters = matmul_parameters(model.config);
    r.model_flops_per_step = model_flops_per_step(model.config, point.sequence_len, sequences);

    // The peak: the f32 GEMM right before every measured step, so a shared machine's load changes
    // both alike; every rank multiplies at the same moment, as every rank trains at once.
    SgemmProbe sgemm_probe(2048, 1376, 512);
    std::vector<double> sgemm_rates, openblas_rates;
    const bool also_openblas = built_with_blas() && sgemm_probe.runs_packed_gemm();

    std::vector<double> compute, ring_wait, attention, allreduce, optimizer_time;
    int64_t peak = 0;
    // in measured steps only: the GEMM probes between steps allocate and fault pages of their own
    uint64_t system_allocations = 0;
    long page_faults = 0;
    world_communicator().barrier();
    for (int64_t step = 0; step < total_steps; step++) {
        if (step >= point.warmup_steps && point.sgemm_repeats > 0) {
            world_communicator().barrier();
            sgemm_rates.push_back(sgemm_probe.measure(point.sgemm_repeats, 1));
            world_communicator().barrier();
            if (also_openblas) {
                openblas_rates.push_back(sgemm_probe.measure_openblas(point.sgemm_repeats, 1));
                world_communicator().barrier();
            }
        }
        cpu_allocator().reset_peak();
        const long faults_before = minor_page_faults();
        const uint64_t allocations_before = cpu_allocator().stats().system_allocations;
        const auto step_start = Clock::now();
        const StepResult result = accumulate_gradients(setup, step);
        const auto optimizer_start = Clock::now();
        adamw_step(optimizer, model, 1e-4, result.loss_tokens);
        const double optimizer_seconds = seconds_since(optimizer_start);
        const double step_seconds = seconds_since(step_start);
        r.loss = result.loss_tokens > 0 ? result.loss_sum / result.loss_tokens : 0.0;
        if (step < point.warmup_steps) continue;
        page_faults += minor_page_faults() - faults_before;
        system_allocations += cpu_allocator().stats().system_allocations - allocations_before;
        r.step_seconds.push_back(step_seconds);
        compute.push_back(result.compute_seconds);
        ring_wait.push_back(result.ring_wait_seconds);
        attention.push_back(result.ring_compute_seconds);
        allreduce.push_back(result.allreduce_seconds);
        optimizer_time.push_back(optimizer_seconds);
        peak = std::max(peak, static_cast<int64_t>(cpu_allocator().stats().peak_bytes_in_use));
    }
    const double measured = static_cast<double>(point.measured_steps);
    r.system_allocations_per_step = static_cast<double>(system_allocations) / measured;
    r.page_faults_per_step = static_cast<double>(page_faults) / measured;
    if (!sgemm_rates.empty()) {
        double sgemm = median(sgemm_rates);
        r.sgemm_flops_per_second_rank0 = sgemm;
        world_communicator().all_reduce_sum(&sgemm, 1);
        r.sgemm_flops_per_second = sgemm;
    }
    if (!openblas_rates.empty()) {
        double openblas = median(openblas_rates);
        world_communicator().all_reduce_sum(&openblas, 1);
        r.openblas_sgemm_flops_per_second = openblas;
    }
    r.step_median = median(r.step_seconds);
    r.step_min = *std::min_element(r.step_seconds.begin(), r.step_seconds.end());
    r.step_max = *std::max_element(r.step_seconds.begin(), r.step_seconds.end());
    r.tokens_per_second = static_cast<double>(r.tokens_per_step) / r.step_median;
    r.model_flops_per_second = r.model_flops_per_step / r.step_median;
    r.compute_seconds = median(compute);
    r.ring_wait_seconds = median(ring_wait);
    r.attention_seconds = median(attention);
    r.allreduce_seconds = median(allreduce);
    r.optimizer_seconds = median(optimizer_time);
    r.peak_memory_bytes = max_over_ranks(peak);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    r.max_rss_bytes = max_over_ranks(static_cast<int64_t>(usage.ru_maxrss) * 1024);
    return r;
}

std::string bench_csv_header() {
    return "label,world,S,D,variant,threads,micro_batch,sequence_len,dim,layers,n_parameters,tokens_per_step,"
           "step_s_median,step_s_min,step_s_max,tokens_per_s,tokens_per_s_per_rank,model_flops_per_s,"
           "sgemm_flops_per_s,mfu,peak_mem_bytes_per_rank,max_rss_bytes_per_rank,compute_s,ring_wait_s,attention_s,"
           "allreduce_s,optimizer_s,loss,system_allocations_per_step,page_faults_per_step,openblas_coretype,blas,"
           "openblas_sgemm_flops_per_s";
}

namespace {
// The CSV has no quoting: a comma inside a field becomes a semicolon.
std::string csv_field(std::string text) {
    std::replace(text.begin(), text.end(), ',', ';');
    return text;
}
}  // namespace

std::string bench_csv_row(const BenchPoint& p, const BenchResult& r, const std::string& label) {
    const char* core_type = std::getenv("OPENBLAS_CORETYPE");
    const double mfu = r.sgemm_flops_per_second > 0 ? r.model_flops_per_second / r.sgemm_flops_per_second : 0.0;
    return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.2f},{:.2f},{:.4e},{:.4e},{:.4f},{},{},"
                       "{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.4f},{:.1f},{:.1f},{},{},{:.4e}",
                       label, r.world_size, r.sp_size, r.dp_size, r.variant, p.threads, p.micro_batch, p.sequence_len,
                       p.model.dim, p.model.n_layers, r.n_parameters, r.tokens_per_step, r.step_median, r.step_min,
                       r.step_max, r.tokens_per_second, r.tokens_per_second / r.world_size, r.model_flops_per_second,
                       r.sgemm_flops_per_second, mfu, r.peak_memory_bytes, r.max_rss_bytes, r.compute_seconds,
                       r.ring_wait_seconds, r.attention_seconds, r.allreduce_seconds, r.optimizer_seconds, r.loss,
                       r.system_allocations_per_step, r.page_faults_per_step, core_type && *core_type ? core_type : "auto",
                       csv_field(blas_description()), r.openblas_sgemm_flops_per_second);
}

}  // namespace ringlm
