// The token-file validator (src/data/token_dataset.cpp). The HDF5 structure itself is
// libhdf5's business; what ringlm checks is what the file holds: which datasets, of what type,
// rank and length, the values of /doc_offsets, the ids and labels, and the vocab_size and
// tokenizer attributes. So the fuzz bytes describe those (FuzzedDataProvider), this target
// writes them as a well-formed HDF5 file on /dev/shm, and TokenDataset opens it, checks every
// token and reads documents. A dataset may be declared with up to 2^40 elements and never
// written: a size read from the file that nothing backs.
// Accepted files must deliver what the reader promises: documents of the advertised lengths,
// ids inside min(vocab_size, the model's vocabulary), labels -100 or inside it.
#include "data/token_dataset.h"
#include "fuzz_target.h"

#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <algorithm>

namespace {

using namespace ringlm;

hid_t file_type(uint8_t choice) {
    const hid_t types[] = {H5T_STD_I32LE, H5T_STD_I64LE, H5T_STD_I16LE, H5T_STD_U32LE, H5T_STD_U64LE, H5T_IEEE_F32LE};
    return types[choice % 6];
}

// A dataset `name` as the bytes describe: absent, a group, written values, or declared only.
void write_dataset(FuzzedDataProvider& bytes, hid_t file, const char* name, std::vector<int64_t> values) {
    const uint8_t kind = bytes.ConsumeIntegralInRange<uint8_t>(0, 9);
    if (kind == 0) return;
    if (kind == 1) {
        H5Gclose(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        return;
    }
    const hid_t type = file_type(bytes.ConsumeIntegral<uint8_t>());
    const bool declared_only = kind == 2;
    const bool two_d = kind == 3;
    hsize_t dims[2] = {values.size(), 1};
    if (declared_only) dims[0] = bytes.ConsumeIntegralInRange<hsize_t>(0, hsize_t(1) << 40);
    const hsize_t chunk[2] = {std::max<hsize_t>(1, std::min<hsize_t>(dims[0], 4096)), 1};
    const hid_t space = H5Screate_simple(two_d ? 2 : 1, dims, nullptr);
    const hid_t create = H5Pcreate(H5P_DATASET_CREATE);
    if (bytes.ConsumeBool() && dims[0] > 0) H5Pset_chunk(create, two_d ? 2 : 1, chunk);
    const hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, create, H5P_DEFAULT);
    if (!declared_only && !values.empty()) H5Dwrite(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(dataset);
    H5Pclose(create);
    H5Sclose(space);
}

void write_attribute(FuzzedDataProvider& bytes, hid_t file, const char* name) {
    const uint8_t kind = bytes.ConsumeIntegralInRange<uint8_t>(0, 5);
    if (kind == 0) return;
    const hsize_t two[1] = {2};
    const hid_t space = kind == 5 ? H5Screate_simple(1, two, nullptr) : H5Screate(H5S_SCALAR);
    if (kind <= 2 || kind == 5) {  // integers: int64, int32, or an array of two
        const hid_t type = kind == 2 ? H5T_STD_I32LE : H5T_STD_I64LE;
        const int64_t values[2] = {bytes.ConsumeIntegral<int64_t>(), bytes.ConsumeIntegral<int64_t>()};
        const hid_t attribute = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(attribute, H5T_NATIVE_INT64, values);
        H5Aclose(attribute);
    } else {  // strings: variable length (possibly NULL), or fixed length without a terminator
        const std::string text = bytes.ConsumeRandomLengthString(64);
        const hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, kind == 3 ? H5T_VARIABLE : std::max<size_t>(1, text.size()));
        const hid_t attribute = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        const char* pointer = text.empty() ? nullptr : text.c_str();
        std::string fixed = text;
        fixed.resize(std::max<size_t>(1, text.size()), '\0');
        H5Awrite(attribute, type, kind == 3 ? static_cast<const void*>(&pointer) : fixed.data());
        H5Aclose(attribute);
        H5Tclose(type);
    }
    H5Sclose(space);
}

std::vector<int64_t> consume_values(FuzzedDataProvider& bytes, size_t count, int64_t low, int64_t high) {
    std::vector<int64_t> values(count);
    for (int64_t& value : values) value = bytes.ConsumeIntegralInRange<int64_t>(low, high);
    return values;
}

void check_document(const TokenDataset& dataset, int64_t index, const Document& document, int64_t limit) {
    FUZZ_CHECK(int64_t(document.input_ids.size()) == dataset.document_length(index));
    for (int32_t id : document.input_ids) FUZZ_CHECK(id >= 0 && id < limit);
    FUZZ_CHECK(document.labels.has_value() == dataset.has_labels());
    if (!document.labels) return;
    FUZZ_CHECK(document.labels->size() == document.input_ids.size());
    for (int32_t label : *document.labels) FUZZ_CHECK(label == ignore_label || (label >= 0 && label < limit));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = fmt::format("/dev/shm/ringlm_token_file_fuzz.{}.h5", ::getpid());
    FuzzedDataProvider bytes(data, size);
    const int64_t model_vocab_size = bytes.ConsumeIntegralInRange<int64_t>(1, 600);
    // Offsets that mostly make sense (cumulative lengths from 0), then ids and labels.
    const size_t n_docs = bytes.ConsumeIntegralInRange<size_t>(0, 16);
    std::vector<int64_t> offsets{bytes.ConsumeIntegralInRange<int64_t>(-1, 1)};
    for (size_t d = 0; d < n_docs; d++) offsets.push_back(offsets.back() + bytes.ConsumeIntegralInRange<int64_t>(-1, 40));
    const size_t n_tokens = size_t(std::max<int64_t>(0, offsets.back() + bytes.ConsumeIntegralInRange<int64_t>(-1, 1)));
    std::vector<int64_t> input_ids = consume_values(bytes, n_tokens, -2, 700);
    std::vector<int64_t> labels = consume_values(bytes, n_tokens + bytes.ConsumeIntegralInRange<int64_t>(-1, 1) * (n_tokens > 0), -101, 700);

    hdf5::silence_error_printing();
    // Built in memory and written in one go at close (HDF5's core driver): the reading side,
    // TokenDataset, opens it as any file.
    const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(access, 1 << 16, 1);
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access);
    H5Pclose(access);
    if (file < 0) std::abort();
    write_dataset(bytes, file, "input_ids", input_ids);
    write_dataset(bytes, file, "doc_offsets", offsets);
    write_dataset(bytes, file, "labels", labels);
    write_attribute(bytes, file, "vocab_size");
    write_attribute(bytes, file, "tokenizer");
    H5Fclose(file);

    std::vector<int64_t> wanted;
    while (bytes.remaining_bytes() > 0 && wanted.size() < 8) wanted.push_back(bytes.ConsumeIntegralInRange<int64_t>(-1, 17));
    fuzz::only_ringlm_errors([&] {
        TokenDataset dataset(path);
        dataset.validate_tokens(model_vocab_size);
        const int64_t limit = std::min(dataset.vocab_size(), model_vocab_size);
        const std::vector<Document> documents = dataset.read_documents(wanted);
        for (size_t k = 0; k < wanted.size(); k++) check_document(dataset, wanted[k], documents[k], limit);
    });
    return 0;
}
