// The checks of train/input_checks.h: config-named paths, and token files against the model and
// the configured tokenizer, each refused in one line naming the config file, key and path.
#include "train/input_checks.h"
#include "train/training_run.h"

#include "data/token_dataset.h"
#include "data_test_util.h"
#include "test_data.h"

#include <gtest/gtest.h>

#include <cmath>

#include <sys/stat.h>

namespace ringlm {
namespace {

using testing::expect_error_mentions;
using testing::source_path;

// A token file of one document (ids below 259, so they fit every vocabulary here) with the
// given attributes; `sha256` "" writes none, as prepare did before it stored one.
std::string token_file(const testing::TempDir& dir, const std::string& name, int64_t vocab_size,
                       const std::string& tokenizer, const std::string& sha256) {
    const std::string path = dir.file(name);
    TokenDatasetWriter writer(path, vocab_size, tokenizer, int64_t(1) << 20, sha256);
    const std::vector<int32_t> ids = {1, 70, 80, 258, 2};
    writer.add_document(ids);
    writer.finish();
    return path;
}

// A config of x.yaml with these keys and, unless they name a base_model, a small model_config.
Config config_with(const std::string& yaml) {
    const bool base_model = yaml.find("base_model:") != std::string::npos;
    return parse_config((base_model ? "" : "model_config: {dim: 8, n_layers: 1, n_heads: 1, vocab_size: 512}\n") + yaml,
                        "x.yaml");
}

TEST(InputChecks, TokenFileAttributesAgainstModelAndTokenizer) {
    testing::TempDir dir;
    const std::string tok512 = source_path("data/stories260K/tok512.bin");
    const Config config = config_with("tokenizer: " + tok512 + "\n");
    const auto tokenizer = load_config_tokenizer(config, 512);
    const auto bytes = load_tokenizer("bytes");
    ASSERT_EQ(tokenizer->sha256().size(), 64u);
    auto check = [&](const std::string& path, const Tokenizer* with) {
        return [&config, path, with] {
            TokenDataset file(path);
            TokenFileChecks(config, 512, with, false).of("test_datasets")(3, file);
        };
    };
    const std::string same = token_file(dir, "same.h5", 512, "elsewhere/tok512.bin", tokenizer->sha256());
    EXPECT_NO_THROW(check(same, tokenizer.get())());  // the name differs, the content is the same
    const std::string smaller = token_file(dir, "smaller.h5", 259, "bytes", "");
    EXPECT_NO_THROW(check(smaller, bytes.get())());  // 259 ids in a 512-id model: some unused
    EXPECT_NO_THROW(check(smaller, nullptr)());      // no tokenizer configured: only vocab_size compared

    const std::string bigger = token_file(dir, "bigger.h5", 50000, "big.bin", "");
    expect_error_mentions(check(bigger, nullptr),
                          {"x.yaml: test_datasets[3].path '" + bigger + "'", "attribute vocab_size = 50000",
                           "model's vocab_size is 512", "ringlm prepare"});
    const std::string other_hash(64, 'a');
    const std::string other = token_file(dir, "other.h5", 512, "other.bin", other_hash);
    expect_error_mentions(check(other, tokenizer.get()),
                          {"x.yaml: test_datasets[3].path '" + other + "'", "'other.bin'", other_hash,
                           "'" + tok512 + "'", tokenizer->sha256(), "ringlm prepare --tokenizer " + tok512});
    // "bytes" against a tokenizer file, both ways round
    expect_error_mentions(check(smaller, tokenizer.get()), {"'bytes'", "'" + tok512 + "'"});
    expect_error_mentions(check(same, bytes.get()), {"'elsewhere/tok512.bin'", "'bytes'"});
    // written before tokenizer_sha256 existed: accepted (with a note on rank 0)
    const std::string old = token_file(dir, "old.h5", 512, "whatever.bin", "");
    EXPECT_NO_THROW(check(old, tokenizer.get())());
}

// With no tokenizer configured, the files of a run (datasets and test_datasets) must agree
// with the first one that names its tokenizer.
TEST(InputChecks, TokenFilesOfARunShareATokenizer) {
    testing::TempDir dir;
    const Config config = config_with("");
    const std::string hash_a(64, 'a'), hash_b(64, 'b');
    const std::string a = token_file(dir, "a.h5", 512, "a.bin", hash_a);
    const std::string a_again = token_file(dir, "a_again.h5", 512, "elsewhere/a.bin", hash_a);
    const std::string b = token_file(dir, "b.h5", 512, "b.bin", hash_b);
    const std::string old = token_file(dir, "old.h5", 512, "old.bin", "");
    const std::string bytes = token_file(dir, "bytes.h5", 259, "bytes", "");
    auto run = [&](const std::vector<std::string>& datasets, const std::vector<std::string>& test_datasets) {
        return [&config, datasets, test_datasets] {
            TokenFileChecks checks(config, 512, nullptr, false);
            for (size_t i = 0; i < datasets.size(); i++) checks.of("datasets")(i, TokenDataset(datasets[i]));
            for (size_t i = 0; i < test_datasets.size(); i++) checks.of("test_datasets")(i, TokenDataset(test_datasets[i]));
        };
    };
    EXPECT_NO_THROW(run({a, a_again, old}, {a})());  // old: cannot tell, not refused
    expect_error_mentions(run({a, old}, {b}),
                          {"x.yaml: test_datasets[0].path '" + b + "': was tokenized with 'b.bin'", hash_b,
                           "but datasets[0].path '" + a + "' with 'a.bin'", hash_a, "must share a tokenizer"});
    expect_error_mentions(run({bytes, a}, {}), {"datasets[1].path '" + a + "'", "datasets[0].path '" + bytes + "' with 'bytes'"});
}

TEST(InputChecks, ConfiguredTokenizerNamesTheKey) {
    testing::TempDir dir;
    std::ifstream in(source_path("data/stories260K/tok512.bin"), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string truncated = dir.write("tok.bin", bytes.substr(0, 3000));
    expect_error_mentions([&] { load_config_tokenizer(config_with("tokenizer: " + truncated + "\n"), 512); },
                          {"x.yaml: tokenizer '" + truncated + "': truncated at token"});
    EXPECT_EQ(load_config_tokenizer(config_with(""), 512), nullptr);
    EXPECT_EQ(load_config_tokenizer(config_with("tokenizer: bytes\n"), 512)->vocab_size(), 259);
}

TEST(InputChecks, EveryConfigPathNamesItsKey) {
    testing::TempDir dir;
    const std::string good = dir.write("good.h5", "x");
    const std::string loop = dir.file("loop.h5");
    std::filesystem::create_symlink(loop, loop);
    const std::string fifo = dir.file("fifo.bin");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    auto paths = [](const std::string& yaml) { return [yaml] { check_input_paths(config_with(yaml)); }; };
    EXPECT_NO_THROW(paths("datasets: [{path: " + good + "}]\nbase_model: " + dir.path.string() + "\n")());
    expect_error_mentions(paths("datasets: [{path: " + good + "}, {path: " + loop + "}]\n"),
                          {"x.yaml: datasets[1].path '" + loop + "': cannot read: Too many levels of symbolic links"});
    expect_error_mentions(paths("test_datasets: [{path: " + dir.path.string() + "}]\n"),
                          {"x.yaml: test_datasets[0].path '" + dir.path.string() + "': is a folder, expected a file"});
    expect_error_mentions(paths("tokenizer: " + fifo + "\n"), {"x.yaml: tokenizer '" + fifo + "': is not a regular file"});
    expect_error_mentions(paths("base_model: " + loop + "\n"), {"x.yaml: base_model '" + loop + "': cannot read"});
    expect_error_mentions(paths("base_model: " + dir.file("none.bin") + "\n"),
                          {"x.yaml: base_model '" + dir.file("none.bin") + "' does not exist"});
    expect_error_mentions(paths("resume_from_checkpoint: " + fifo + "\n"),
                          {"x.yaml: resume_from_checkpoint '" + fifo + "': is not a regular file"});
    EXPECT_NO_THROW(paths("resume_from_checkpoint: auto\ntokenizer: bytes\n")());
    const std::string long_name = dir.file(std::string(300, 'x'));
    expect_error_mentions(paths("datasets: [{path: " + long_name + "}]\n"),
                          {"x.yaml: datasets[0].path '" + long_name + "': cannot read: File name too long"});
}

}  // namespace
}  // namespace ringlm

namespace ringlm {

// A step whose loss or gradient norm is NaN or infinite stops the run with one line naming the
// step, the rank and what was not finite; the loss is named first when both are.
TEST(StepChecks, NonFiniteLossOrGradientNormStopsTheRun) {
    auto error_of = [](auto&& body) -> std::string {
        try {
            body();
        } catch (const Error& error) {
            return error.what();
        }
        return "no error";
    };
    EXPECT_NO_THROW(check_step_finite(2.5, 0.7, 3, 0));
    const std::string loss = error_of([] { check_step_finite(NAN, INFINITY, 3, 1); });
    EXPECT_NE(loss.find("step 4: the loss is nan (rank 1)"), std::string::npos) << loss;
    const std::string norm = error_of([] { check_step_finite(2.5, INFINITY, 0, 2); });
    EXPECT_NE(norm.find("step 1: the gradient norm is inf (rank 2), so the update was skipped"), std::string::npos)
        << norm;
}

}  // namespace ringlm
