// What checkpoint checksums cost: CRC-32C alone (bytes/s), and saving, verifying and loading a
// checkpoint of a 106M-parameter model (dim 768, 8 layers, vocab 32000: 1.27 GB with AdamW's
// moments), each counted in bytes/s of the checkpoint. The CRC's share of a save or a load is
// its time per byte over theirs. Save, verify and load count wall time (they wait on the disk).
// Files go to TMPDIR (default /tmp).
#include "model/model_file.h"
#include "train/checkpoint.h"
#include "util/crc32c.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace ringlm {

namespace {

void report_bytes(benchmark::State& state, double bytes_per_call) {
    state.counters["bytes/s"] = benchmark::Counter(bytes_per_call, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<unsigned char> pattern_bytes(size_t count) {
    std::vector<unsigned char> bytes(count);
    for (size_t i = 0; i < count; i++) bytes[i] = static_cast<unsigned char>(i * 2654435761u >> 13);
    return bytes;
}

struct BigCheckpoint {
    Llama model;
    AdamW optimizer;
    std::string path;
};

BigCheckpoint& big_checkpoint() {
    static BigCheckpoint* made = [] {
        ModelConfig config;
        config.dim = 768;
        config.n_layers = 8;
        config.n_heads = 12;
        config.n_kv_heads = 12;
        config.ffn_dim = 2048;
        config.vocab_size = 32000;
        config.tied_embeddings = false;
        auto* checkpoint = new BigCheckpoint{make_llama(config, Device::cpu, ModelUse::training), {}, ""};
        init_llama_weights(checkpoint->model, 1);
        checkpoint->optimizer = make_adamw(checkpoint->model, AdamWSettings{});
        checkpoint->path = (std::filesystem::temp_directory_path() / "ringlm_checkpoint_bench.h5").string();
        return checkpoint;
    }();
    return *made;
}

double checkpoint_bytes(const BigCheckpoint& checkpoint) { return 3.0 * 4.0 * checkpoint.model.n_parameters(); }

}  // namespace

static void BM_Crc32c(benchmark::State& state) {
    const std::vector<unsigned char> bytes = pattern_bytes(size_t{64} << 20);
    for (auto _ : state) benchmark::DoNotOptimize(crc32c(bytes.data(), bytes.size()));
    report_bytes(state, static_cast<double>(bytes.size()));
}
BENCHMARK(BM_Crc32c)->Unit(benchmark::kMillisecond);

static void BM_Crc32cTables(benchmark::State& state) {
    const std::vector<unsigned char> bytes = pattern_bytes(size_t{64} << 20);
    for (auto _ : state) benchmark::DoNotOptimize(crc32c_extend_tables(0, bytes.data(), bytes.size()));
    report_bytes(state, static_cast<double>(bytes.size()));
}
BENCHMARK(BM_Crc32cTables)->Unit(benchmark::kMillisecond);

// Write (with checksums) + fsync + rename.
static void BM_SaveCheckpoint(benchmark::State& state) {
    BigCheckpoint& checkpoint = big_checkpoint();
    for (auto _ : state)
        save_checkpoint(checkpoint.path, checkpoint.model, checkpoint.optimizer, CheckpointState{1}, "bench: 1\n");
    report_bytes(state, checkpoint_bytes(checkpoint));
}
BENCHMARK(BM_SaveCheckpoint)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Read every tensor in pieces and check its CRC (what resume does before loading).
static void BM_VerifyCheckpoint(benchmark::State& state) {
    BigCheckpoint& checkpoint = big_checkpoint();
    if (!std::filesystem::exists(checkpoint.path))
        save_checkpoint(checkpoint.path, checkpoint.model, checkpoint.optimizer, CheckpointState{1}, "bench: 1\n");
    for (auto _ : state) benchmark::DoNotOptimize(verify_checkpoint(checkpoint.path));
    report_bytes(state, checkpoint_bytes(checkpoint));
}
BENCHMARK(BM_VerifyCheckpoint)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Read into the model and optimizer, verifying each tensor as it arrives.
static void BM_LoadCheckpoint(benchmark::State& state) {
    BigCheckpoint& checkpoint = big_checkpoint();
    if (!std::filesystem::exists(checkpoint.path))
        save_checkpoint(checkpoint.path, checkpoint.model, checkpoint.optimizer, CheckpointState{1}, "bench: 1\n");
    for (auto _ : state) load_checkpoint(checkpoint.path, checkpoint.model, &checkpoint.optimizer);
    report_bytes(state, checkpoint_bytes(checkpoint));
    std::filesystem::remove(checkpoint.path);
}
BENCHMARK(BM_LoadCheckpoint)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace ringlm
