// A model's weights in an HDF5 file (the /model group of a ringlm checkpoint):
//   /model/<name>   f32, each parameter by its model_config.h name, flattened
//   attributes      dim, n_layers, n_heads, n_kv_heads, ffn_dim, vocab_size, max_position,
//                   tied_embeddings, rope_theta, norm_eps; head_dim (explicit, Qwen3), qkv_bias,
//                   qk_norm, rope_scaling (text: type factor low high original beta_fast
//                   beta_slow attention_factor) only when set (absent reads as unset)
// Checksums, CRC-32C (util/crc32c.h): every dataset carries an attribute `crc32c`, the CRC of
// its f32 values' bytes as stored (little-endian); the root group's `crc32c` covers every other
// root attribute (names and values, see attributes_checksum). Reads verify both and fail naming
// the file and the dataset. A file without the root `crc32c` predates checksums: read unverified.
#pragma once

#include "data/hdf5_handle.h"
#include "model/llama.h"

namespace ringlm {

void write_model(const hdf5::File& file, const std::string& path, const Llama& model);
ModelConfig read_model_config(const hdf5::File& file, const std::string& path);
void read_model_weights(const hdf5::File& file, const std::string& path, Llama& model);

// f32 1-D dataset <-> tensor (host or device), length checked against the tensor, with its
// `crc32c` written / verified.
void write_float_dataset(const hdf5::File& file, const std::string& name, const Tensor& values);
void read_float_dataset(const hdf5::File& file, const std::string& path, const std::string& name, Tensor& values);

// The CRC of the root attributes other than `crc32c`, in name order, each as
// "name\0value\0" (integers in decimal, strings as they are).
uint32_t attributes_checksum(const hdf5::File& file);
// Writes the root `crc32c` (after every other root attribute is written).
void write_attributes_checksum(const hdf5::File& file);
// Whether the file has checksums (the root `crc32c`); verifies the root attributes if so.
bool verify_attributes_checksum(const hdf5::File& file, const std::string& path);
// Verifies every dataset's and the root attributes' checksums, reading each dataset in pieces.
// Fails naming the file and the first dataset that does not match; false when the file has no
// checksums at all (written before they existed).
bool verify_file_checksums(const hdf5::File& file, const std::string& path);

// Opens a ringlm checkpoint (or model) file read-only. One that exists but HDF5 cannot open
// (cut off, or its header damaged) fails as "truncated or corrupt checkpoint".
hdf5::File open_model_file(const std::string& path);

// A ringlm checkpoint file (HDF5) rather than a llama2.c one.
bool is_hdf5_file(const std::string& path);

}  // namespace ringlm
