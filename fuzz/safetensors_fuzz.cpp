// safetensors headers (src/model/safetensors.cpp): the whole file as bytes. What the parser
// accepts must be safe to read: every tensor inside the data section, none overlapping, sizes
// that match shape x dtype.
#include "fuzz_target.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    return fuzz::only_ringlm_errors([&] {
        const SafetensorsLayout layout = parse_safetensors_header(reinterpret_cast<const std::byte*>(data), size, "fuzz.safetensors");
        FUZZ_CHECK(layout.data_start >= 8 && layout.data_start <= int64_t(size));
        int64_t covered = 0;
        for (const SafetensorsTensor& tensor : layout.tensors) {
            FUZZ_CHECK(tensor.begin == covered && tensor.end >= tensor.begin);
            for (int i = 0; i < tensor.shape.rank; i++) FUZZ_CHECK(tensor.shape.dims[i] >= 0);
            covered = tensor.end;
        }
        FUZZ_CHECK(layout.data_start + covered == int64_t(size));
    });
}
