// Typed reads from a yaml-cpp tree with the messages config.h promises: every failure is one
// line "file:line: key 'dotted.path' must be <what is accepted>, got '<what was written>'".
//
// YamlMap remembers which keys were asked for; reject_unknown_keys() then refuses any other
// key in the map and suggests the closest asked-for key by edit distance. So the list of
// valid keys at a level is exactly the code that reads them: nothing to keep in sync.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

// Levenshtein distance: insertions, deletions and substitutions each cost 1.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` (first of equals); "" when there are none.
std::string closest_name(std::string_view word, std::span<const std::string> candidates);

// "config.yaml:12" (1-based line of the node), or "config.yaml" when the node has no position.
std::string yaml_location(const std::string& source, const YAML::Node& node);
// The node as a user would recognise it in a message: 'text' for a scalar, "a list", "a map".
std::string describe_yaml_value(const YAML::Node& node);

// Allowed interval of a real number; the bound is excluded when *_open.
struct NumberRange {
    double low = -1e308, high = 1e308;
    bool low_open = false, high_open = false;
    std::string describe() const;   // "a number > 0", "a number in [0, 1)", ...
};
inline constexpr NumberRange positive{0.0, 1e308, true, false};
inline constexpr NumberRange non_negative{0.0, 1e308, false, false};
inline constexpr NumberRange unit_interval_open_top{0.0, 1.0, false, true};    // [0, 1)
inline constexpr NumberRange unit_interval_open_bottom{0.0, 1.0, true, false}; // (0, 1]

[[noreturn]] void fail_value(const YAML::Node& value, const std::string& source, const std::string& path,
                             const std::string& expected);

// Scalar reads of one value (a map entry or a list element) at `path`.
int64_t read_integer(const YAML::Node& value, const std::string& source, const std::string& path, int64_t minimum);
double read_number(const YAML::Node& value, const std::string& source, const std::string& path, NumberRange range);
// `expected`: what the message says the value should be, where a key takes more than booleans.
bool read_boolean(const YAML::Node& value, const std::string& source, const std::string& path,
                  const char* expected = "true or false");
std::string read_text(const YAML::Node& value, const std::string& source, const std::string& path);
// The index of the value in `names`; the message lists them.
size_t read_choice(const YAML::Node& value, const std::string& source, const std::string& path,
                   std::span<const std::string_view> names);

class YamlMap {
public:
    // `node` must be a map, or null/undefined (an empty map). `path` is the dotted prefix of
    // its keys: "" at the top, "trl", "datasets[0]".
    YamlMap(const YAML::Node& node, const std::string& source, std::string path);

    // Present with a value (`key:` with nothing or `~` counts as absent). Marks the key known.
    bool has(const std::string& key);
    // The value node (undefined/null when absent). Marks the key known.
    YAML::Node value(const std::string& key);
    // "trl.num_generations"
    std::string key_path(const std::string& key) const;
    const std::string& source() const { return source_; }

    int64_t integer(const std::string& key, int64_t fallback, int64_t minimum);
    double number(const std::string& key, double fallback, NumberRange range);
    bool boolean(const std::string& key, bool fallback);
    std::string text(const std::string& key, const std::string& fallback);
    template <typename Enum, size_t N>
    std::optional<Enum> choice(const std::string& key, const std::array<std::string_view, N>& names) {
        if (!has(key)) return std::nullopt;
        return static_cast<Enum>(read_choice(value(key), source_, key_path(key), names));
    }
    // A YAML list; absent = empty. Elements are checked by the caller (path: key_path(key) + "[i]").
    std::vector<YAML::Node> list(const std::string& key);
    // A nested map; absent = empty.
    YamlMap map(const std::string& key);

    // Refuses keys never asked for, naming the closest known one. Call after all reads.
    void reject_unknown_keys() const;
    // "file:line: key 'path' <message>" at the key's value (or the file when absent).
    [[noreturn]] void fail_key(const std::string& key, const std::string& message);

private:
    YAML::Node node_;
    std::string source_;
    std::string path_;
    std::set<std::string> known_;
};

}  // namespace ringlm
