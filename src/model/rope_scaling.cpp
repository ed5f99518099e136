#include "model/rope_scaling.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ringlm {

namespace {

// The YaRN ramp's ends: the dimensions that turn beta_fast and beta_slow times over L.
std::pair<double, double> yarn_ramp_ends(const ModelConfig& c, int64_t D) {
    const RopeScaling& r = c.rope_scaling;
    const double L = static_cast<double>(r.original_max_position > 0 ? r.original_max_position : c.max_position);
    auto dimension = [&](double rotations) {
        return static_cast<double>(D) * std::log(L / (rotations * 2 * std::numbers::pi)) / (2 * std::log(c.rope_theta));
    };
    const double low = std::max(std::floor(dimension(r.beta_fast)), 0.0);
    double high = std::min(std::ceil(dimension(r.beta_slow)), static_cast<double>(D - 1));
    if (low == high) high += 0.001;  // no division by zero
    return {low, high};
}

}  // namespace

std::vector<double> rope_inverse_frequencies(const ModelConfig& c) {
    const int64_t D = c.head_dim();
    const RopeScaling& r = c.rope_scaling;
    std::vector<double> table(static_cast<size_t>(D / 2));
    for (int64_t i = 0; i < D / 2; i++) {
        const double base = std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(D));
        double value = base;
        if (r.type == "linear") {
            value = base / r.factor;
        } else if (r.type == "llama3") {
            const double L = static_cast<double>(r.original_max_position);
            const double wavelength = 2 * std::numbers::pi / base;
            if (wavelength > L / r.low_freq_factor) {
                value = base / r.factor;
            } else if (wavelength >= L / r.high_freq_factor) {
                const double a = (L / wavelength - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
                value = (1 - a) * base / r.factor + a * base;
            }
        } else if (r.type == "yarn") {
            const auto [low, high] = yarn_ramp_ends(c, D);
            const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
            value = base / r.factor * ramp + base * (1 - ramp);
        } else if (r.type != "default") {
            fail("rope_scaling: rope_type '{}' (default, linear, llama3 or yarn)", r.type);
        }
        table[static_cast<size_t>(i)] = value;
    }
    return table;
}

double rope_attention_scaling(const ModelConfig& c) {
    const RopeScaling& r = c.rope_scaling;
    if (r.type != "yarn") return 1.0;
    if (r.attention_factor > 0) return r.attention_factor;
    return r.factor <= 1 ? 1.0 : 0.1 * std::log(r.factor) + 1.0;
}

}  // namespace ringlm
