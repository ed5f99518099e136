// Checkpoint integrity: every tensor's CRC-32C is verified on load, a flipped byte inside a
// tensor's stored bytes (found with H5Dget_offset, so the test really hits tensor data) or a
// truncated file is refused naming the file and the tensor; latest_checkpoint skips a corrupt
// newest checkpoint; prune_checkpoints keeps N and never the last verified one; a full disk
// (ENOSPC injected into HDF5's pwrite, below) leaves the previous checkpoint loadable.
#include "data/hdf5_handle.h"
#include "model/model_file.h"
#include "reference_io.h"
#include "test_util.h"
#include "train/checkpoint.h"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cstring>
#include <random>

// --- an injected full disk ------------------------------------------------------------------
// This definition of pwrite interposes on libc's for the whole test binary (HDF5's sec2 driver
// writes with pwrite). Armed, a write to a "*.tmp" file beyond `disk_bytes_left` bytes fails
// with ENOSPC, as a full disk's would, after writing what fits.
namespace {
int64_t disk_bytes_left = -1;  // < 0: not armed
int64_t bytes_written = 0;     // to "*.tmp" files, armed or not

bool is_temporary_file(int fd) {
    char target[4096] = {};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t length = readlink(link.c_str(), target, sizeof target - 1);
    return length > 0 && std::string(target, static_cast<size_t>(length)).ends_with(".tmp");
}
}  // namespace

extern "C" ssize_t pwrite(int fd, const void* data, size_t bytes, off_t offset) {
    using Pwrite = ssize_t (*)(int, const void*, size_t, off_t);
    static const Pwrite real_pwrite = reinterpret_cast<Pwrite>(dlsym(RTLD_NEXT, "pwrite"));
    if (!is_temporary_file(fd)) return real_pwrite(fd, data, bytes, offset);
    bytes_written += static_cast<int64_t>(bytes);
    if (disk_bytes_left < 0) return real_pwrite(fd, data, bytes, offset);
    if (static_cast<int64_t>(bytes) <= disk_bytes_left) {
        disk_bytes_left -= static_cast<int64_t>(bytes);
        return real_pwrite(fd, data, bytes, offset);
    }
    if (disk_bytes_left > 0) {  // what fits: a short write, as the kernel's; the next one fails
        const ssize_t written = real_pwrite(fd, data, static_cast<size_t>(disk_bytes_left), offset);
        disk_bytes_left = 0;
        return written;
    }
    errno = ENOSPC;
    return -1;
}

namespace ringlm {
using namespace ringlm::testing;

namespace {

// A model and optimizer state with random values, saved as `step`.
struct Saved {
    Llama model;
    AdamW optimizer;
};

Saved random_state(uint64_t seed) {
    Saved saved{make_llama(tiny_model_config(61, 64)), {}};
    init_llama_weights(saved.model, seed);
    saved.optimizer = make_adamw(saved.model, AdamWSettings{});
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    for (Tensor* moment : {&saved.optimizer.m, &saved.optimizer.v}) {
        float* values = moment->data<float>();
        for (int64_t i = 0; i < moment->numel(); i++) values[i] = normal(rng);
    }
    saved.optimizer.step = static_cast<int64_t>(seed % 1000);
    return saved;
}

std::string save_step(const std::string& folder, int64_t step, uint64_t seed) {
    const Saved saved = random_state(seed + static_cast<uint64_t>(step));
    const std::string path = checkpoint_path(folder, step);
    save_checkpoint(path, saved.model, saved.optimizer, CheckpointState{step}, "seed: 1\n");
    return path;
}

// Flips one bit of byte `index` of dataset `name`'s stored values, in the file's bytes.
void flip_stored_byte(const std::string& path, const std::string& name, int64_t index) {
    int64_t offset = 0;
    {
        hdf5::File file = hdf5::open_file_readonly(path);
        offset = hdf5::dataset_file_offset(hdf5::open_dataset(file, name, "test")) + index;
    }
    std::fstream bytes(path, std::ios::in | std::ios::out | std::ios::binary);
    bytes.seekg(offset);
    char byte = 0;
    bytes.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    bytes.seekp(offset);
    bytes.write(&byte, 1);
    ASSERT_TRUE(bytes.good()) << path << " at " << offset;
}

template <typename Body>
std::string error_of(Body&& body) {
    try {
        body();
    } catch (const Error& error) {
        return error.what();
    }
    return "(no error)";
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
    return a.numel() == b.numel() && std::memcmp(a.raw(), b.raw(), static_cast<size_t>(a.numel()) * 4) == 0;
}

TEST(CheckpointIntegrity, RoundTripVerifiesAndLoadsExactly) {
    const uint64_t seed = fresh_seed();
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    const std::string path = save_step(folder, 7, seed);
    EXPECT_TRUE(verify_checkpoint(path));
    const Saved expected = random_state(seed + 7);
    Saved loaded{make_llama(tiny_model_config(61, 64)), {}};
    loaded.optimizer = make_adamw(loaded.model, AdamWSettings{});
    EXPECT_EQ(load_checkpoint(path, loaded.model, &loaded.optimizer).step, 7);
    EXPECT_TRUE(bitwise_equal(loaded.model.parameters, expected.model.parameters));
    EXPECT_TRUE(bitwise_equal(loaded.optimizer.m, expected.optimizer.m));
    EXPECT_TRUE(bitwise_equal(loaded.optimizer.v, expected.optimizer.v));
    EXPECT_EQ(loaded.optimizer.step, expected.optimizer.step);
    std::filesystem::remove_all(folder);
}

TEST(CheckpointIntegrity, FlippedByteInATensorIsRefusedNamingIt) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    const Saved saved = random_state(seed);
    std::vector<std::pair<std::string, int64_t>> tensors;  // name, elements
    for (const NamedParameter& p : saved.model.named) tensors.push_back({"/model/" + p.name, p.value.numel()});
    tensors.push_back({"/optimizer/m", saved.optimizer.m.numel()});
    tensors.push_back({"/optimizer/v", saved.optimizer.v.numel()});
    for (int trial = 0; trial < 6; trial++) {
        const std::string path = save_step(folder, 1, seed);
        const auto& [name, elements] = tensors[rng() % tensors.size()];
        const int64_t byte = static_cast<int64_t>(rng() % static_cast<uint64_t>(elements * 4));
        flip_stored_byte(path, name, byte);
        const std::string why = error_of([&] { verify_checkpoint(path); });
        EXPECT_EQ(why.rfind(fmt::format("{}: {}: checksum mismatch (crc32c stored ", path, name), 0), 0u)
            << "byte " << byte << " of " << name << ", seed " << seed << ": " << why;
        EXPECT_NE(why.find("the file is corrupt"), std::string::npos) << why;
        Saved loaded{make_llama(tiny_model_config(61, 64)), {}};
        loaded.optimizer = make_adamw(loaded.model, AdamWSettings{});
        const std::string load_error = error_of([&] { load_checkpoint(path, loaded.model, &loaded.optimizer); });
        EXPECT_EQ(load_error, why) << "load_checkpoint must refuse it the same way";
    }
    std::filesystem::remove_all(folder);
}

TEST(CheckpointIntegrity, ChangedAttributeIsRefused) {
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    const std::string path = save_step(folder, 3, fresh_seed());
    {  // step 3 -> 4, written through HDF5 so only the value changes
        hdf5::File file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), path);
        hdf5::Attribute step(H5Aopen(file.id(), "step", H5P_DEFAULT), path);
        const int64_t four = 4;
        ASSERT_GE(H5Awrite(step.id(), H5T_NATIVE_INT64, &four), 0);
    }
    const std::string why = error_of([&] { verify_checkpoint(path); });
    EXPECT_EQ(why.rfind(path + ": root attributes (step, config, model shape): checksum mismatch", 0), 0u) << why;
    EXPECT_NE(error_of([&] { read_checkpoint_model_config(path); }).find("checksum mismatch"), std::string::npos);
    std::filesystem::remove_all(folder);
}

TEST(CheckpointIntegrity, TruncatedFileIsRefused) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    for (int trial = 0; trial < 4; trial++) {
        const std::string path = save_step(folder, 2, seed);
        const auto size = std::filesystem::file_size(path);
        const auto kept = trial == 0 ? 4 : 8 + rng() % (size - 8);  // the HDF5 signature cut, or kept
        std::filesystem::resize_file(path, kept);
        const std::string why = error_of([&] { verify_checkpoint(path); });
        EXPECT_EQ(why.rfind(path + ": truncated or corrupt checkpoint", 0), 0u)
            << "kept " << kept << " of " << size << " bytes, seed " << seed << ": " << why;
    }
    std::filesystem::remove_all(folder);
}

TEST(CheckpointIntegrity, CheckpointWithoutChecksumsLoadsWithANote) {
    const uint64_t seed = fresh_seed();
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    const std::string path = save_step(folder, 5, seed);
    {  // as ringlm wrote checkpoints before checksums: no crc32c attributes anywhere
        hdf5::File file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), path);
        for (const std::string& name : hdf5::dataset_names(file))
            ASSERT_GE(H5Adelete_by_name(file.id(), name.c_str(), "crc32c", H5P_DEFAULT), 0) << name;
        ASSERT_GE(H5Adelete(file.id(), "crc32c"), 0);
    }
    EXPECT_FALSE(verify_checkpoint(path));
    Saved loaded{make_llama(tiny_model_config(61, 64)), {}};
    loaded.optimizer = make_adamw(loaded.model, AdamWSettings{});
    ::testing::internal::CaptureStdout();
    load_checkpoint(path, loaded.model, &loaded.optimizer);
    const std::string printed = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(printed, "note: " + path + " has no checksums (written before ringlm stored them): loaded unverified\n");
    EXPECT_TRUE(bitwise_equal(loaded.model.parameters, random_state(seed + 5).model.parameters));

    // With checksums, a dataset whose checksum was removed is refused.
    const std::string second = save_step(folder, 6, seed);
    {
        hdf5::File file(H5Fopen(second.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), second);
        ASSERT_GE(H5Adelete_by_name(file.id(), "optimizer/v", "crc32c", H5P_DEFAULT), 0);
    }
    EXPECT_EQ(error_of([&] { verify_checkpoint(second); }),
              second + ": /optimizer/v: checksum missing: the file is corrupt");
    std::filesystem::remove_all(folder);
}

TEST(CheckpointIntegrity, LatestSkipsCorruptNewest) {
    const uint64_t seed = fresh_seed();
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    EXPECT_EQ(latest_checkpoint(folder), std::nullopt);
    for (int64_t step : {1, 2, 3}) save_step(folder, step, seed);
    EXPECT_EQ(latest_checkpoint(folder), checkpoint_path(folder, 3));
    flip_stored_byte(checkpoint_path(folder, 3), "/model/layers.0.attention.wq", 5);
    std::filesystem::resize_file(checkpoint_path(folder, 2), std::filesystem::file_size(checkpoint_path(folder, 2)) / 2);
    ::testing::internal::CaptureStdout();
    const std::optional<std::string> latest = latest_checkpoint(folder);
    const std::string printed = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(latest, checkpoint_path(folder, 1));
    const std::string using_1 = "; skipped, using " + checkpoint_path(folder, 1) + "\n";
    EXPECT_NE(printed.find("warning: " + checkpoint_path(folder, 3) +
                           ": /model/layers.0.attention.wq: checksum mismatch"), std::string::npos) << printed;
    EXPECT_NE(printed.find("warning: " + checkpoint_path(folder, 2) + ": truncated or corrupt"), std::string::npos)
        << printed;
    EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 2) << printed;
    EXPECT_NE(printed.find(using_1), std::string::npos) << printed;

    // Nothing verifies: refused, naming the folder, rather than silently starting over.
    flip_stored_byte(checkpoint_path(folder, 1), "/optimizer/m", 0);
    const std::string why = error_of([&] { latest_checkpoint(folder); });
    EXPECT_EQ(why.rfind(folder + ": none of its 3 checkpoint(s) verifies, the newest: " + checkpoint_path(folder, 3), 0),
              0u) << why;
    std::filesystem::remove_all(folder);
}

std::vector<int64_t> steps_in(const std::string& folder) {
    std::vector<int64_t> steps;
    for (int64_t step = 0; step <= 20; step++)
        if (std::filesystem::exists(checkpoint_path(folder, step))) steps.push_back(step);
    return steps;
}

TEST(CheckpointIntegrity, PruneKeepsNewestAndTheLastVerified) {
    const uint64_t seed = fresh_seed();
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    for (int64_t step = 1; step <= 5; step++) save_step(folder, step, seed);
    prune_checkpoints(folder, 0);  // 0 = keep all
    EXPECT_EQ(steps_in(folder), (std::vector<int64_t>{1, 2, 3, 4, 5}));
    prune_checkpoints(folder, 3);
    EXPECT_EQ(steps_in(folder), (std::vector<int64_t>{3, 4, 5}));
    // The two newest corrupt: keeping 2 would leave nothing to resume from; step 3 stays.
    save_step(folder, 6, seed);
    flip_stored_byte(checkpoint_path(folder, 6), "/model/norm", 1);
    flip_stored_byte(checkpoint_path(folder, 5), "/optimizer/v", 11);
    ::testing::internal::CaptureStdout();
    prune_checkpoints(folder, 2);
    const std::string printed = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(steps_in(folder), (std::vector<int64_t>{4, 5, 6})) << "4 verifies and is beyond the 2 newest: kept";
    EXPECT_EQ(printed, "checkpoint: kept " + checkpoint_path(folder, 4) +
                           " beyond save_total_limit 2: the newer ones do not verify\n");
    ::testing::internal::CaptureStdout();
    prune_checkpoints(folder, 1);
    ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(steps_in(folder), (std::vector<int64_t>{4, 6}));
    std::filesystem::remove_all(folder);
}

TEST(CheckpointIntegrity, FullDiskLeavesThePreviousCheckpoint) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const std::string folder = make_temp_folder("ringlm_ckpt_");
    bytes_written = 0;
    const std::string first = save_step(folder, 1, seed);
    const int64_t save_bytes = bytes_written;  // what one save writes (the file has gaps: less than its size)
    for (int trial = 0; trial < 6; trial++) {
        // Room for part of the next checkpoint: none, all but its last write (HDF5's metadata
        // at close), or a random part of its tensors.
        disk_bytes_left = trial == 0 ? 0
                          : trial == 1 ? save_bytes - 1
                                       : static_cast<int64_t>(rng() % static_cast<uint64_t>(save_bytes));
        const int64_t room = disk_bytes_left;
        const std::string why = error_of([&] { save_step(folder, 2, seed); });
        disk_bytes_left = -1;
        const std::string second = checkpoint_path(folder, 2);
        EXPECT_EQ(why.rfind(second + ": no space left on device while saving the checkpoint", 0), 0u)
            << room << " bytes free, seed " << seed << ": " << why;
        EXPECT_FALSE(std::filesystem::exists(second + ".tmp")) << "the partial file stays";
        EXPECT_FALSE(std::filesystem::exists(second));
        EXPECT_EQ(latest_checkpoint(folder), first);
        EXPECT_TRUE(verify_checkpoint(first));
        std::filesystem::remove(second);  // in case it was saved after all
    }
    // And with room again the save goes through.
    save_step(folder, 2, seed);
    EXPECT_TRUE(verify_checkpoint(checkpoint_path(folder, 2)));
    std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace ringlm
