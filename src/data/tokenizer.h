// Tokenizers: text <-> token ids. Two implementations behind one small interface:
//   - llama2.c's SentencePiece-BPE format (tok512.bin, llama2_tokenizer.bin): encodes exactly
//     like llama2.c's run.c (dummy-prefix space, UTF-8 pieces, byte fallback, greedy merges
//     by score); see data/README.md for the file format.
//   - "bytes": byte b is id b+3, BOS=1, EOS=2, vocabulary 259; the same ids as the byte
//     pieces <0x00>..<0xFF> of the llama2.c vocabularies.
// Ids 0, 1, 2 are <unk>, BOS, EOS in both.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

constexpr int32_t unk_id = 0;
constexpr int32_t bos_id = 1;
constexpr int32_t eos_id = 2;
constexpr int32_t first_byte_id = 3;  // byte b <-> id b + 3

struct Tokenizer {
    virtual ~Tokenizer() = default;
    // Token ids of `text`, with BOS first / EOS last when asked.
    virtual std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const = 0;
    // The text of token `id` when it follows token `previous` (after BOS the leading space of
    // the dummy prefix is dropped, as llama2.c does). BOS and EOS decode to "".
    virtual std::string decode(int32_t previous, int32_t id) const = 0;
    virtual int64_t vocab_size() const = 0;
    // What load_tokenizer() was given ("bytes" or the file path): the HDF5 `tokenizer` attribute.
    virtual std::string name() const = 0;
    // SHA-256 of the tokenizer file (sha256sum's hex), "" for "bytes" (no file: the name says
    // it all): the HDF5 `tokenizer_sha256` attribute, so training can tell the tokenizer of a
    // token file from another one of the same vocabulary size.
    virtual std::string sha256() const = 0;
    // The BOS encode(text, true, _) puts first and the EOS encode(text, _, true) puts last (-1:
    // none; Qwen has no BOS), and the ids that end a generated text (llama2.c's stories end
    // with BOS or EOS; a Hugging Face model lists its own in config.json).
    virtual int32_t bos() const { return bos_id; }
    virtual int32_t eos() const { return eos_id; }
    virtual std::vector<int32_t> stop_ids() const { return {bos_id, eos_id}; }

    // The text of a sequence of ids; decode(encode(text, true, false)) == text.
    std::string decode(std::span<const int32_t> ids) const;
};

// `spec` is "bytes" or the path of a llama2.c tokenizer file. `vocab_size` is the model's
// vocabulary: the file must hold exactly that many tokens, whole, and nothing after them (0:
// read tokens until the end of the file); "bytes" needs at least 259. Every record is checked
// (length within the header's max_token_length, a score that is a number, the byte pieces at
// ids 3..258); a failure names the token id and its byte offset. `where` starts every message
// of the load ("" = "tokenizer PATH"; training passes the config file and key).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec, int64_t vocab_size = 0,
                                          const std::string& where = "");

}  // namespace ringlm
