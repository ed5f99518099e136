// `ringlm prepare`: folders of text (whole file and paragraph split), JSONL with text and with
// pre-tokenized ids and labels, every refusal of a bad JSONL line naming file:line and the
// field, and no output at all after a failure. The expected ids are built here from the bytes
// of the inputs, independently of the code that splits and writes them.
#include "data/prepare.h"
#include "data/token_dataset.h"
#include "data_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ringlm {
using namespace ringlm::testing;

// Byte b -> b + 3, with BOS 1 and EOS 2, vocabulary 259.
static TextEncoder byte_encoder() {
    TextEncoder encoder;
    encoder.encode = [](std::string_view text) {
        std::vector<int32_t> ids{1};
        for (unsigned char byte : text) ids.push_back(int32_t(byte) + 3);
        ids.push_back(2);
        return ids;
    };
    encoder.vocab_size = 259;
    encoder.name = "bytes-test";
    return encoder;
}

// The reference ids of `text`, written out by hand.
static std::vector<int32_t> expected_ids(const std::string& text) {
    std::vector<int32_t> ids(text.size() + 2);
    ids.front() = 1;
    ids.back() = 2;
    for (size_t i = 0; i < text.size(); i++) ids[i + 1] = static_cast<unsigned char>(text[i]) + 3;
    return ids;
}

static PrepareOptions quiet(TextSplit split = TextSplit::whole_file) {
    PrepareOptions options;
    options.split = split;
    options.verbose = false;
    return options;
}

static std::vector<std::string> files_in(const std::filesystem::path& folder) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(Prepare, FolderOfTextFilesOneDocumentPerFile) {
    TempDir dir;
    // Written out of order and nested: documents come in sorted path order.
    dir.write("corpus/b.txt", "second file\n");
    dir.write("corpus/a.txt", "first file\n\nstill the first file");
    dir.write("corpus/sub/c.txt", "third, nested");
    dir.write("corpus/empty.txt", " \n\n");     // blank: no document
    dir.write("corpus/notes.md", "not text input");  // not *.txt: ignored
    const std::string output = dir.file("out/corpus.h5");

    const PrepareSummary summary = prepare_dataset({dir.file("corpus")}, output, byte_encoder(), quiet());
    const std::vector<std::string> texts{"first file\n\nstill the first file", "second file\n", "third, nested"};
    TokenDataset dataset(output);
    dataset.validate_tokens(259);
    ASSERT_EQ(dataset.num_documents(), 3);
    EXPECT_FALSE(dataset.has_labels());
    EXPECT_EQ(dataset.vocab_size(), 259);
    EXPECT_EQ(dataset.tokenizer(), "bytes-test");
    int64_t tokens = 0, longest = 0;
    for (int d = 0; d < 3; d++) {
        EXPECT_EQ(dataset.read_document(d).input_ids, expected_ids(texts[d])) << "document " << d;
        tokens += texts[d].size() + 2;
        longest = std::max<int64_t>(longest, texts[d].size() + 2);
    }
    EXPECT_EQ(summary.documents, 3);
    EXPECT_EQ(summary.tokens, tokens);
    EXPECT_EQ(summary.max_document_length, longest);
    EXPECT_DOUBLE_EQ(summary.mean_document_length, tokens / 3.0);
    EXPECT_EQ(summary.output, output);
    EXPECT_EQ(files_in(dir.file("out")), std::vector<std::string>{"corpus.h5"});  // no temporary left
    const std::string line = format_summary(summary);
    for (const std::string& piece : {std::string("3 documents"), fmt::format("{} tokens", tokens),
                                     std::string("bytes-test"), output})
        EXPECT_NE(line.find(piece), std::string::npos) << piece << " missing from: " << line;
}

TEST(Prepare, ParagraphSplit) {
    TempDir dir;
    const std::string input = dir.write("book.txt", "para one\nline two\n\n\n  \npara two\r\n\r\nlast\n");
    const std::string second = dir.write("more.txt", "\n\nonly paragraph");
    const std::string output = dir.file("book.h5");
    prepare_dataset({input, second}, output, byte_encoder(), quiet(TextSplit::paragraphs));
    const std::vector<std::string> texts{"para one\nline two", "para two", "last", "only paragraph"};
    TokenDataset dataset(output);
    ASSERT_EQ(dataset.num_documents(), int64_t(texts.size()));
    for (size_t d = 0; d < texts.size(); d++)
        EXPECT_EQ(dataset.read_document(d).input_ids, expected_ids(texts[d])) << "document " << d;
    // A tokenizer's failure names the file and the first line of the paragraph.
    TextEncoder failing = byte_encoder();
    failing.encode = [](std::string_view text) -> std::vector<int32_t> {
        if (text == "para two") fail("cannot encode");
        return byte_encoder().encode(text);
    };
    expect_error_mentions([&] { prepare_dataset({input}, dir.file("failed.h5"), failing, quiet(TextSplit::paragraphs)); },
                          {input + ":6: cannot encode"});
    EXPECT_EQ(text_split_from_name("paragraphs"), TextSplit::paragraphs);
    EXPECT_EQ(text_split_from_name("file"), TextSplit::whole_file);
    expect_error_mentions([] { text_split_from_name("lines"); }, {"'lines'", "file", "paragraphs"});
}

TEST(Prepare, JsonlWithTextAndWithPretokenizedIds) {
    TempDir dir;
    const std::string input = dir.write("chat.jsonl",
                                        "{\"text\": \"hi\"}\n"
                                        "{\"input_ids\": [5, 6, 7], \"labels\": [-100, 6, 258], \"id\": 17}\n"
                                        "\n"
                                        "{\"text\": \"yo\\nthere\", \"source\": \"web\"}\r\n"
                                        "{\"input_ids\": [0, 258]}\n");
    const std::string output = dir.file("chat.h5");
    // A small HDF5 chunk, so /labels starts after tokens are already in the file.
    PrepareOptions options = quiet();
    options.chunk_elements = 2;
    prepare_dataset({input}, output, byte_encoder(), options);

    TokenDataset dataset(output);
    dataset.validate_tokens(259);
    ASSERT_EQ(dataset.num_documents(), 4);
    ASSERT_TRUE(dataset.has_labels());
    const std::vector<std::vector<int32_t>> ids{expected_ids("hi"), {5, 6, 7}, expected_ids("yo\nthere"), {0, 258}};
    // Documents without labels: every token has loss (labels = ids).
    const std::vector<std::vector<int32_t>> labels{ids[0], {-100, 6, 258}, ids[2], ids[3]};
    const std::vector<Document> read = dataset.read_documents(std::vector<int64_t>{0, 1, 2, 3});
    for (int d = 0; d < 4; d++) {
        EXPECT_EQ(read[d].input_ids, ids[d]) << "document " << d;
        EXPECT_EQ(*read[d].labels, labels[d]) << "document " << d;
    }
}

// Line 1 is good, line 2 is `bad`: the Error names file:2 and every piece, and nothing is written.
static void expect_bad_jsonl_line(const std::string& bad, const std::vector<std::string>& pieces) {
    SCOPED_TRACE(bad);
    TempDir dir;
    const std::string input = dir.write("data/bad.jsonl", "{\"text\": \"fine\"}\n" + bad + "\n{\"text\": \"x\"}\n");
    const std::string output = dir.file("out/bad.h5");
    std::vector<std::string> all{input + ":2"};
    all.insert(all.end(), pieces.begin(), pieces.end());
    expect_error_mentions([&] { prepare_dataset({input}, output, byte_encoder(), quiet()); }, all);
    EXPECT_FALSE(std::filesystem::exists(output));
    EXPECT_TRUE(files_in(dir.file("out")).empty());  // no temporary left either
}

TEST(Prepare, RefusesBadJsonlLines) {
    expect_bad_jsonl_line("{\"text\": \"unterminated}", {"not valid JSON"});
    expect_bad_jsonl_line("[1, 2, 3]", {"expected a JSON object", "array"});
    expect_bad_jsonl_line("{\"txt\": \"typo\"}", {"neither \"text\" nor \"input_ids\""});
    expect_bad_jsonl_line("{\"text\": 42}", {"field \"text\"", "number", "expected a string"});
    expect_bad_jsonl_line("{\"text\": \"a\", \"input_ids\": [4]}", {"both \"text\" and \"input_ids\""});
    expect_bad_jsonl_line("{\"text\": \"a\", \"labels\": [4]}", {"\"labels\" needs \"input_ids\""});
    expect_bad_jsonl_line("{\"input_ids\": \"5 6\"}", {"field \"input_ids\"", "expected an array"});
    expect_bad_jsonl_line("{\"input_ids\": [5, \"6\"]}", {"input_ids[1]", "\"6\"", "integer"});
    expect_bad_jsonl_line("{\"input_ids\": [5, 6.5]}", {"input_ids[1]", "6.5", "integer"});
    expect_bad_jsonl_line("{\"input_ids\": [5, 300]}", {"input_ids[1] = 300", "outside", "(259)"});
    expect_bad_jsonl_line("{\"input_ids\": [-1]}", {"input_ids[0] = -1", "outside"});
    expect_bad_jsonl_line("{\"input_ids\": []}", {"\"input_ids\" is empty"});
    expect_bad_jsonl_line("{\"input_ids\": [5, 6], \"labels\": [5]}", {"\"labels\" has 1 entries for 2"});
    expect_bad_jsonl_line("{\"input_ids\": [5, 6], \"labels\": [5, -1]}", {"labels[1] = -1", "-100"});
}

TEST(Prepare, FailureLeavesNoFile) {
    TempDir dir;
    for (int d = 0; d < 20; d++) dir.write(fmt::format("corpus/{:02}.txt", d), fmt::format("document {}", d));
    const std::string output = dir.file("out/corpus.h5");
    // The tokenizer fails on the 15th document, after tokens have already gone to the file.
    TextEncoder failing = byte_encoder();
    int calls = 0;
    failing.encode = [&](std::string_view text) {
        if (++calls == 15) fail("tokenizer broke on '{}'", text);
        return byte_encoder().encode(text);
    };
    PrepareOptions options = quiet();
    options.chunk_elements = 16;
    expect_error_mentions([&] { prepare_dataset({dir.file("corpus")}, output, failing, options); },
                          {dir.file("corpus/14.txt"), "tokenizer broke on 'document 14'"});
    EXPECT_TRUE(files_in(dir.file("out")).empty());

    expect_error_mentions([&] { prepare_dataset({dir.file("nowhere")}, output, byte_encoder(), options); },
                          {dir.file("nowhere"), "no such file"});
    dir.write("blank/a.txt", "\n\n");
    expect_error_mentions([&] { prepare_dataset({dir.file("blank")}, output, byte_encoder(), options); },
                          {"no document", output});
    dir.write("no_text/a.md", "x");
    expect_error_mentions([&] { prepare_dataset({dir.file("no_text")}, output, byte_encoder(), options); },
                          {dir.file("no_text"), "no .txt files"});
    EXPECT_TRUE(files_in(dir.file("out")).empty());
}

TEST(Prepare, RefusesAnExistingOutputUnlessOverwrite) {
    TempDir dir;
    const std::string input = dir.write("a.txt", "new content");
    const std::string output = dir.write("out.h5", "precious");
    expect_error_mentions([&] { prepare_dataset({input}, output, byte_encoder(), quiet()); },
                          {output, "exists", "--overwrite"});
    EXPECT_EQ(files_in(dir.path), (std::vector<std::string>{"a.txt", "out.h5"}));

    PrepareOptions options = quiet();
    options.overwrite = true;
    prepare_dataset({input}, output, byte_encoder(), options);
    EXPECT_EQ(TokenDataset(output).read_document(0).input_ids, expected_ids("new content"));
}

}  // namespace ringlm
