// A reward program's stdout (src/rl/reward_command.cpp): one finite number per line. The
// first byte says how many completions were asked for, so both the count and the numbers
// are exercised.
#include "fuzz_target.h"
#include "rl/reward_command.h"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    if (size == 0) return 0;
    const size_t completions = data[0];
    const std::string output = fuzz::as_text(data + 1, size - 1);
    return fuzz::only_ringlm_errors([&] {
        const std::vector<double> rewards = parse_reward_output("fuzz", output, completions);
        FUZZ_CHECK(rewards.size() == completions);
        for (double reward : rewards) FUZZ_CHECK(std::isfinite(reward));
        FUZZ_CHECK(output.find('\0') == std::string::npos);  // a NUL byte ends no number
    });
}
