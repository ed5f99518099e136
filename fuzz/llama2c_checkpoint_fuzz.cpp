// llama2.c legacy checkpoints (src/model/llama2c_checkpoint.cpp): the whole file as bytes,
// read through fmemopen. Nothing may be allocated before the header's size is checked
// against the file's.
#include "fuzz_target.h"
#include "model/llama2c_checkpoint.h"

#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    if (size == 0) return 0;  // fmemopen refuses an empty buffer
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(fmemopen(const_cast<uint8_t*>(data), size, "rb"), std::fclose);
    if (!file) return 0;
    return fuzz::only_ringlm_errors([&] {
        const Llama2cCheckpoint checkpoint = read_llama2c_checkpoint(file.get(), int64_t(size), "fuzz.bin");
        int64_t floats = 0;
        for (const auto& [name, tensor] : checkpoint.parameters) floats += tensor.numel();
        FUZZ_CHECK(28 + 4 * floats <= int64_t(size));
        FUZZ_CHECK(checkpoint.config.heads_fit());
    });
}
