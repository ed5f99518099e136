// jobs/: every config users copy (jobs/configs/*.yaml) passes the config reader and the
// training checks, resumes with `auto` (what a requeued job needs), and names only shipped
// model/tokenizer files; every batch script (jobs/*.sbatch) runs a config that exists and
// asks Slurm for the preemption signal and requeueing. build/ringlm has no validate command,
// so without this a typo in a job's config would first show on a cluster.
#include "config/config.h"
#include "util/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace ringlm {
namespace {

// The repository root: RINGLM_SOURCE_DIR (ctest sets it), else found from this file's path.
std::filesystem::path source_root() {
    if (const char* root = std::getenv("RINGLM_SOURCE_DIR")) return root;
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& folder, const std::string& extension) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder))
        if (entry.is_regular_file() && entry.path().extension() == extension) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

TEST(JobsConfigs, EveryConfigLoadsAndResumesAutomatically) {
    const std::filesystem::path root = source_root();
    const std::vector<std::filesystem::path> configs = files_in(root / "jobs" / "configs", ".yaml");
    // cpu, gpu_node, multi_node, sweep at least: an empty folder means a wrong root.
    ASSERT_GE(configs.size(), 4u) << "too few configs in " << (root / "jobs" / "configs");
    for (const std::filesystem::path& path : configs) {
        SCOPED_TRACE(path.string());
        Config config;
        try {
            config = load_config(path.string());
            validate_for_training(config);
        } catch (const Error& error) {
            FAIL() << error.what();
        }
        EXPECT_EQ(config.output.resume_from_checkpoint, "auto") << "a requeued job must resume: resume_from_checkpoint: auto";
        EXPECT_GT(config.output.save_steps, 0) << "long jobs should checkpoint on a schedule too";
        // Paths are relative to the submission folder, the repository root. Datasets may be
        // made later (make run / ringlm prepare); shipped model and tokenizer files must exist,
        // except those scripts/fetch_test_tokenizers.sh puts in .cache/npm (the chat demo's).
        if (!config.model.base_model.empty()) {
            EXPECT_TRUE(std::filesystem::exists(root / config.model.base_model)) << config.model.base_model;
        }
        if (!config.model.tokenizer.empty() && config.model.tokenizer != "bytes" &&
            !config.model.tokenizer.starts_with(".cache/npm/")) {
            EXPECT_TRUE(std::filesystem::exists(root / config.model.tokenizer)) << config.model.tokenizer;
        }
    }
}

TEST(JobsConfigs, EveryBatchScriptRunsAnExistingConfigAndCanBeRequeued) {
    const std::filesystem::path root = source_root();
    const std::vector<std::filesystem::path> scripts = files_in(root / "jobs", ".sbatch");
    ASSERT_GE(scripts.size(), 4u) << "too few batch scripts in " << (root / "jobs");
    const std::regex config_reference(R"(jobs/configs/[A-Za-z0-9_.-]+\.yaml)");
    for (const std::filesystem::path& path : scripts) {
        SCOPED_TRACE(path.string());
        const std::string text = read_file(path);
        auto first = std::sregex_iterator(text.begin(), text.end(), config_reference);
        ASSERT_NE(first, std::sregex_iterator()) << "names no jobs/configs/*.yaml";
        for (auto match = first; match != std::sregex_iterator(); ++match)
            EXPECT_TRUE(std::filesystem::exists(root / match->str())) << match->str();
        // Whole lines: "##SBATCH --requeue" is a comment to Slurm.
        std::vector<std::string> lines;
        std::istringstream stream(text);
        for (std::string line; std::getline(stream, line);) lines.push_back(line);
        for (const std::string wanted : {"#SBATCH --signal=USR1@120", "#SBATCH --requeue", "source jobs/ringlm_job.sh"})
            EXPECT_NE(std::find(lines.begin(), lines.end(), wanted), lines.end()) << "no line " << wanted;
    }
}

}  // namespace
}  // namespace ringlm
