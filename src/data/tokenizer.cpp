// Tokenizers: llama2.c's SentencePiece-BPE format and raw bytes. See tokenizer.h.
#include "data/tokenizer.h"

#include "util/error.h"
#include "util/sha256.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <queue>
#include <unordered_map>

namespace ringlm {

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
    std::string text;
    int32_t previous = -1;
    for (int32_t id : ids) {
        text += decode(previous, id);
        previous = id;
    }
    return text;
}

// ----------------------------------------------------------------------------
// bytes: byte b <-> id b + 3

namespace {

struct BytesTokenizer final : Tokenizer {
    std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const override {
        std::vector<int32_t> ids;
        ids.reserve(text.size() + 2);
        if (bos) ids.push_back(bos_id);
        for (char c : text) ids.push_back(static_cast<unsigned char>(c) + first_byte_id);
        if (eos) ids.push_back(eos_id);
        return ids;
    }
    std::string decode(int32_t previous, int32_t id) const override {
        if (id < 0 || id >= vocab_size())
            fail("tokenizer bytes: id {} is outside the vocabulary (0..{})", id, vocab_size() - 1);
        if (id < first_byte_id) return "";  // <unk>, BOS, EOS
        return std::string(1, static_cast<char>(id - first_byte_id));
    }
    int64_t vocab_size() const override { return first_byte_id + 256; }
    std::string name() const override { return "bytes"; }
    std::string sha256() const override { return ""; }
};

// ----------------------------------------------------------------------------
// llama2.c: pieces with scores; encoding as llama2.c's run.c encode()

// Lets the piece -> id map be searched with a string_view, without building a std::string.
struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view piece) const { return std::hash<std::string_view>{}(piece); }
};

struct Llama2cTokenizer final : Tokenizer {
    std::string path;
    std::string file_sha256;
    std::vector<std::string> pieces;  // id -> piece (spaces are plain ' ', not U+2581)
    std::vector<float> scores;        // id -> merge priority: the higher, the earlier
    std::unordered_map<std::string, int32_t, PieceHash, std::equal_to<>> id_of_piece;

    int32_t lookup(std::string_view piece) const {
        auto found = id_of_piece.find(piece);
        return found == id_of_piece.end() ? -1 : found->second;
    }

    std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const override;

    std::string decode(int32_t previous, int32_t id) const override {
        if (id < 0 || id >= vocab_size())
            fail("tokenizer {}: id {} is outside the vocabulary (0..{})", path, id, vocab_size() - 1);
        if (id == bos_id || id == eos_id) return "";
        // <0xNN> pieces stand for the raw byte NN (checked at load: ids 3..258)
        if (id >= first_byte_id && id < first_byte_id + 256) return std::string(1, static_cast<char>(id - first_byte_id));
        const std::string& piece = pieces[id];
        // after BOS, SentencePiece drops the leading space of the dummy prefix
        if (previous == bos_id && !piece.empty() && piece[0] == ' ') return piece.substr(1);
        return piece;
    }
    int64_t vocab_size() const override { return static_cast<int64_t>(pieces.size()); }
    std::string name() const override { return path; }
    std::string sha256() const override { return file_sha256; }
};

// llama2.c picks, again and again, the adjacent pair whose merged piece has the highest score
// (the leftmost on ties) by scanning every pair: quadratic in the text length. The same choice
// comes from a max-heap of candidate pairs keyed by (score, leftmost position), the symbols in
// a linked list, and stale candidates skipped when popped: O(n log n), so a whole novel
// encodes in a second or two with the same ids.
struct MergeCandidate {
    float score;
    int32_t left, right;              // symbol positions (original index of each symbol's first piece)
    int32_t left_id, right_id;        // the pair as it was when pushed; stale if either changed
    int32_t merged_id;
};
struct LowerPriority {
    bool operator()(const MergeCandidate& a, const MergeCandidate& b) const {
        if (a.score != b.score) return a.score < b.score;
        return a.left > b.left;
    }
};

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text, bool bos, bool eos) const {
    if (text.size() >= (1u << 30))
        fail("tokenizer {}: a text of {} bytes is too long to encode at once (split it into documents)", path, text.size());
    std::vector<int32_t> ids;
    ids.reserve(text.size() + 3);
    if (bos) ids.push_back(bos_id);
    // the dummy prefix: SentencePiece's add_dummy_prefix, only for non-empty text
    if (!text.empty()) {
        int32_t space = lookup(" ");
        ids.push_back(space >= 0 ? space : ' ' + first_byte_id);
    }
    // Each UTF-8 character (a lead byte and up to 3 continuation bytes, grouped exactly as
    // run.c does) becomes its piece, or its bytes when the vocabulary lacks it.
    size_t length = 0;
    for (size_t c = 0; c < text.size(); c++) {
        if ((static_cast<unsigned char>(text[c]) & 0xC0) != 0x80) length = 0;
        length++;
        bool continues = c + 1 < text.size() && (static_cast<unsigned char>(text[c + 1]) & 0xC0) == 0x80;
        if (continues && length < 4) continue;
        std::string_view character = text.substr(c + 1 - length, length);
        int32_t id = lookup(character);
        if (id >= 0) {
            ids.push_back(id);
        } else {
            for (char byte : character) ids.push_back(static_cast<unsigned char>(byte) + first_byte_id);
        }
        length = 0;
    }

    // Merge. llama2.c only takes pairs scoring above its initial best of -1e10.
    const int32_t n = static_cast<int32_t>(ids.size());
    std::vector<int32_t> next(n), previous(n);
    for (int32_t i = 0; i < n; i++) {
        next[i] = i + 1 < n ? i + 1 : -1;
        previous[i] = i - 1;
    }
    std::priority_queue<MergeCandidate, std::vector<MergeCandidate>, LowerPriority> candidates;
    std::string merged;
    auto push_candidate = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        merged.assign(pieces[ids[left]]);
        merged.append(pieces[ids[right]]);
        int32_t id = lookup(merged);
        if (id >= 0 && scores[id] > -1e10f) candidates.push({scores[id], left, right, ids[left], ids[right], id});
    };
    for (int32_t i = 0; i + 1 < n; i++) push_candidate(i, i + 1);
    while (!candidates.empty()) {
        MergeCandidate best = candidates.top();
        candidates.pop();
        bool stale = next[best.left] != best.right || ids[best.left] != best.left_id || ids[best.right] != best.right_id;
        if (stale) continue;
        // the left symbol becomes the merged piece; the right one leaves the list
        ids[best.left] = best.merged_id;
        int32_t after = next[best.right];
        next[best.left] = after;
        if (after >= 0) previous[after] = best.left;
        next[best.right] = -2;  // removed: no candidate can name it as its left symbol again
        ids[best.right] = -1;
        push_candidate(previous[best.left], best.left);
        push_candidate(best.left, after);
    }

    std::vector<int32_t> result;
    result.reserve(n + 1);
    for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = next[i]) result.push_back(ids[i]);
    if (eos) result.push_back(eos_id);
    return result;
}

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};

// The largest vocabularies in llama2.c's format (256k pieces) take a few MB; a file this large
// is something else (a model named as the tokenizer), refused before it is read into memory.
constexpr long max_tokenizer_bytes = 256l << 20;

std::string read_whole_file(const std::string& path, const std::string& where) {
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) fail("{}: cannot open: {} (give a llama2.c tokenizer file or \"bytes\")", where, std::strerror(errno));
    if (std::fseek(file.get(), 0, SEEK_END) == 0) {
        const long size = std::ftell(file.get());
        if (size > max_tokenizer_bytes)
            fail("{}: is {} bytes, more than any llama2.c tokenizer file (up to {}): is it the model?", where, size,
                 max_tokenizer_bytes);
        std::rewind(file.get());
    }
    std::string bytes;
    char buffer[1 << 16];
    size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.append(buffer, got);
    if (std::ferror(file.get())) fail("{}: cannot read: {}", where, std::strerror(errno));
    return bytes;
}

// No piece of a real vocabulary comes near this; a larger header is another kind of file.
constexpr int32_t max_sane_token_length = 1 << 16;

// The llama2.c layout: int32 max_token_length, then per token float32 score, int32 length and
// `length` bytes. run.c reads exactly the model's vocab_size tokens; so do we, and refuse what
// is left after them instead of ignoring it (a file cut short or of a bigger vocabulary).
void read_llama2c_records(Llama2cTokenizer& tokenizer, const std::string& bytes, int64_t vocab_size,
                          const std::string& where) {
    size_t offset = 0;
    auto read_bytes = [&](void* destination, size_t count) {
        if (bytes.size() - offset < count) return false;
        std::memcpy(destination, bytes.data() + offset, count);
        offset += count;
        return true;
    };
    int32_t max_token_length = 0;
    if (!read_bytes(&max_token_length, 4) || max_token_length <= 0 || max_token_length > max_sane_token_length)
        fail("{}: no valid header (int32 max_token_length in 1..{}, found {} in a file of {} bytes); not a llama2.c "
             "tokenizer file",
             where, max_sane_token_length, max_token_length, bytes.size());
    while (offset < bytes.size() && (vocab_size == 0 || int64_t(tokenizer.pieces.size()) < vocab_size)) {
        const size_t token = tokenizer.pieces.size(), record_offset = offset;
        float score = 0;
        int32_t length = 0;
        auto truncated = [&] {
            fail("{}: truncated at token {} (its record starts at byte {} of {})", where, token, record_offset,
                 bytes.size());
        };
        if (!read_bytes(&score, 4) || !read_bytes(&length, 4)) truncated();
        if (length < 0 || length > max_token_length)
            fail("{}: corrupt at token {} (byte {}): piece length {} outside 0..{} (the header's max_token_length)",
                 where, token, record_offset, length, max_token_length);
        if (bytes.size() - offset < size_t(length)) truncated();
        if (std::isnan(score)) fail("{}: corrupt at token {} (byte {}): its score is NaN", where, token, record_offset);
        tokenizer.pieces.emplace_back(bytes.data() + offset, length);
        tokenizer.scores.push_back(score);
        offset += length;
    }
    const int64_t count = tokenizer.vocab_size();
    if (vocab_size > 0 && count < vocab_size)
        fail("{}: ends after {} tokens (byte {}) but the model's vocabulary is {}: truncated, or the tokenizer of "
             "another model",
             where, count, bytes.size(), vocab_size);
    if (offset < bytes.size())
        fail("{}: {} bytes follow the model's {} tokens (from byte {} of {}): the tokenizer of a larger vocabulary, "
             "or trailing garbage",
             where, bytes.size() - offset, count, offset, bytes.size());
}

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int64_t vocab_size,
                                                  const std::string& where) {
    const std::string bytes = read_whole_file(path, where);
    auto tokenizer = std::make_unique<Llama2cTokenizer>();
    tokenizer->path = path;
    tokenizer->file_sha256 = sha256_hex(bytes);
    read_llama2c_records(*tokenizer, bytes, vocab_size, where);
    const int64_t count = tokenizer->vocab_size();
    if (count < first_byte_id + 256)
        fail("{}: holds {} tokens, fewer than the 259 of <unk>, <s>, </s> and the 256 byte pieces", where, count);
    for (int byte = 0; byte < 256; byte++) {
        std::string expected = fmt::format("<0x{:02X}>", byte);
        if (tokenizer->pieces[first_byte_id + byte] != expected)
            fail("{}: token {} is \"{}\" where the byte piece \"{}\" belongs (byte fallback needs ids 3..258)",
                 where, first_byte_id + byte, tokenizer->pieces[first_byte_id + byte], expected);
    }
    for (int64_t id = 0; id < count; id++) tokenizer->id_of_piece.emplace(tokenizer->pieces[id], static_cast<int32_t>(id));
    return tokenizer;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec, int64_t vocab_size, const std::string& where) {
    const std::string prefix = where.empty() ? "tokenizer " + spec : where;
    if (spec == "bytes") {
        auto tokenizer = std::make_unique<BytesTokenizer>();
        // a larger model vocabulary leaves ids unused, a smaller one cannot hold every byte
        if (vocab_size > 0 && vocab_size < tokenizer->vocab_size())
            fail("{}: needs {} ids but the model's vocabulary is {}", prefix, tokenizer->vocab_size(), vocab_size);
        return tokenizer;
    }
    return load_llama2c_tokenizer(spec, vocab_size, prefix);
}

}  // namespace ringlm
