// The BPE model of Hugging Face tokenizers (tokenizers/src/models/bpe): a word -> token ids by
// applying merges lowest rank first (leftmost on ties), optionally with SentencePiece's byte
// fallback. Works on bytes: a byte-level vocabulary is stored as the bytes its strings stand
// for (byte_level.h), so encoding never maps text to GPT-2's alphabet.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringlm {

// Lets a string -> id map be searched with a string_view.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using TokenIds = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct BpeMerge {
    int32_t rank;    // position in the merges list: lower merges first
    int32_t merged;  // the id of the two tokens joined
};

struct BpeModel {
    TokenIds id_of;  // token (bytes for byte-level, UTF-8 pieces otherwise) -> id
    std::unordered_map<uint64_t, BpeMerge> merges;  // (left id << 32 | right id) -> merge
    // byte_level: a word's symbols start as its bytes (byte_ids[b]); otherwise as its UTF-8
    // characters, a character outside the vocabulary becoming byte_ids of its bytes when
    // byte_fallback (<0xNN> tokens) or else unk_id (consecutive ones fused when fuse_unk).
    bool byte_level = false;
    bool byte_fallback = false;
    bool fuse_unk = false;
    bool ignore_merges = false;  // a word that is a token as a whole is that token (Llama 3)
    int32_t unk_id = -1;         // -1: a character with no token is an error
    std::array<int32_t, 256> byte_ids;

    // Appends the ids of `word` to `ids`.
    void encode_word(std::string_view word, std::vector<int32_t>& ids) const;
};

inline uint64_t merge_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace ringlm
