// The parts of a Hugging Face tokenizer: what hf_tokenizer_reader.cpp fills from a
// tokenizer.json and hf_tokenizer.cpp runs. Only those two files include this.
#pragma once

#include "data/bpe.h"
#include "data/hf_text_steps.h"
#include "data/hf_tokenizer.h"

#include <array>
#include <string>
#include <vector>

namespace ringlm {

struct AddedToken {
    std::string content;
    int32_t id;
};

struct HfTokenizer final : Tokenizer {
    std::string source;
    std::string file_sha256;  // of tokenizer.json's bytes (sha256sum's hex)
    BpeModel model;
    std::vector<AddedToken> added;
    std::array<std::vector<int32_t>, 256> added_by_first_byte;  // indices into added, longest first
    std::vector<NormalizerStep> normalizers;
    std::vector<PreTokenizerStep> pre_tokenizers;
    std::vector<int32_t> prefix_ids, suffix_ids;  // the post-processor's template around the text
    int32_t bos_token = -1, eos_token = -1;
    std::vector<int32_t> stop_tokens;
    std::vector<std::string> text_of_id;  // what decode gives for each id ("" for holes)
    std::vector<bool> is_added;
    // The decoder drops the leading space of the first token (Strip, Metaspace); after an added
    // token too when the text after each added token got its own "▁" (normalizer Prepend,
    // Metaspace "always"), so decode(encode(x)) == x.
    bool strip_first_space = false;
    bool strip_space_after_added = false;

    // The added token at `at` (the longest when several start there), or -1.
    int32_t added_at(std::string_view text, size_t at) const;
    // The ids of text[start, end), a stretch without added tokens: normalizers, pre-tokenizers, BPE.
    void encode_stretch(const std::string& text, size_t start, size_t end, std::vector<std::string>& words,
                        std::vector<int32_t>& ids) const;
    std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const override;
    std::string decode(int32_t previous, int32_t id) const override;
    int64_t vocab_size() const override { return static_cast<int64_t>(text_of_id.size()); }
    std::string name() const override { return source; }
    std::string sha256() const override { return file_sha256; }
    int32_t bos() const override { return bos_token; }
    int32_t eos() const override { return eos_token; }
    std::vector<int32_t> stop_ids() const override { return stop_tokens; }
};

}  // namespace ringlm
