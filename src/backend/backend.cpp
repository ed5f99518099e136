#include "backend/backend.h"

#include "backend/cpu/cpu_backend.h"

namespace ringlm {

namespace {
Backend* registered[2] = {nullptr, nullptr};
}

void register_backend(Device device, Backend* backend) { registered[static_cast<int>(device)] = backend; }

Backend& backend_for(Device device) {
    if (device == Device::cpu) return cpu_backend();
    Backend* backend = registered[static_cast<int>(device)];
    if (!backend) fail("backend: no {} backend (ringlm was built without it, or no device is present)", device_name(device));
    return *backend;
}

}  // namespace ringlm
