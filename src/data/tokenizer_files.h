// The one place a tokenizer named in a config or on the command line is opened.
#pragma once

#include "data/tokenizer.h"

#include <memory>
#include <string>

namespace ringlm {

// `spec`: "bytes", a llama2.c tokenizer file (tokenizer.h), or a Hugging Face tokenizer.json or
// model folder holding one (hf_tokenizer.h). `vocab_size` is the model's vocabulary (0: no
// model): a llama2.c file must hold exactly that many tokens; a Hugging Face tokenizer at most
// that many ids (models pad their embedding: Qwen3's 151936 rows for 151669 tokens).
// `where` prefixes a llama2.c file's refusals (load_tokenizer); Hugging Face refusals name the
// file and JSON path themselves.
std::unique_ptr<Tokenizer> open_tokenizer(const std::string& spec, int64_t vocab_size = 0,
                                          const std::string& where = "");

// The tokenizer to use: `tokenizer` when given, else the base model's own when it is a Hugging
// Face folder holding a tokenizer.json, else "".
std::string tokenizer_or_model_default(const std::string& tokenizer, const std::string& base_model);

}  // namespace ringlm
