// Thin RAII layer over the HDF5 C API: every identifier is owned by a Handle that closes it,
// and every failing H5 call becomes one ringlm::Error naming the file and the object
// ("data/austen.h5: /input_ids: cannot read 4096 elements at 8192: <HDF5's innermost reason>").
// HDF5's own error stack printing is switched off, so users see that one line and nothing else.
//
// Files are opened serially by each rank (the default sec2 driver, no MPI-IO): many ranks may
// open the same file read-only at once. Debian's HDF5 is not built thread-safe: one thread of
// a process at a time may call into it (a prefetch thread must be the only HDF5 user).
#pragma once

#include "util/error.h"

#include <hdf5.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm::hdf5 {

// --- owned identifiers ------------------------------------------------------------------------

// An HDF5 identifier closed by `Close` on destruction. `where` names it in error messages:
// the file path for a file, "path: /name" for a dataset or attribute.
template <herr_t (*Close)(hid_t)>
class Handle {
public:
    Handle() = default;
    Handle(hid_t id, std::string where) : id_(id), where_(std::move(where)) {}
    Handle(Handle&& other) noexcept : id_(other.id_), where_(std::move(other.where_)) { other.id_ = H5I_INVALID_HID; }
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            reset();
            id_ = other.id_;
            where_ = std::move(other.where_);
            other.id_ = H5I_INVALID_HID;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    hid_t id() const { return id_; }
    const std::string& where() const { return where_; }
    bool valid() const { return id_ >= 0; }
    // Closes now (a file must be closed before it is renamed).
    void reset() { close(); }
    // Closes now, returning HDF5's status (a file's last metadata is written here: a full disk
    // shows as a negative status).
    herr_t close() {
        const herr_t status = id_ >= 0 ? Close(id_) : 0;
        id_ = H5I_INVALID_HID;
        return status;
    }

private:
    hid_t id_ = H5I_INVALID_HID;
    std::string where_;
};

using File = Handle<H5Fclose>;
using Dataset = Handle<H5Dclose>;
using Dataspace = Handle<H5Sclose>;
using Attribute = Handle<H5Aclose>;
using PropertyList = Handle<H5Pclose>;
using Datatype = Handle<H5Tclose>;

// --- errors ---------------------------------------------------------------------------------

// Switch off HDF5's automatic error stack printing (idempotent; every entry point calls it).
void silence_error_printing();
// The most specific message on HDF5's error stack, e.g. "file signature not found".
std::string last_error_detail();
// `status` < 0 -> Error "{where}: {action}: {detail}".
hid_t check(hid_t status, const std::string& where, std::string_view action);

// --- files ----------------------------------------------------------------------------------

// Read-only. A missing file, a non-HDF5 file and an unreadable one are distinct Errors.
File open_file_readonly(const std::string& path);
// Creates or truncates.
File create_file(const std::string& path);

// --- datasets -------------------------------------------------------------------------------

template <typename T> hid_t native_type();
template <> inline hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> inline hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }

bool has_dataset(const File& file, std::string_view name);
// Every dataset in the file by its path from the root ("model/tok_embeddings"), in name order.
std::vector<std::string> dataset_names(const File& file);
// Where a contiguous dataset's bytes start in the file (for tests that corrupt them).
int64_t dataset_file_offset(const Dataset& dataset);
// Error (naming the file, the dataset and `hint`) when absent.
Dataset open_dataset(const File& file, std::string_view name, std::string_view hint);

struct DatasetShape {
    std::vector<hsize_t> dims;
    H5T_class_t type_class = H5T_NO_CLASS;
    size_t type_bytes = 0;
    bool is_signed = false;
    // Every element has storage in the file. false: declared but never (fully) written, so a
    // read returns fill values and the dims are a size nothing in the file backs.
    bool stored = true;
};
DatasetShape dataset_shape(const Dataset& dataset);
// "int32", "uint8", "float64", "string": for messages.
std::string type_name(const DatasetShape& shape);

// Elements [offset, offset + out.size()) of a 1-D dataset, converted to T (one hyperslab read).
void read_range_raw(const Dataset& dataset, hid_t memory_type, int64_t offset, int64_t count, void* out);
template <typename T>
void read_range(const Dataset& dataset, int64_t offset, std::span<T> out) {
    read_range_raw(dataset, native_type<T>(), offset, static_cast<int64_t>(out.size()), out.data());
}

// A 1-D dataset of exactly `values`, contiguous, written in one call.
void write_dataset_raw(const File& file, std::string_view name, hid_t type, int64_t count, const void* values);
template <typename T>
void write_dataset(const File& file, std::string_view name, std::span<const T> values) {
    write_dataset_raw(file, name, native_type<T>(), static_cast<int64_t>(values.size()), values.data());
}

// An empty 1-D dataset that grows by append(): chunked (chunk_elements), unlimited, unfiltered
// (no compression: a document read then touches only its own bytes, not whole chunks).
Dataset create_growing_dataset(const File& file, std::string_view name, hid_t type, int64_t chunk_elements);
// Appends `count` elements at `current_size`; returns the new size.
int64_t append_raw(const Dataset& dataset, hid_t type, int64_t current_size, int64_t count, const void* values);
template <typename T>
int64_t append(const Dataset& dataset, int64_t current_size, std::span<const T> values) {
    return append_raw(dataset, native_type<T>(), current_size, static_cast<int64_t>(values.size()), values.data());
}

// --- attributes on the root group (File) or on a dataset ---------------------------------------

bool has_attribute(const File& file, std::string_view name);
bool has_attribute(const Dataset& dataset, std::string_view name);
// The root group's attributes, in name order.
std::vector<std::string> attribute_names(const File& file);
// Is it an integer (else a string or another type)?
bool is_integer_attribute(const File& file, std::string_view name);
// Any integer type, converted to int64.
int64_t read_int64_attribute(const File& file, std::string_view name);
int64_t read_int64_attribute(const Dataset& dataset, std::string_view name);
// An unsigned 32-bit integer (a checksum).
void write_uint32_attribute(const File& file, std::string_view name, uint32_t value);
void write_uint32_attribute(const Dataset& dataset, std::string_view name, uint32_t value);
// Fixed- or variable-length string.
std::string read_string_attribute(const File& file, std::string_view name);
void write_int64_attribute(const File& file, std::string_view name, int64_t value);
// Variable-length UTF-8 (what h5py writes for a Python str).
void write_string_attribute(const File& file, std::string_view name, const std::string& value);

}  // namespace ringlm::hdf5
