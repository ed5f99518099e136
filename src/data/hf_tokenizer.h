// Hugging Face tokenizers (tokenizer.json), as the Llama 2/3, Qwen2.5/Qwen3 and Mistral model
// folders ship them; README.md "Tokenizers" lists exactly what is supported. Two shapes:
//   - byte-level BPE (Llama 3, Qwen): ByteLevel pre-tokenizer (GPT-2's byte alphabet, see
//     byte_level.h) after a Split regex, merges by rank, ByteLevel decoder;
//   - SentencePiece-style BPE (Llama 2, Mistral): normalizer Prepend("▁") + Replace(" "->"▁")
//     or the Metaspace pre-tokenizer, merges, <0xNN> byte fallback, the matching decoder.
// Added tokens are matched in the raw text first (longest at the leftmost position), the text
// between them goes through normalizers, pre-tokenizers and the model; encode(text, true, _)
// adds what the post-processor's TemplateProcessing adds (Llama 3's <|begin_of_text|>, Llama 2's
// <s>; Qwen adds none). Anything else in the file is refused naming the file and JSON path.
//
// Text is UTF-8; invalid bytes are first replaced with U+FFFD (unicode_text.h valid_utf8), as
// Python and JavaScript strings hold them when a file is read with replacement: the Rust and
// JavaScript tokenizers only ever see valid Unicode. decode() gives back bytes (a byte-level
// token may hold part of a character), so decode(encode(x)) == x for valid UTF-8 x.
#pragma once

#include "data/tokenizer.h"

#include <memory>
#include <string>

namespace ringlm {

// A tokenizer.json's text and what its neighbours say about BOS/EOS: tokenizer_config.json
// (bos_token, eos_token) and config.json (eos_token_id: one id or a list, all of which end a
// generation). "" = absent.
struct HfTokenizerFiles {
    std::string tokenizer_json;
    std::string tokenizer_config_json;
    std::string model_config_json;
};

// Parses the files; `source` names them in errors and is what name() returns. The entry point
// for fuzzing: any input either parses or throws Error.
std::unique_ptr<Tokenizer> parse_hf_tokenizer(const HfTokenizerFiles& files, const std::string& source);

// `path`: a tokenizer.json, or a model folder holding one (tokenizer_config.json and
// config.json are read from the same folder when present).
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path);

// Whether open_tokenizer (tokenizer_files.h) reads `spec` as a Hugging Face tokenizer:
// a folder, or a file named *.json.
bool is_hf_tokenizer_spec(const std::string& spec);

}  // namespace ringlm
