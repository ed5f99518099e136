// The inputs `make fuzz` found to break a parser (fuzz/corpus/*/regression_*), as plain tests:
// each must now be refused with a ringlm::Error naming the file and what is wrong, where it
// used to escape as another exception, pass a negative size, or allocate by an unbacked size.
#include "data/prepare.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"
#include "data_test_util.h"
#include "model/safetensors.h"
#include "rl/prompts.h"
#include "rl/reward_command.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ringlm {
namespace {

using testing::expect_error_mentions;

std::string safetensors_bytes(const std::string& header, const std::string& data) {
    const uint64_t length = header.size();
    std::string file(reinterpret_cast<const char*>(&length), 8);
    return file + header + data;
}

SafetensorsLayout parse(const std::string& file) {
    return parse_safetensors_header(reinterpret_cast<const std::byte*>(file.data()), file.size(), "x.safetensors");
}

TEST(FuzzRegression, SafetensorsNumberBeyondDoubleIsAnError) {
    const std::string file = safetensors_bytes(R"({"a": {"dtype": "U8", "shape": [1e999], "data_offsets": [0, 1]}})", "z");
    expect_error_mentions([&] { parse(file); }, {"x.safetensors", "not JSON", "1e999"});
}

TEST(FuzzRegression, SafetensorsSizesBeyondInt64AreRefused) {
    // 2^64 - 2 read as int64 is -2: -2 x -2 x 1 byte matched the 4 bytes of data_offsets
    const std::string file = safetensors_bytes(
        R"({"a": {"dtype": "U8", "shape": [18446744073709551614, 18446744073709551614], "data_offsets": [0, 4]}})", "abcd");
    expect_error_mentions([&] { parse(file); }, {"x.safetensors", "tensor 'a'", "shape", "not a non-negative integer"});
    // the largest int64 itself is still a number the header may hold (here refused for its size)
    const std::string largest = safetensors_bytes(
        R"({"a": {"dtype": "U8", "shape": [9223372036854775807], "data_offsets": [0, 4]}})", "abcd");
    expect_error_mentions([&] { parse(largest); }, {"x.safetensors", "tensor 'a'", "data_offsets [0, 4)"});
}

TEST(FuzzRegression, PromptNumberBeyondDoubleIsAnError) {
    const auto tokenizer = load_tokenizer("bytes");
    std::istringstream lines("{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"weight\": 1e400}\n");
    std::vector<Prompt> prompts;
    expect_error_mentions([&] { read_prompts(lines, "p.jsonl", *tokenizer, 100, {}, prompts); },
                          {"p.jsonl:2", "not JSON"});
}

TEST(FuzzRegression, PrepareNumberBeyondDoubleIsAnError) {
    const auto tokenizer = load_tokenizer("bytes");
    TextEncoder encoder;
    encoder.encode = [&](std::string_view text) { return tokenizer->encode(text, true, true); };
    encoder.vocab_size = 259;
    encoder.name = "bytes";
    expect_error_mentions([&] { read_jsonl_line(R"({"input_ids": [1e999]})", "d.jsonl:3", encoder); },
                          {"d.jsonl:3", "not valid JSON", "number overflow"});
}

TEST(FuzzRegression, RewardLineWithNulIsNotANumber) {
    const std::string output("1.5\n2\0junk\n", 11);
    expect_error_mentions([&] { parse_reward_output("./score", output, 2); }, {"./score", "output line 2"});
    EXPECT_EQ(parse_reward_output("./score", "1.5\n -2 \n", 2), (std::vector<double>{1.5, -2.0}));
}

// A 1-D dataset of `dims` elements, written from `values` unless that is null.
void create_dataset(hid_t file, const char* name, hid_t type, hsize_t dims, const int64_t* values) {
    const hid_t space = H5Screate_simple(1, &dims, nullptr);
    const hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (values != nullptr) H5Dwrite(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(dataset);
    H5Sclose(space);
}

TEST(FuzzRegression, TokenFileDatasetDeclaredButNeverWrittenIsRefused) {
    testing::TempDir folder;
    // The sizes of a 2^40-token file in a file of a few kilobytes: HDF5 reads fill values for
    // what was never written.
    const hsize_t huge = hsize_t(1) << 40;
    const int64_t offsets[2] = {0, int64_t(huge)}, vocab_size = 512;
    const std::string unwritten_offsets = folder.file("unwritten_offsets.h5"), unwritten_ids = folder.file("unwritten_ids.h5");
    for (const std::string& path : {unwritten_offsets, unwritten_ids}) {
        const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (path == unwritten_offsets) {
            create_dataset(file, "input_ids", H5T_STD_I32LE, 0, nullptr);
            create_dataset(file, "doc_offsets", H5T_STD_I64LE, huge, nullptr);
        } else {
            create_dataset(file, "input_ids", H5T_STD_I32LE, huge, nullptr);
            create_dataset(file, "doc_offsets", H5T_STD_I64LE, 2, offsets);
        }
        const hid_t scalar = H5Screate(H5S_SCALAR);
        const hid_t attribute = H5Acreate2(file, "vocab_size", H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(attribute, H5T_NATIVE_INT64, &vocab_size);
        H5Aclose(attribute);
        H5Sclose(scalar);
        H5Fclose(file);
    }
    expect_error_mentions([&] { TokenDataset dataset(unwritten_offsets); },
                          {unwritten_offsets, "/doc_offsets", "not in the file"});
    expect_error_mentions([&] { TokenDataset dataset(unwritten_ids); }, {unwritten_ids, "/input_ids", "not in the file"});
}

}  // namespace
}  // namespace ringlm
