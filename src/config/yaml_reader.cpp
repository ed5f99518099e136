#include "config/yaml_reader.h"

#include "util/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>

namespace ringlm {

// --- names ------------------------------------------------------------------------------------

// d[i][j] = distance between a[:i] and b[:j]
//         = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + (a[i-1] != b[j-1]))
// kept as one row (`previous`) plus the row being filled.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
    std::iota(previous.begin(), previous.end(), size_t{0});
    for (size_t i = 1; i <= a.size(); i++) {
        current[0] = i;
        for (size_t j = 1; j <= b.size(); j++) {
            const size_t substitution = previous[j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
        }
        std::swap(previous, current);
    }
    return previous[b.size()];
}

std::string closest_name(std::string_view word, std::span<const std::string> candidates) {
    std::string best;
    size_t best_distance = SIZE_MAX;
    for (const std::string& candidate : candidates) {
        const size_t distance = edit_distance(word, candidate);
        if (distance < best_distance) best = candidate, best_distance = distance;
    }
    return best;
}

// --- messages ---------------------------------------------------------------------------------

std::string yaml_location(const std::string& source, const YAML::Node& node) {
    // An undefined node (a key that is absent) has no mark; yaml-cpp reports line -1 then.
    if (!node.IsDefined() || node.Mark().line < 0) return source;
    return fmt::format("{}:{}", source, node.Mark().line + 1);
}

std::string describe_yaml_value(const YAML::Node& node) {
    if (node.IsSequence()) return "a list";
    if (node.IsMap()) return "a map";
    if (node.IsNull() || !node.IsDefined()) return "nothing";
    return fmt::format("'{}'", node.Scalar());
}

std::string NumberRange::describe() const {
    const bool has_low = low > -1e308, has_high = high < 1e308;
    if (has_low && has_high)
        return fmt::format("a number in {}{}, {}{}", low_open ? "(" : "[", low, high, high_open ? ")" : "]");
    if (has_low) return fmt::format("a number {} {}", low_open ? ">" : ">=", low);
    if (has_high) return fmt::format("a number {} {}", high_open ? "<" : "<=", high);
    return "a number";
}

void fail_value(const YAML::Node& value, const std::string& source, const std::string& path,
                const std::string& expected) {
    fail("{}: key '{}' must be {}, got {}", yaml_location(source, value), path, expected,
         describe_yaml_value(value));
}

// --- scalars ----------------------------------------------------------------------------------

static std::string integer_expectation(int64_t minimum) {
    if (minimum == 1) return "a positive integer";
    return fmt::format("an integer >= {}", minimum);
}

int64_t read_integer(const YAML::Node& value, const std::string& source, const std::string& path, int64_t minimum) {
    const std::string expected = integer_expectation(minimum);
    if (!value.IsScalar()) fail_value(value, source, path, expected);
    // from_chars, not yaml-cpp's stream conversion: "2.5", "2x" and "" must not read as 2 or 0.
    const std::string& text = value.Scalar();
    int64_t result = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), result);
    if (error != std::errc{} || end != text.data() + text.size() || result < minimum)
        fail_value(value, source, path, expected);
    return result;
}

double read_number(const YAML::Node& value, const std::string& source, const std::string& path, NumberRange range) {
    const std::string expected = range.describe();
    if (!value.IsScalar() || value.Scalar().empty()) fail_value(value, source, path, expected);
    // strtod takes what YAML writers produce (0.0003, 3e-4, 3.0E-4); the whole text must be
    // consumed and finite, so "3e-4x", ".inf" and "nan" are refused.
    const std::string& text = value.Scalar();
    char* end = nullptr;
    const double result = std::strtod(text.c_str(), &end);
    const bool inside = (range.low_open ? result > range.low : result >= range.low) &&
                        (range.high_open ? result < range.high : result <= range.high);
    if (end != text.c_str() + text.size() || std::isspace(static_cast<unsigned char>(text[0])) ||
        !std::isfinite(result) || !inside)
        fail_value(value, source, path, expected);
    return result;
}

bool read_boolean(const YAML::Node& value, const std::string& source, const std::string& path, const char* expected) {
    if (value.IsScalar()) {
        // YAML 1.1's spellings, which PyYAML (and so axolotl) accepts too.
        std::string text = value.Scalar();
        std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
        if (text == "true" || text == "yes" || text == "on") return true;
        if (text == "false" || text == "no" || text == "off") return false;
    }
    fail_value(value, source, path, expected);
}

std::string read_text(const YAML::Node& value, const std::string& source, const std::string& path) {
    if (!value.IsScalar()) fail_value(value, source, path, "a string");
    return value.Scalar();
}

size_t read_choice(const YAML::Node& value, const std::string& source, const std::string& path,
                   std::span<const std::string_view> names) {
    const std::string expected = fmt::format("one of {}", fmt::join(names, ", "));
    if (!value.IsScalar()) fail_value(value, source, path, expected);
    const auto found = std::find(names.begin(), names.end(), value.Scalar());
    if (found == names.end()) fail_value(value, source, path, expected);
    return static_cast<size_t>(found - names.begin());
}

// --- maps -------------------------------------------------------------------------------------

YamlMap::YamlMap(const YAML::Node& node, const std::string& source, std::string path)
    : node_(node), source_(source), path_(std::move(path)) {
    if (!node_.IsDefined() || node_.IsNull()) return;
    if (!node_.IsMap())
        fail("{}: {} must be a map of keys (key: value lines), got {}", yaml_location(source_, node_),
             path_.empty() ? "the config" : fmt::format("key '{}'", path_), describe_yaml_value(node_));
    // yaml-cpp keeps both entries of a repeated key and lookups see the first; refuse instead,
    // since the user most likely meant the second.
    std::map<std::string, int> first_line;
    for (const auto& entry : node_) {
        if (!entry.first.IsScalar())
            fail("{}: {} has a key that is {}; keys must be plain names", yaml_location(source_, entry.first),
                 path_.empty() ? "the config" : fmt::format("key '{}'", path_), describe_yaml_value(entry.first));
        const std::string& key = entry.first.Scalar();
        const int line = entry.first.Mark().line + 1;
        const auto [previous, inserted] = first_line.emplace(key, line);
        if (!inserted)
            fail("{}: key '{}' appears twice (lines {} and {}); keep one", yaml_location(source_, entry.first),
                 key_path(key), previous->second, line);
    }
}

bool YamlMap::has(const std::string& key) {
    const YAML::Node found = value(key);
    return found.IsDefined() && !found.IsNull();
}

YAML::Node YamlMap::value(const std::string& key) {
    known_.insert(key);
    if (!node_.IsDefined() || node_.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
    // Through a const reference: yaml-cpp's non-const operator[] adds the key when absent.
    const YAML::Node& node = node_;
    return node[key];
}

std::string YamlMap::key_path(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
}

int64_t YamlMap::integer(const std::string& key, int64_t fallback, int64_t minimum) {
    return has(key) ? read_integer(value(key), source_, key_path(key), minimum) : fallback;
}

double YamlMap::number(const std::string& key, double fallback, NumberRange range) {
    return has(key) ? read_number(value(key), source_, key_path(key), range) : fallback;
}

bool YamlMap::boolean(const std::string& key, bool fallback) {
    return has(key) ? read_boolean(value(key), source_, key_path(key)) : fallback;
}

std::string YamlMap::text(const std::string& key, const std::string& fallback) {
    return has(key) ? read_text(value(key), source_, key_path(key)) : fallback;
}

std::vector<YAML::Node> YamlMap::list(const std::string& key) {
    std::vector<YAML::Node> elements;
    if (!has(key)) return elements;
    const YAML::Node found = value(key);
    if (!found.IsSequence()) fail_value(found, source_, key_path(key), "a list (lines starting with '- ')");
    for (const auto& element : found) elements.push_back(element);
    return elements;
}

YamlMap YamlMap::map(const std::string& key) {
    return YamlMap(value(key), source_, key_path(key));
}

void YamlMap::reject_unknown_keys() const {
    if (!node_.IsDefined() || node_.IsNull()) return;
    const std::vector<std::string> known(known_.begin(), known_.end());
    for (const auto& entry : node_) {
        const std::string& key = entry.first.Scalar();
        if (known_.count(key)) continue;
        fail("{}: unknown key '{}' (did you mean '{}'?)", yaml_location(source_, entry.first), key_path(key),
             key_path(closest_name(key, known)));
    }
}

void YamlMap::fail_key(const std::string& key, const std::string& message) {
    // At the value when the key is there, else at the map that should hold it.
    const YAML::Node found = value(key);
    const YAML::Node& place = found.IsDefined() ? found : node_;
    fail("{}: key '{}' {}", yaml_location(source_, place), key_path(key), message);
}

}  // namespace ringlm
