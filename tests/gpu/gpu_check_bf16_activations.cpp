// GPU check of bf16 activations (config bf16_activations): the kernels that read and write
// bf16 with f32 math inside. CUDA's bf16 kernels against the CPU's (which widen, run the f32
// kernel and round). Both round f32 results that agree to f32 precision, so a bf16 output is
// compared element by element: equal, or one bf16 step apart for the few results that lie
// within f32 noise of a rounding midpoint (at most 1% of them); truncating instead of rounding
// to nearest even, or rounding twice, moves far more. An f32 output (lse, every gradient) is
// held to f32's tolerance. Inputs are random, rounded to bf16 on the host; outputs poisoned
// with NaN first (see gpu_check.cpp).
#include "cuda_backend.h"
#include "gpu_check.h"
#include "test_util.h"

#include <cmath>
#include <string>

namespace ringlm::gpu_check {

using testing::random_ints;
using testing::random_uniform;

namespace {

Tensor random_bf16(Shape shape, std::mt19937_64& rng, double low = -1.0, double high = 1.0) {
    return host_as(random_uniform(shape, DType::f32, rng, low, high), DType::bf16);
}

// bf16 steps between two bf16 values: the distance in units of the larger one's last place
// (2^(exponent - 7)); NaN if either is NaN.
double bf16_steps(double a, double b) {
    if (std::isnan(a) || std::isnan(b)) return NAN;
    if (a == b) return 0.0;
    const double larger = std::max(std::fabs(a), std::fabs(b));
    const double last_place = std::ldexp(1.0, std::ilogb(std::max(larger, 0x1p-126)) - 7);
    return std::fabs(a - b) / last_place;
}

void compare_roundings(Checker& checker, const std::string& name, const Tensor& actual, const Tensor& expected) {
    const Tensor got = testing::to_dtype(to_host(actual), DType::f64), want = testing::to_dtype(expected, DType::f64);
    double worst = 0;
    int64_t differing = 0;
    for (int64_t i = 0; i < want.numel(); i++) {
        const double steps = bf16_steps(got.data<double>()[i], want.data<double>()[i]);
        if (!(steps <= worst)) worst = steps;  // a NaN becomes the worst
        differing += steps != 0.0;
    }
    const bool passed = worst <= 1.0 && differing * 100 <= want.numel();
    char detail[120];
    std::snprintf(detail, sizeof detail, "%lld of %lld one bf16 step apart, worst %.3g steps (at most 1, on 1%%)",
                  static_cast<long long>(differing), static_cast<long long>(want.numel()), worst);
    checker.add(name, passed, detail);
}

void check_rmsnorm_bf16(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 37, C = 1000;
    const double eps = 1e-5;
    const Tensor x32 = random_uniform({T, C}, DType::f32, rng), x16 = random_bf16({T, C}, rng);
    const Tensor w = random_uniform({C}, DType::f32, rng, 0.5, 1.5);
    for (const Tensor& x : {x32, x16}) {
        const std::string name = std::string("bf16 rmsnorm_forward, ") + dtype_name(x.dtype()) + " x -> bf16 y";
        checker.check(name, [&] {
            Tensor y = poisoned({T, C}, Device::cpu, DType::bf16), inv_rms = poisoned({T}, Device::cpu);
            Tensor y_gpu = poisoned({T, C}, Device::cuda, DType::bf16), inv_rms_gpu = poisoned({T}, Device::cuda);
            cpu().rmsnorm_forward(y, inv_rms, x, w, eps);
            gpu().rmsnorm_forward(y_gpu, inv_rms_gpu, to_device(x), to_device(w), eps);
            compare_roundings(checker, name + " y", y_gpu, y);
            checker.compare(name + " inv_rms", inv_rms_gpu, inv_rms, f32_tolerance);
        });
    }
    checker.check("bf16 rmsnorm_backward, bf16 x", [&] {
        const Tensor dy = random_uniform({T, C}, DType::f32, rng), inv_rms = random_uniform({T}, DType::f32, rng, 0.5, 2);
        Tensor dx = random_uniform({T, C}, DType::f32, rng), dw = random_uniform({C}, DType::f32, rng);
        Tensor dx_gpu = to_device(dx), dw_gpu = to_device(dw);
        cpu().rmsnorm_backward(dx, dw, dy, x16, w, inv_rms);
        gpu().rmsnorm_backward(dx_gpu, dw_gpu, to_device(dy), to_device(x16), to_device(w), to_device(inv_rms));
        checker.compare("bf16 rmsnorm_backward dx", dx_gpu, dx, f32_tolerance);
        checker.compare("bf16 rmsnorm_backward dw", dw_gpu, dw, f32_tolerance);
    });
}

void check_elementwise_bf16(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 33, H = 4, D = 64, F = 300;
    checker.check("bf16 rope_forward", [&] {
        const Tensor x = random_bf16({T, H, D}, rng), positions = random_ints({T}, rng, 0, 1 << 17);
        const Tensor table = default_rope_frequencies(500000.0, D).inverse_frequency;
        Tensor y = poisoned({T, H, D}, Device::cpu, DType::bf16), y_gpu = poisoned({T, H, D}, Device::cuda, DType::bf16);
        cpu().rope_forward(y, x, positions, table, 1.0);
        gpu().rope_forward(y_gpu, to_device(x), to_device(positions), to_device(table), 1.0);
        compare_roundings(checker, "bf16 rope_forward", y_gpu, y);
    });
    const Tensor gate = random_bf16({T, F}, rng, -4, 4), up = random_bf16({T, F}, rng);
    checker.check("bf16 swiglu_forward", [&] {
        Tensor out = poisoned({T, F}, Device::cpu, DType::bf16), out_gpu = poisoned({T, F}, Device::cuda, DType::bf16);
        cpu().swiglu_forward(out, gate, up);
        gpu().swiglu_forward(out_gpu, to_device(gate), to_device(up));
        compare_roundings(checker, "bf16 swiglu_forward", out_gpu, out);
    });
    checker.check("bf16 swiglu_backward, bf16 gate and up", [&] {
        const Tensor dout = random_uniform({T, F}, DType::f32, rng);
        Tensor dgate = random_uniform({T, F}, DType::f32, rng), dup = random_uniform({T, F}, DType::f32, rng);
        Tensor dgate_gpu = to_device(dgate), dup_gpu = to_device(dup);
        cpu().swiglu_backward(dgate, dup, dout, gate, up);
        gpu().swiglu_backward(dgate_gpu, dup_gpu, to_device(dout), to_device(gate), to_device(up));
        checker.compare("bf16 swiglu_backward dgate", dgate_gpu, dgate, f32_tolerance);
        checker.compare("bf16 swiglu_backward dup", dup_gpu, dup, f32_tolerance);
    });
    checker.check("bf16 add, f32 + bf16 -> f32 (residual)", [&] {
        const Tensor residual = random_uniform({T, F}, DType::f32, rng);
        Tensor out = poisoned({T, F}, Device::cpu), out_gpu = poisoned({T, F}, Device::cuda);
        cpu().add(out, residual, up);
        gpu().add(out_gpu, to_device(residual), to_device(up));
        checker.compare("bf16 add, f32 + bf16 -> f32 (residual)", out_gpu, out, f32_tolerance);
        // the operands the other way round, into a bf16 out (each operand's type is its own)
        Tensor out16 = poisoned({T, F}, Device::cpu, DType::bf16), out16_gpu = poisoned({T, F}, Device::cuda, DType::bf16);
        cpu().add(out16, up, residual);
        gpu().add(out16_gpu, to_device(up), to_device(residual));
        compare_roundings(checker, "bf16 add, bf16 + f32 -> bf16", out16_gpu, out16);
    });
    checker.check("bf16 add_bias, bf16 y", [&] {
        const Tensor bias = random_uniform({F}, DType::f32, rng);
        Tensor y = host_as(up, DType::bf16), y_gpu = to_device(up);
        cpu().add_bias(y, bias);
        gpu().add_bias(y_gpu, to_device(bias));
        compare_roundings(checker, "bf16 add_bias, bf16 y", y_gpu, y);
    });
    checker.check("bf16 gather_columns", [&] {
        const Tensor source = random_bf16({T, 8 * 24}, rng);
        Tensor slice = poisoned({T, 96}, Device::cpu, DType::bf16), slice_gpu = poisoned({T, 96}, Device::cuda, DType::bf16);
        cpu().gather_columns(slice, source, 72);
        gpu().gather_columns(slice_gpu, to_device(source), 72);
        checker.compare("bf16 gather_columns (exact)", slice_gpu, slice, 0.0);
    });
}

// The tensor cores read bf16 q, k, v (and out, for delta) as they are, and the same values in
// f32 (bf16 matmuls alone) rounded as they load: the two calls must agree bit for bit (out
// compared after rounding the f32 call's to bf16, as the bf16 call's is).
void check_tensor_operands(Checker& checker, const std::string& name, const Tensor& q, const Tensor& k, const Tensor& v,
                           const Tensor& dout, const Tensor& out, const AttentionMask& mask) {
    const int64_t T = q.size(0), H = q.size(1), Hkv = k.size(1), D = q.size(2);
    const double scale = 1.0 / std::sqrt(double(D));
    const std::string same = name + ": bf16 operands = f32 ones";
    checker.check(same, [&] {
        Tensor out_bf16 = poisoned({T, H, D}, Device::cuda, DType::bf16), lse_bf16 = poisoned({T, H}, Device::cuda);
        const int64_t widened_before = cuda().attention_operands_widened();
        gpu().attention_block_forward(out_bf16, lse_bf16, to_device(q), to_device(k), to_device(v), mask, scale);
        const Tensor q32 = to_device(host_as(q, DType::f32)), k32 = to_device(host_as(k, DType::f32));
        const Tensor v32 = to_device(host_as(v, DType::f32));
        Tensor out_f32 = poisoned({T, H, D}, Device::cuda), lse_f32 = poisoned({T, H}, Device::cuda);
        gpu().attention_block_forward(out_f32, lse_f32, q32, k32, v32, mask, scale);
        checker.compare(same + ", out (exact)", out_bf16, host_as(to_host(out_f32), DType::bf16), 0.0);
        checker.compare(same + ", lse (exact)", lse_bf16, to_host(lse_f32), 0.0);

        Tensor dq = zeros({T, H, D}, DType::f32, Device::cuda), dk = zeros({T, Hkv, D}, DType::f32, Device::cuda);
        Tensor dv = zeros({T, Hkv, D}, DType::f32, Device::cuda);
        Tensor dq32 = zeros({T, H, D}, DType::f32, Device::cuda), dk32 = zeros({T, Hkv, D}, DType::f32, Device::cuda);
        Tensor dv32 = zeros({T, Hkv, D}, DType::f32, Device::cuda);
        const Tensor dout_gpu = to_device(dout), lse_gpu = lse_bf16;
        gpu().attention_block_backward(dq, dk, dv, dout_gpu, to_device(q), to_device(k), to_device(v), to_device(out),
                                       lse_gpu, mask, scale);
        const int64_t widened = cuda().attention_operands_widened() - widened_before;
        checker.add(same + ": read as they are", widened == 0, std::to_string(widened) + " widened to f32 copies");
        gpu().attention_block_backward(dq32, dk32, dv32, dout_gpu, q32, k32, v32, to_device(host_as(out, DType::f32)),
                                       lse_gpu, mask, scale);
        checker.compare(same + ", dq (exact)", dq, to_host(dq32), 0.0);
        checker.compare(same + ", dk (exact)", dk, to_host(dk32), 0.0);
        checker.compare(same + ", dv (exact)", dv, to_host(dv32), 0.0);
    });
}

// bf16 q, k, v through each attention kernel, GQA 8/2, D 128 or 64, two packed documents and one
// (the case cuDNN serves): out is bf16, lse and the gradients f32. The backward on both
// backends reads the CPU's out and lse, so the gradients compare the backward alone. The tiled
// kernel computes in f32 (out element by element, the rest at f32's tolerance); the tensor
// cores and cuDNN multiply in bf16 (bf16's tolerance throughout, as their f32-input rows); the
// tensor cores also against their own f32-operand call (check_tensor_operands).
void check_attention_bf16(Checker& checker, std::mt19937_64& rng, int64_t D) {
    const int64_t T = 256, H = 8, Hkv = 2;
    const Tensor q = random_bf16({T, H, D}, rng), k = random_bf16({T, Hkv, D}, rng), v = random_bf16({T, Hkv, D}, rng);
    const Tensor dout = random_uniform({T, H, D}, DType::f32, rng);
    const double scale = 1.0 / std::sqrt(double(D));
    for (const int64_t documents : {2, 1}) {
        std::vector<int32_t> index(T), segment(T);
        for (int64_t t = 0; t < T; t++) {
            index[t] = static_cast<int32_t>(t);
            segment[t] = documents == 2 && t >= 170 ? 2 : 1;
        }
        const Tensor index_host = from_vector(index, {T}), segment_host = from_vector(segment, {T});
        const Tensor index_gpu = to_device(index_host), segment_gpu = to_device(segment_host);
        const AttentionMask mask{index_host, segment_host, index_host, segment_host, true, {}, {}};
        const AttentionMask mask_gpu{index_gpu, segment_gpu, index_gpu, segment_gpu, true, {}, {}};
        Tensor out = poisoned({T, H, D}, Device::cpu, DType::bf16), lse = poisoned({T, H}, Device::cpu);
        cpu().attention_block_forward(out, lse, q, k, v, mask, scale);
        Tensor dq = zeros({T, H, D}), dk = zeros({T, Hkv, D}), dv = zeros({T, Hkv, D});
        cpu().attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale);
        for (const auto& [kernel, kernel_name] : {std::pair{AttentionKernel::tiled, "tiled"},
                                                  std::pair{AttentionKernel::tensor, "tensor"},
                                                  std::pair{AttentionKernel::cudnn, "cudnn"}}) {
            if (kernel == AttentionKernel::cudnn && documents == 2) continue;  // cuDNN serves no segment mask
            const std::string name = std::string("bf16 attention, ") + kernel_name + ", D " + std::to_string(D) + ", " +
                                     (documents == 2 ? "two documents" : "one document");
            const bool f32_math = kernel == AttentionKernel::tiled;
            const double tolerance = f32_math ? f32_tolerance : bf16_tolerance;
            cuda().set_attention_kernel(kernel);
            checker.check(name + " forward", [&] {
                Tensor out_gpu = poisoned({T, H, D}, Device::cuda, DType::bf16), lse_gpu = poisoned({T, H}, Device::cuda);
                gpu().attention_block_forward(out_gpu, lse_gpu, to_device(q), to_device(k), to_device(v), mask_gpu, scale);
                if (f32_math) {
                    compare_roundings(checker, name + " out", out_gpu, out);
                } else {
                    checker.compare(name + " out", out_gpu, out, tolerance);
                }
                checker.compare(name + " lse", lse_gpu, lse, f32_math ? f32_tolerance : 1e-4);
            });
            checker.check(name + " backward", [&] {
                Tensor dq_gpu = zeros({T, H, D}, DType::f32, Device::cuda), dk_gpu = zeros({T, Hkv, D}, DType::f32, Device::cuda),
                       dv_gpu = zeros({T, Hkv, D}, DType::f32, Device::cuda);
                gpu().attention_block_backward(dq_gpu, dk_gpu, dv_gpu, to_device(dout), to_device(q), to_device(k),
                                               to_device(v), to_device(out), to_device(lse), mask_gpu, scale);
                checker.compare(name + " dq", dq_gpu, dq, tolerance);
                checker.compare(name + " dk", dk_gpu, dk, tolerance);
                checker.compare(name + " dv", dv_gpu, dv, tolerance);
            });
            if (kernel == AttentionKernel::tensor) check_tensor_operands(checker, name, q, k, v, dout, out, mask_gpu);
        }
        cuda().set_attention_kernel(AttentionKernel::tiled);
    }
}

}  // namespace

void check_bf16_activations(Checker& checker, std::mt19937_64& rng) {
    check_rmsnorm_bf16(checker, rng);
    check_elementwise_bf16(checker, rng);
    check_attention_bf16(checker, rng, 128);
    check_attention_bf16(checker, rng, 64);  // the tensor cores' other tile width
}

}  // namespace ringlm::gpu_check
