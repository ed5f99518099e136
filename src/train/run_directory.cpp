#include "train/run_directory.h"

#include "train/checkpoint.h"
#include "util/atomic_file.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

namespace ringlm {

namespace fs = std::filesystem;

namespace {

bool is_checkpoint_name(const std::string& name) {
    static const std::regex pattern(R"(checkpoint-\d+\.h5(\.tmp)?)");
    return std::regex_match(name, pattern);
}

// What of an earlier run output_dir holds: its checkpoints and metrics.jsonl (config.yaml
// alone is what a run that died before its first step leaves; nothing to lose there).
struct EarlierRun {
    int checkpoints = 0;
    bool metrics = false;
    bool exists() const { return checkpoints > 0 || metrics; }
};

EarlierRun find_earlier_run(const std::string& output_dir) {
    EarlierRun run;
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(output_dir, error)) {
        const std::string name = entry.path().filename().string();
        if (is_checkpoint_name(name)) run.checkpoints++;
        if (name == "metrics.jsonl") run.metrics = true;
    }
    return run;
}

// output_dir itself, or the nearest folder above it that exists, must be a folder this
// process can create files in.
void check_output_dir_usable(const Config& config) {
    const std::string& output_dir = config.output.output_dir;
    std::error_code error;
    fs::path existing = fs::absolute(output_dir, error);
    while (!fs::exists(existing, error) && existing.has_relative_path()) existing = existing.parent_path();
    if (!fs::is_directory(existing, error)) {
        if (existing == fs::absolute(output_dir, error))
            fail_uniform("{}: output_dir '{}' is a file, not a folder; name a folder (it is created if missing)",
                         config.source, output_dir);
        fail_uniform("{}: output_dir '{}' cannot be created: '{}' is a file, not a folder", config.source, output_dir,
                     existing.string());
    }
    if (::access(existing.c_str(), W_OK | X_OK) != 0)
        fail_uniform("{}: output_dir '{}': cannot create files in '{}': {}", config.source, output_dir,
                     existing.string(), std::strerror(errno));
}

std::string utc_timestamp() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
}

// overwrite_output_dir: every file and folder of output_dir except earlier overwritten-*
// folders moves into output_dir/overwritten-<time>/ (a rename: same file system, no copy).
void move_earlier_run_aside(const std::string& output_dir) {
    const fs::path aside = fs::path(output_dir) / ("overwritten-" + utc_timestamp());
    std::error_code error;
    std::vector<fs::path> entries;
    for (const fs::directory_entry& entry : fs::directory_iterator(output_dir, error))
        if (!entry.path().filename().string().starts_with("overwritten-")) entries.push_back(entry.path());
    if (error) fail("output_dir '{}': cannot list: {}", output_dir, error.message());
    if (entries.empty()) return;
    fs::create_directory(aside, error);
    if (error) fail("output_dir '{}': cannot create '{}': {}", output_dir, aside.string(), error.message());
    for (const fs::path& entry : entries) {
        fs::rename(entry, aside / entry.filename(), error);
        if (error) fail("output_dir '{}': cannot move '{}' aside: {}", output_dir, entry.string(), error.message());
    }
    fmt::print("overwrite_output_dir: the earlier run's {} file(s) moved to {}\n", entries.size(), aside.string());
}

// A metrics.jsonl record belongs to the resumed run when its step (or eval_step) is at most
// the resumed step; a fresh start (step 0) rewrites every record. Lines that do not parse
// are the torn last line of a killed attempt.
bool record_kept(const std::string& line, int64_t resumed_step) {
    if (resumed_step == 0) return false;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) return false;
    for (const char* key : {"step", "eval_step"})
        if (record.contains(key) && record[key].is_number_integer() && record[key].get<int64_t>() > resumed_step)
            return false;
    return true;
}

void trim_metrics(const std::string& output_dir, int64_t resumed_step) {
    const fs::path path = fs::path(output_dir) / "metrics.jsonl";
    std::error_code error;
    if (!fs::exists(path, error)) return;
    std::ifstream in(path);
    if (!in) fail("output_dir '{}': cannot read {}: {}", output_dir, path.string(), std::strerror(errno));
    std::string kept, discarded, line;
    int64_t discarded_lines = 0;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (record_kept(line, resumed_step)) {
            kept += line + '\n';
        } else {
            discarded += line + '\n';
            discarded_lines++;
        }
    }
    if (discarded_lines == 0) return;
    const fs::path discarded_path = fs::path(output_dir) / "metrics.discarded.jsonl";
    std::ofstream(discarded_path, std::ios::app) << discarded;
    AtomicFile file(path.string());
    file.write(kept.data(), kept.size());
    file.commit();
    fmt::print("metrics.jsonl: {} record(s) after step {} (an attempt that stopped before its next checkpoint) moved to "
               "{}\n",
               discarded_lines, resumed_step, discarded_path.string());
}

}  // namespace

std::optional<std::string> check_run_directory(const Config& config) {
    check_output_dir_usable(config);
    const OutputSection& output = config.output;
    const std::string& resume = output.resume_from_checkpoint;
    std::error_code error;
    if (!resume.empty() && resume != "auto" && !fs::exists(resume, error))
        fail_uniform("{}: resume_from_checkpoint '{}' {}", config.source, resume,
                     error ? "cannot be read: " + error.message() : std::string("does not exist"));
    const EarlierRun earlier = find_earlier_run(output.output_dir);
    if (earlier.exists() && resume.empty() && !output.overwrite_output_dir)
        fail_uniform("{}: output_dir '{}' holds an earlier run ({} checkpoint(s){}): set resume_from_checkpoint: auto "
                     "to continue it, or overwrite_output_dir: true to start over (its files are moved to "
                     "{}/overwritten-<time>/, not deleted)",
                     config.source, output.output_dir, earlier.checkpoints, earlier.metrics ? ", metrics.jsonl" : "",
                     output.output_dir);
    if (resume == "auto") return latest_checkpoint(output.output_dir);
    if (!resume.empty()) return resume;
    return std::nullopt;
}

void open_run_directory(const Config& config, std::optional<int64_t> resumed_step) {
    const std::string& output_dir = config.output.output_dir;
    std::error_code error;
    fs::create_directories(output_dir, error);
    if (error) fail("{}: output_dir '{}' cannot be created: {}", config.source, output_dir, error.message());
    if (config.output.overwrite_output_dir) move_earlier_run_aside(output_dir);
    else if (!config.output.resume_from_checkpoint.empty()) trim_metrics(output_dir, resumed_step.value_or(0));
    const std::string yaml = to_yaml(config);
    AtomicFile file((fs::path(output_dir) / "config.yaml").string());
    file.write(yaml.data(), yaml.size());
    file.commit();
}

}  // namespace ringlm
