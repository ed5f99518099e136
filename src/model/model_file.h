// A model's weights in an HDF5 file (the /model group of a ringlm checkpoint):
//   /model/<name>   f32, each parameter by its model_config.h name, flattened
//   attributes      dim, n_layers, n_heads, n_kv_heads, ffn_dim, vocab_size, max_position,
//                   tied_embeddings, rope_theta, norm_eps
#pragma once

#include "data/hdf5_handle.h"
#include "model/llama.h"

namespace ringlm {

void write_model(const hdf5::File& file, const std::string& path, const Llama& model);
ModelConfig read_model_config(const hdf5::File& file, const std::string& path);
void read_model_weights(const hdf5::File& file, const std::string& path, Llama& model);

// f32 1-D dataset <-> tensor (host or device), length checked against the tensor.
void write_float_dataset(const hdf5::File& file, const std::string& name, const Tensor& values);
void read_float_dataset(const hdf5::File& file, const std::string& path, const std::string& name, Tensor& values);

// A ringlm checkpoint file (HDF5) rather than a llama2.c one.
bool is_hdf5_file(const std::string& path);

}  // namespace ringlm
