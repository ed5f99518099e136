// Typed dataset records (src/data/dataset_records.cpp, chat_template.cpp): each line as JSON,
// formatted as completion, alpaca or chat_template (ShareGPT mappings or not) under every
// built-in template and mask option, chosen by the first byte. An accepted record renders
// spans that alternate between trained and untrained and are never empty; a chat renders one
// end-of-turn token per message at least.
#include "data/dataset_records.h"
#include "fuzz_target.h"

#include <nlohmann/json.hpp>

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    if (size == 0) return 0;
    const uint8_t choice = data[0];
    DatasetFormat format;
    format.type = static_cast<DatasetType>(1 + choice % 3);
    if (choice & 0x04) {
        format.field_messages = "conversations";
        format.role_property = "from";
        format.content_property = "value";
    }
    format.train_on_eos = static_cast<TrainOnEos>((choice >> 3) % 4);
    format.train_on_inputs = choice & 0x20;
    if (choice & 0x40) format.roles_to_train = {"user", "assistant"};
    const auto chat_template = static_cast<ChatTemplateName>(1 + (choice >> 6) % 3);
    std::istringstream lines(fuzz::as_text(data + 1, size - 1));
    std::string line;
    while (std::getline(lines, line)) {
        fuzz::only_ringlm_errors([&] {
            nlohmann::json record;
            try {
                record = nlohmann::json::parse(line);
            } catch (const nlohmann::json::exception&) {
                return;  // prepare refuses it naming the line (not this target's parser)
            }
            const FormattedRecord formatted = format_record(record, format, chat_template, "fuzz.jsonl:1");
            for (size_t i = 0; i < formatted.spans.size(); i++) {
                FUZZ_CHECK(!formatted.spans[i].text.empty() || format.type != DatasetType::chat_template);
                if (i > 0 && format.type == DatasetType::chat_template)
                    FUZZ_CHECK(formatted.spans[i].trained != formatted.spans[i - 1].trained);
            }
            if (format.type != DatasetType::chat_template) return;
            std::string text;
            for (const TextSpan& span : formatted.spans) text += span.text;
            const std::string end_of_turn(end_of_turn_token(chat_template));
            size_t turns = 0;
            for (size_t at = text.find(end_of_turn); at != std::string::npos; at = text.find(end_of_turn, at + 1)) turns++;
            FUZZ_CHECK(turns >= read_chat_messages(record, format, "fuzz.jsonl:1").size());
        });
    }
    return 0;
}
