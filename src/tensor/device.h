// Where a tensor's storage lives. The CUDA backend (cuda/) registers itself for Device::cuda.
#pragma once

#include <cstdint>

namespace ringlm {

enum class Device : uint8_t { cpu, cuda };

constexpr const char* device_name(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

}  // namespace ringlm
