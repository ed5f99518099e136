// Tokenizers against known encodings, an independent Python reference (tests/reference/
// llama2c_tokenizer.py, the plain quadratic algorithm of llama2.c), and round trips.
#include "data/tokenizer.h"

#include "data_test_util.h"
#include "test_data.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <fstream>
#include <sstream>

namespace ringlm {
namespace {

using testing::source_path;
using testing::read_file_bytes;
using testing::TemporaryFile;
using testing::write_file_bytes;

// The first paragraph (blank-line separated) of a novel between 600 and 1200 bytes long.
std::string austen_paragraph(const std::string& novel) {
    std::string text = read_file_bytes(source_path("data/austen/" + novel));
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find("\n\n", start);
        if (end == std::string::npos) end = text.size();
        if (end - start >= 600 && end - start <= 1200) return text.substr(start, end - start);
        start = end + 2;
    }
    ADD_FAILURE() << "no paragraph of 600..1200 bytes in " << novel;
    return "";
}

// The reference encoder's ids (BOS first) for each text, run with Debian's python3.
std::vector<std::vector<int32_t>> reference_encode(const std::string& tokenizer_path, const std::vector<std::string>& texts) {
    std::vector<std::unique_ptr<TemporaryFile>> files;
    std::string command = "/usr/bin/python3 " + source_path("tests/reference/llama2c_tokenizer.py") + " " + tokenizer_path;
    for (size_t i = 0; i < texts.size(); i++) {
        files.push_back(std::make_unique<TemporaryFile>("tokenizer_text_" + std::to_string(i)));
        write_file_bytes(files.back()->path, texts[i]);
        command += " " + files.back()->path;
    }
    std::FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr) << command;
    std::string output;
    char buffer[4096];
    size_t got;
    while (pipe && (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
    int status = pipe ? pclose(pipe) : -1;
    EXPECT_EQ(status, 0) << command;
    std::vector<std::vector<int32_t>> ids;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream numbers(line);
        ids.emplace_back();
        int32_t id;
        while (numbers >> id) ids.back().push_back(id);
    }
    EXPECT_EQ(ids.size(), texts.size()) << "reference output:\n" << output;
    return ids;
}

const std::vector<std::string> tricky_strings = {
    "Once upon a time",
    "I believe the meaning of life is",
    "naïve café — 東京",
    "  two leading spaces, trailing space ",
    "\nnewline first\n\nthen a blank line\ttab",
    "emoji 🙂🚀🌍 and ümlauts, ß, Ωμέγα, русский, 𝕜",  // 🌍 and 𝕜: 4-byte pieces of the Llama-2 vocabulary
    std::string("stray continuation \x80\x80 and invalid \xff\xfe bytes, five continuations \xe6\x80\x80\x80\x80"),
    "x",
    // runs of one character: overlapping equal pairs, where the leftmost-first tie rule decides
    "aaaaaaa  lllllll       seven spaces, !!!!!!!!! ===== ....... ooooo",
};

TEST(Tokenizer, Llama2KnownEncoding) {
    auto tokenizer = load_tokenizer(source_path("data/llama2_tokenizer.bin"), 32000);
    EXPECT_EQ(tokenizer->vocab_size(), 32000);
    std::vector<int32_t> expected = {1, 306, 4658, 278, 6593, 310, 2834, 338};
    EXPECT_EQ(tokenizer->encode("I believe the meaning of life is", true, false), expected);
    std::vector<int32_t> with_eos = expected;
    with_eos.push_back(eos_id);
    EXPECT_EQ(tokenizer->encode("I believe the meaning of life is", true, true), with_eos);
    EXPECT_EQ(tokenizer->decode(expected), "I believe the meaning of life is");
    // without BOS the dummy prefix's space stays, as in llama2.c
    EXPECT_EQ(tokenizer->decode(std::vector<int32_t>(expected.begin() + 1, expected.end())), " I believe the meaning of life is");
    EXPECT_EQ(tokenizer->encode("", true, false), std::vector<int32_t>{bos_id});
}

TEST(Tokenizer, Tok512OnceUponATime) {
    auto tokenizer = load_tokenizer(source_path("data/stories260K/tok512.bin"), 512);
    std::vector<int32_t> ids = tokenizer->encode("Once upon a time", true, false);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_LE(ids.size(), 8u);  // 16 characters: merges must have happened
    EXPECT_EQ(ids[0], bos_id);
    for (size_t i = 1; i < ids.size(); i++) {
        EXPECT_GT(ids[i], first_byte_id + 255) << "no byte fallback expected for plain ASCII";
        EXPECT_LT(ids[i], 512);
    }
    EXPECT_EQ(tokenizer->decode(ids), "Once upon a time");
    EXPECT_EQ(ids, reference_encode(source_path("data/stories260K/tok512.bin"), {"Once upon a time"}).at(0));
}

TEST(Tokenizer, MatchesPythonReference) {
    std::vector<std::string> texts = tricky_strings;
    texts.push_back(austen_paragraph("prideprejudice.txt"));
    texts.push_back(austen_paragraph("persuasion.txt"));
    for (const char* file : {"data/llama2_tokenizer.bin", "data/stories260K/tok512.bin"}) {
        auto tokenizer = load_tokenizer(source_path(file));
        auto expected = reference_encode(source_path(file), texts);
        ASSERT_EQ(expected.size(), texts.size());
        for (size_t i = 0; i < texts.size(); i++)
            EXPECT_EQ(tokenizer->encode(texts[i], true, false), expected[i]) << file << " on text " << i << ": " << texts[i];
    }
}

TEST(Tokenizer, RoundTrips) {
    std::vector<std::string> texts = tricky_strings;
    texts.push_back(austen_paragraph("emma.txt"));
    texts.push_back(austen_paragraph("mansfieldpark.txt"));
    texts.push_back(std::string("with a NUL \0 byte", 17));
    texts.push_back("");
    for (const char* spec : {"data/llama2_tokenizer.bin", "data/stories260K/tok512.bin", "bytes"}) {
        auto tokenizer = load_tokenizer(std::string(spec) == "bytes" ? spec : source_path(spec));
        for (const std::string& text : texts) {
            std::vector<int32_t> ids = tokenizer->encode(text, true, true);
            for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tokenizer->vocab_size()) << spec << ": id " << id;
            EXPECT_EQ(tokenizer->decode(ids), text) << spec;
        }
    }
}

TEST(Tokenizer, BytesRoundTripsRandomBytes) {
    uint64_t seed = testing::fresh_seed();
    std::mt19937_64 rng(seed);
    auto tokenizer = load_tokenizer("bytes");
    EXPECT_EQ(tokenizer->vocab_size(), 259);
    EXPECT_EQ(tokenizer->name(), "bytes");
    std::string text(4096, '\0');
    for (char& c : text) c = static_cast<char>(rng() & 0xFF);
    std::vector<int32_t> ids = tokenizer->encode(text, true, true);
    ASSERT_EQ(ids.size(), text.size() + 2) << "seed " << seed;
    EXPECT_EQ(ids.front(), bos_id);
    EXPECT_EQ(ids.back(), eos_id);
    for (size_t i = 0; i < text.size(); i++)
        ASSERT_EQ(ids[i + 1], static_cast<unsigned char>(text[i]) + 3) << "byte " << i << ", seed " << seed;
    EXPECT_EQ(tokenizer->decode(ids), text) << "seed " << seed;
    // the byte ids are the llama2.c byte pieces: both decode them to the same byte
    auto llama2 = load_tokenizer(source_path("data/stories260K/tok512.bin"));
    for (int32_t id = first_byte_id; id < first_byte_id + 256; id++) EXPECT_EQ(llama2->decode(-1, id), tokenizer->decode(-1, id));
}

// A whole novel in one call: the merge loop must not be quadratic.
TEST(Tokenizer, EncodesANovelQuickly) {
    std::string novel = read_file_bytes(source_path("data/austen/persuasion.txt"));
    auto tokenizer = load_tokenizer(source_path("data/stories260K/tok512.bin"), 512);
    auto start = std::chrono::steady_clock::now();
    std::vector<int32_t> ids = tokenizer->encode(novel, true, false);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("persuasion.txt: %zu bytes -> %zu tokens in %.3f s\n", novel.size(), ids.size(), seconds);
    EXPECT_LT(seconds, 5.0);
    EXPECT_LT(ids.size(), novel.size() * 6 / 10);  // tok512 makes about 1.8 bytes a token of Austen
    EXPECT_EQ(tokenizer->decode(ids), novel);
}

// The byte offset where each record of a llama2.c tokenizer file starts, walked here from the
// format (int32 header, then float32 score, int32 length, bytes), not by the loader.
std::vector<size_t> record_offsets(const std::string& bytes) {
    std::vector<size_t> offsets;
    for (size_t offset = 4; offset < bytes.size();) {
        offsets.push_back(offset);
        int32_t length = 0;
        std::memcpy(&length, bytes.data() + offset + 4, 4);
        offset += 8 + static_cast<size_t>(length);
    }
    return offsets;
}

// Every way a tokenizer file can be damaged is refused, naming the `where` given, the token id
// and the byte offset of its record.
TEST(Tokenizer, ValidatesEveryRecord) {
    using testing::expect_error_mentions;
    testing::TempDir dir;
    const std::string bytes = read_file_bytes(source_path("data/stories260K/tok512.bin"));
    const std::vector<size_t> offsets = record_offsets(bytes);
    ASSERT_EQ(offsets.size(), 512u);
    const std::string where = "x.yaml: tokenizer 'tok.bin'";
    auto load = [&](const std::string& content, int64_t vocab_size) {
        const std::string path = dir.write("tok.bin", content);
        return [=] { load_tokenizer(path, vocab_size, where); };
    };
    // cut at a record boundary: whole records, but 500 of the model's 512
    expect_error_mentions(load(bytes.substr(0, offsets[500]), 512),
                          {where, "ends after 500 tokens", fmt::format("byte {}", offsets[500]), "512"});
    // cut inside token 300's record
    expect_error_mentions(load(bytes.substr(0, offsets[300] + 6), 512),
                          {where, "truncated at token 300", fmt::format("byte {} of {}", offsets[300], offsets[300] + 6)});
    // two bytes after the 512th token
    expect_error_mentions(load(bytes + "xy", 512),
                          {where, "2 bytes follow", "512 tokens", fmt::format("byte {} of {}", bytes.size(), bytes.size() + 2)});
    // token 300's length beyond the header's max_token_length
    std::string long_piece = bytes;
    const int32_t huge = 1 << 20;
    std::memcpy(long_piece.data() + offsets[300] + 4, &huge, 4);
    expect_error_mentions(load(long_piece, 512),
                          {where, "corrupt at token 300", fmt::format("byte {}", offsets[300]), "piece length 1048576"});
    // token 7's score NaN
    std::string nan_score = bytes;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(nan_score.data() + offsets[7], &nan, 4);
    expect_error_mentions(load(nan_score, 512), {where, "corrupt at token 7", fmt::format("byte {}", offsets[7]), "NaN"});
    // a header no llama2.c file has
    std::string bad_header = bytes;
    const int32_t zero = 0;
    std::memcpy(bad_header.data(), &zero, 4);
    expect_error_mentions(load(bad_header, 512), {where, "no valid header", "found 0"});
    // the 32000-token Llama 2 tokenizer for a 512-token model: what follows the 512th is refused
    expect_error_mentions([&] { load_tokenizer(source_path("data/llama2_tokenizer.bin"), 512, where); },
                          {where, "follow the model's 512 tokens", "larger vocabulary"});
    // a (sparse) 300 MB file is refused before it is read
    const std::string huge_file = dir.write("huge.bin", bytes);
    std::filesystem::resize_file(huge_file, 300u << 20);
    expect_error_mentions([&] { load_tokenizer(huge_file, 512, where); }, {where, "is 314572800 bytes", "the model?"});
    // the file intact loads, and without a vocabulary size reads to the end
    EXPECT_EQ(load_tokenizer(dir.write("tok.bin", bytes), 512)->vocab_size(), 512);
    EXPECT_EQ(load_tokenizer(dir.write("tok.bin", bytes))->vocab_size(), 512);
}

// sha256() is what coreutils' sha256sum says of the file (the tokenizer_sha256 attribute a
// user can check by hand); "bytes" has no file and no hash.
TEST(Tokenizer, Sha256IsTheFiles) {
    for (const char* file : {"data/stories260K/tok512.bin", "data/llama2_tokenizer.bin"}) {
        const std::string path = source_path(file);
        std::FILE* pipe = popen(("sha256sum " + path).c_str(), "r");
        ASSERT_NE(pipe, nullptr);
        char hex[65] = {};
        const size_t got = std::fread(hex, 1, 64, pipe);
        pclose(pipe);
        EXPECT_EQ(load_tokenizer(path)->sha256(), std::string(hex, got)) << file;
    }
    EXPECT_EQ(load_tokenizer("bytes")->sha256(), "");
}

TEST(Tokenizer, ErrorsNameTheFileAndTheProblem) {
    auto expect_error = [](const std::function<void()>& load, const std::vector<std::string>& parts) {
        try {
            load();
            ADD_FAILURE() << "no error; expected one mentioning " << parts.at(0);
        } catch (const Error& error) {
            for (const std::string& part : parts) EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
        }
    };
    expect_error([] { load_tokenizer("no/such/tokenizer.bin"); }, {"no/such/tokenizer.bin", "cannot open"});

    std::string tok512 = source_path("data/stories260K/tok512.bin");
    expect_error([&] { load_tokenizer(tok512, 32000); }, {tok512, "512 tokens", "32000"});
    expect_error([&] { load_tokenizer("bytes", 100); }, {"bytes", "100"});

    // cut into the last token's bytes: 511 tokens parse, the 512th is truncated
    TemporaryFile truncated("tok512_truncated.bin");
    std::string bytes = read_file_bytes(tok512);
    write_file_bytes(truncated.path, bytes.substr(0, bytes.size() - 2));
    expect_error([&] { load_tokenizer(truncated.path); }, {truncated.path, "truncated", "token 511"});
    expect_error([&] { load_tokenizer(source_path("data/llama2_tokenizer.bin"))->decode(-1, 32000); }, {"32000", "outside"});
}

}  // namespace
}  // namespace ringlm
