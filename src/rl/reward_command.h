// `trl.reward_command`: an external reward program. ringlm starts it once per batch with
// `/bin/sh -c COMMAND`, writes one JSON object per completion to its stdin
// ({"prompt": ..., "completion": ..., every other field of the prompt's record}), closes
// stdin, and reads one number per line from its stdout, in order. Its stderr passes through.
//
// Refused, with an Error naming the program (and the line where one is at fault): a non-zero
// exit or death by a signal, no answer within `timeout_seconds` (the program's process group
// is killed), a number of lines different from the number of completions, a line that is not
// a finite number.
#pragma once

#include <string>
#include <vector>

namespace ringlm {

std::vector<double> run_reward_command(const std::string& command, const std::vector<std::string>& json_lines,
                                       double timeout_seconds);

// The rewards in a reward program's stdout, `output`: exactly `completions` lines, each one
// finite number; anything else fails naming `command` and the line.
std::vector<double> parse_reward_output(const std::string& command, const std::string& output, size_t completions);

}  // namespace ringlm
