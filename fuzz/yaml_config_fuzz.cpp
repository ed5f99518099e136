// The YAML config (src/config): parse_config on any text, then the checks that run before
// training or GRPO, the summary, and the config.yaml a run writes, which must read back as
// the same settings (a resumed run reads it).
#include "config/config.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    return fuzz::only_ringlm_errors([&] {
        const Config config = parse_config(fuzz::as_text(data, size), "fuzz.yaml");
        (void)describe(config);
        const std::string written = to_yaml(config);
        const Config again = parse_config(written, "fuzz.yaml (written back)");
        FUZZ_CHECK(to_yaml(again) == written);
        fuzz::only_ringlm_errors([&] { validate_for_training(config); });
        fuzz::only_ringlm_errors([&] { validate_for_grpo(config); });
    });
}
