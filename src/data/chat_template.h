// Chat templates rendered natively (ringlm has no Jinja engine at run time), each written to
// give exactly the text of the model's own Jinja `chat_template` (tests/reference/
// chat_template_reference.py checks it with python3-jinja2 on the real tokenizer_config.json):
//
//   llama3   Llama 3 Instruct: <|begin_of_text|> once, then per message
//            <|start_header_id|>ROLE<|end_header_id|>\n\n + trim(content) + <|eot_id|>;
//            generation prompt <|start_header_id|>assistant<|end_header_id|>\n\n. (The first
//            Llama 3 release's template appends that prompt always, even to a training
//            conversation; like axolotl's llama3 and Meta's later revision, it comes only when asked.)
//   chatml   <|im_start|>ROLE\n + content + <|im_end|>\n per message; generation prompt
//            <|im_start|>assistant\n (axolotl's chatml: no default system prompt, so not Qwen2.5's
//            own template, which adds "You are Qwen, ..." when the first message is not a system one)
//   qwen3    Qwen3's template with enable_thinking left unset (thinking on): ChatML, and an
//            assistant message after the last user query gets <think>\nREASONING\n</think>\n\n
//            before its content when it is the last message or has reasoning (content holding
//            "</think>" is split there, as the template does); earlier ones lose their reasoning.
//            The generation prompt is <|im_start|>assistant\n.
//
// The label mask (axolotl's chat_template strategy, in text): a message's content is trained
// when its role is in roles_to_train (or train_on_inputs); its end-of-turn token as train_on_eos
// says; headers, BOS and the newline after <|im_end|> never. What counts as the content is what
// axolotl's find_turn finds by rendering the turn with other content and diffing: the text the
// content produced (for qwen3's empty think block, not the block).
#pragma once

#include "data/dataset_format.h"
#include "data/tokenizer.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

struct ChatMessage {
    std::string role;     // system, user or assistant (after the ShareGPT mapping)
    std::string content;
};

struct ChatMask {
    std::vector<std::string> roles_to_train{"assistant"};
    TrainOnEos train_on_eos = TrainOnEos::turn;
    bool train_on_inputs = false;
};

// A piece of the rendered text and whether its tokens carry loss.
struct TextSpan {
    std::string text;
    bool trained = false;
};

// The roles the templates render; every other role is refused by the record reader.
inline constexpr std::array<std::string_view, 3> chat_roles{"system", "user", "assistant"};

// The rendered conversation as spans (adjacent spans differ in `trained`); with
// `add_generation_prompt` the assistant header follows, untrained. `chat_template` must be a
// built-in (not tokenizer_default: resolve it first).
std::vector<TextSpan> render_chat(ChatTemplateName chat_template, std::span<const ChatMessage> messages,
                                  const ChatMask& mask, bool add_generation_prompt);

// The token that ends a turn (and a generation): <|eot_id|> or <|im_end|>.
std::string_view end_of_turn_token(ChatTemplateName chat_template);
// Its id in `tokenizer`, which must encode it as one token (an added token of the model's
// tokenizer.json); an Error naming the tokenizer otherwise.
int32_t end_of_turn_id(const Tokenizer& tokenizer, ChatTemplateName chat_template);

// tokenizer_default: the built-in whose text the chat_template of `tokenizer_spec`'s
// tokenizer_config.json is (a tokenizer.json's folder, or the model folder); anything else —
// no such file, no chat_template, a template ringlm does not know — is refused naming the file
// and `where` (the config key). A built-in is returned as it is.
ChatTemplateName resolve_chat_template(ChatTemplateName configured, const std::string& tokenizer_spec,
                                       const std::string& where);

// The built-in a tokenizer_config.json's chat_template text is, by its SHA-256 (the exact
// texts tested); tokenizer_default when none.
ChatTemplateName recognise_chat_template(std::string_view template_text);

// Python's str.strip() (Jinja's trim): Unicode whitespace (str.isspace) off both ends.
std::string python_strip(std::string_view text);

}  // namespace ringlm
