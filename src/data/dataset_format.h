// How a raw JSONL dataset becomes token ids and labels: axolotl's `type:` and its options, as a
// plain struct (config fills it from a `datasets:` entry; prepare and the templates read it).
//
//   completion      {"text": "..."} (`field:` renames "text"): BOS + text + EOS, every token trained
//   alpaca          {"instruction", "input" (optional), "output"}: axolotl's Alpaca prompt, then
//                   output + EOS; the prompt is untrained unless train_on_inputs
//   chat_template   {"messages": [{"role", "content"}, ...]} rendered with a chat template
//                   (chat_template.h); ShareGPT's {"conversations": [{"from", "value"}]} through
//                   field_messages and message_property_mappings, roles human/gpt mapped to
//                   user/assistant as axolotl does
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

// `type:` unset (tokens) = a token HDF5 file, or what `ringlm prepare` reads without a type.
enum class DatasetType : uint8_t { tokens, completion, alpaca, chat_template };
inline constexpr std::array<std::string_view, 3> dataset_type_names{"completion", "alpaca", "chat_template"};

// `chat_template:` the built-in renderings (chat_template.h); tokenizer_default = the template
// of the tokenizer's own tokenizer_config.json, when it is recognised as one of them.
enum class ChatTemplateName : uint8_t { tokenizer_default, llama3, chatml, qwen3 };
inline constexpr std::array<std::string_view, 4> chat_template_names{"tokenizer_default", "llama3", "chatml", "qwen3"};

// `train_on_eos:` which end-of-turn tokens are trained (axolotl's values): turn = after each
// trained turn, all = after every turn, last = after the last trained turn, none.
enum class TrainOnEos : uint8_t { turn, all, last, none };
inline constexpr std::array<std::string_view, 4> train_on_eos_names{"turn", "all", "last", "none"};

struct DatasetFormat {
    DatasetType type = DatasetType::tokens;
    std::string field = "text";                 // completion: the text's key (axolotl `field:`)
    std::string field_messages = "messages";    // chat_template: the list of messages
    std::string field_system = "system";        // chat_template: a system prompt beside the messages
    std::string role_property = "role";         // message_property_mappings.role (ShareGPT: from)
    std::string content_property = "content";   // message_property_mappings.content (ShareGPT: value)
    ChatTemplateName chat_template = ChatTemplateName::tokenizer_default;
    std::vector<std::string> roles_to_train{"assistant"};
    TrainOnEos train_on_eos = TrainOnEos::turn;
    bool train_on_inputs = false;               // true: every turn's content (and the Alpaca prompt) trained
    bool operator==(const DatasetFormat&) const = default;
};

inline std::string_view name(DatasetType value) {
    return value == DatasetType::tokens ? "tokens" : dataset_type_names[static_cast<size_t>(value) - 1];
}
inline std::string_view name(ChatTemplateName value) { return chat_template_names[static_cast<size_t>(value)]; }
inline std::string_view name(TrainOnEos value) { return train_on_eos_names[static_cast<size_t>(value)]; }

}  // namespace ringlm
