// The inputs a config names, checked before any compute and against each other: every path
// (there, the kind the key wants, readable), the tokenizer file (whole, of the model's
// vocabulary), and each token file's attributes against the model and that tokenizer. Every
// message starts with the config file and the key: "x.yaml: datasets[0].path 'a.h5': ...".
// Each rank sees its own file system, so these throw plain Error: callers run them under
// check_together (parallel/collective_error.h) to stop every rank with the first rank's message.
#pragma once

#include "config/config.h"
#include "data/corpus.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>

namespace ringlm {

// base_model (a file, or a Hugging Face folder), tokenizer (unless "bytes"), datasets[i].path,
// test_datasets[i].path and resume_from_checkpoint (unless "auto"): each must exist, be a
// regular file (base_model and tokenizer: or a folder) and open for reading. output_dir is the run
// directory's business (trainer), not checked here.
void check_input_paths(const Config& config);

// What `tokenizer:` names, else a Hugging Face base_model's own folder (a hub id resolved to
// its snapshot) when it holds a tokenizer.json, else "".
std::string config_tokenizer_spec(const Config& config);

// The tokenizer `tokenizer:` names (or a Hugging Face base_model folder's own tokenizer.json),
// read whole and validated against the model's vocabulary (tokenizer.h, hf_tokenizer.h say
// what is checked); null when there is none.
std::unique_ptr<Tokenizer> load_config_tokenizer(const Config& config, int64_t model_vocab_size);

// The checks of a run's token files, datasets and test_datasets alike: a vocab_size attribute
// larger than the model's is refused (the ids were made for a bigger vocabulary, even when they
// happen to fit); with `tokenizer` (the configured one) a file made with another is refused, a
// file that cannot tell (no tokenizer_sha256: written before ringlm stored it) is accepted
// with a note on stdout when `rank_zero`; with no tokenizer configured the files must agree
// with the first one that names its tokenizer. Lives while the Corpora are built.
class TokenFileChecks {
public:
    TokenFileChecks(const Config& config, int64_t model_vocab_size, const Tokenizer* tokenizer, bool rank_zero);
    // For Corpus: file i of `key` ("datasets" or "test_datasets").
    TokenFileCheck of(const std::string& key);

private:
    void check(const std::string& key_and_path, const TokenDataset& file);  // "datasets[0].path 'a.h5'"

    std::string source_;
    int64_t model_vocab_size_;
    const Tokenizer* tokenizer_;
    bool rank_zero_;
    std::string first_key_and_path_, first_name_, first_sha256_;  // the first file that names its tokenizer
};

}  // namespace ringlm
