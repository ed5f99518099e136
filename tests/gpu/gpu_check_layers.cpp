// GPU check of the layer kernels: RMSNorm, RoPE, SwiGLU, embedding, softmax, cross-entropy,
// AdamW, column slices; CUDA against CPU on the same random inputs (see gpu_check.cpp for the rules).
// Then the bf16 matmul ops of mixed-precision training (to_bf16 + linear, the bf16 LM head),
// forward and backward through the tape on both backends; the tiled MLP likewise.
#include "cuda_check.h"
#include "gpu_check.h"
#include "ops/ops.h"
#include "test_util.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <tuple>

namespace ringlm::gpu_check {

using testing::random_ints;
using testing::random_uniform;

namespace {

void check_rmsnorm(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 37, C = 1000;
    const double eps = 1e-5;
    const Tensor x = random_uniform({T, C}, DType::f32, rng), w = random_uniform({C}, DType::f32, rng, 0.5, 1.5);
    Tensor y = poisoned({T, C}, Device::cpu), inv_rms = poisoned({T}, Device::cpu);
    checker.check("rmsnorm_forward", [&] {
        Tensor y_gpu = poisoned({T, C}, Device::cuda), inv_rms_gpu = poisoned({T}, Device::cuda);
        cpu().rmsnorm_forward(y, inv_rms, x, w, eps);
        gpu().rmsnorm_forward(y_gpu, inv_rms_gpu, to_device(x), to_device(w), eps);
        checker.compare("rmsnorm_forward y", y_gpu, y, f32_tolerance);
        checker.compare("rmsnorm_forward inv_rms", inv_rms_gpu, inv_rms, f32_tolerance);
    });
    checker.check("rmsnorm_backward", [&] {
        const Tensor dy = random_uniform({T, C}, DType::f32, rng);
        Tensor dx = random_uniform({T, C}, DType::f32, rng), dw = random_uniform({C}, DType::f32, rng);
        Tensor dx_gpu = to_device(dx), dw_gpu = to_device(dw);
        cpu().rmsnorm_backward(dx, dw, dy, x, w, inv_rms);
        gpu().rmsnorm_backward(dx_gpu, dw_gpu, to_device(dy), to_device(x), to_device(w), to_device(inv_rms));
        checker.compare("rmsnorm_backward dx", dx_gpu, dx, f32_tolerance);
        checker.compare("rmsnorm_backward dw", dw_gpu, dw, f32_tolerance);
    });
}

// The bias of Qwen2's q/k/v projections: y += b per row, db += column sums of dy.
void check_bias(Checker& checker, std::mt19937_64& rng) {
    const int64_t rows = 300, C = 700;
    const Tensor b = random_uniform({C}, DType::f32, rng);
    checker.check("add_bias", [&] {
        Tensor y = random_uniform({rows, C}, DType::f32, rng), y_gpu = to_device(y);
        cpu().add_bias(y, b);
        gpu().add_bias(y_gpu, to_device(b));
        checker.compare("add_bias", y_gpu, y, f32_tolerance);
    });
    checker.check("sum_rows", [&] {
        const Tensor dy = random_uniform({rows, C}, DType::f32, rng);
        Tensor db = random_uniform({C}, DType::f32, rng), db_gpu = to_device(db);
        cpu().sum_rows(db, dy);
        gpu().sum_rows(db_gpu, to_device(dy));
        checker.compare("sum_rows", db_gpu, db, f32_tolerance);
    });
}

void check_rope(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 33, H = 4, D = 64;
    const double theta = 10000.0;
    const Tensor x = random_uniform({T, H, D}, DType::f32, rng);
    const Tensor positions = random_ints({T}, rng, 0, 1 << 17);  // long context: angles up to ~1e5 rad
    // the unscaled table, and a scaled one (arbitrary values, as a YaRN or llama3 table, with
    // an attention factor): the kernels read whatever table they are given
    const Tensor table = default_rope_frequencies(theta, D).inverse_frequency;
    const Tensor scaled = random_uniform({D / 2}, DType::f64, rng, 0.0, 1.0);
    for (const auto& [name, frequencies, scale] :
         {std::tuple{"rope", table, 1.0}, std::tuple{"rope_table", scaled, 1.2}}) {
        checker.check(std::string(name) + "_forward", [&] {
            Tensor y = poisoned({T, H, D}, Device::cpu), y_gpu = poisoned({T, H, D}, Device::cuda);
            cpu().rope_forward(y, x, positions, frequencies, scale);
            gpu().rope_forward(y_gpu, to_device(x), to_device(positions), to_device(frequencies), scale);
            checker.compare(std::string(name) + "_forward", y_gpu, y, f32_tolerance);
        });
        checker.check(std::string(name) + "_backward", [&] {
            Tensor dx = random_uniform({T, H, D}, DType::f32, rng), dx_gpu = to_device(dx);
            cpu().rope_backward(dx, x, positions, frequencies, scale);
            gpu().rope_backward(dx_gpu, to_device(x), to_device(positions), to_device(frequencies), scale);
            checker.compare(std::string(name) + "_backward", dx_gpu, dx, f32_tolerance);
        });
    }
}

void check_swiglu(Checker& checker, std::mt19937_64& rng) {
    const Shape shape{50, 300};
    const Tensor gate = random_uniform(shape, DType::f32, rng, -4, 4), up = random_uniform(shape, DType::f32, rng);
    checker.check("swiglu_forward", [&] {
        Tensor out = poisoned(shape, Device::cpu), out_gpu = poisoned(shape, Device::cuda);
        cpu().swiglu_forward(out, gate, up);
        gpu().swiglu_forward(out_gpu, to_device(gate), to_device(up));
        checker.compare("swiglu_forward", out_gpu, out, f32_tolerance);
    });
    checker.check("swiglu_backward", [&] {
        const Tensor dout = random_uniform(shape, DType::f32, rng);
        Tensor dgate = random_uniform(shape, DType::f32, rng), dup = random_uniform(shape, DType::f32, rng);
        Tensor dgate_gpu = to_device(dgate), dup_gpu = to_device(dup);
        cpu().swiglu_backward(dgate, dup, dout, gate, up);
        gpu().swiglu_backward(dgate_gpu, dup_gpu, to_device(dout), to_device(gate), to_device(up));
        checker.compare("swiglu_backward dgate", dgate_gpu, dgate, f32_tolerance);
        checker.compare("swiglu_backward dup", dup_gpu, dup, f32_tolerance);
    });
}

// A small vocabulary (most ids repeat), Llama 3's (the device sort's 17 key bits), and 70000
// tokens that are all the last id (one run as long as the batch). That row's sums have 70000
// f32 terms, added from 0 on the GPU and onto the old row on the CPU: their rounding differs
// by about eps x sqrt(n) relative, so it is held to 1e-4.
void check_embedding(Checker& checker, std::mt19937_64& rng) {
    for (const auto& [V, C, T, suffix] :
         {std::tuple<int64_t, int64_t, int64_t, std::string>{50, 96, 300, ""},
          {128256, 64, 4096, ", vocab 128256"},
          {1000, 64, 70000, ", 70000 tokens of one id"}}) {
        const Tensor table = random_uniform({V, C}, DType::f32, rng);
        Tensor ids = random_ints({T}, rng, 0, static_cast<int32_t>(V));
        if (T == 70000) std::fill_n(ids.data<int32_t>(), T, static_cast<int32_t>(V - 1));
        checker.check("embedding_forward" + suffix, [&] {
            Tensor out = poisoned({T, C}, Device::cpu), out_gpu = poisoned({T, C}, Device::cuda);
            cpu().embedding_forward(out, table, ids);
            gpu().embedding_forward(out_gpu, to_device(table), to_device(ids));
            checker.compare("embedding_forward" + suffix, out_gpu, out, f32_tolerance);
        });
        checker.check("embedding_backward" + suffix, [&] {
            const Tensor dout = random_uniform({T, C}, DType::f32, rng);
            Tensor dtable = random_uniform({V, C}, DType::f32, rng), dtable_gpu = to_device(dtable);
            cpu().embedding_backward(dtable, dout, ids);
            gpu().embedding_backward(dtable_gpu, to_device(dout), to_device(ids));
            checker.compare("embedding_backward" + suffix, dtable_gpu, dtable, T == 70000 ? 1e-4 : f32_tolerance);
        });
    }
}

void check_softmax(Checker& checker, std::mt19937_64& rng) {
    const Shape shape{20, 1001};
    const Tensor x = random_uniform(shape, DType::f32, rng, -5, 5);
    Tensor y = poisoned(shape, Device::cpu);
    checker.check("softmax_forward", [&] {
        Tensor y_gpu = poisoned(shape, Device::cuda);
        cpu().softmax_forward(y, x);
        gpu().softmax_forward(y_gpu, to_device(x));
        checker.compare("softmax_forward", y_gpu, y, f32_tolerance);
    });
    checker.check("softmax_backward", [&] {
        const Tensor dy = random_uniform(shape, DType::f32, rng);
        Tensor dx = random_uniform(shape, DType::f32, rng), dx_gpu = to_device(dx);
        cpu().softmax_backward(dx, dy, y);
        gpu().softmax_backward(dx_gpu, to_device(dy), to_device(y));
        checker.compare("softmax_backward", dx_gpu, dx, f32_tolerance);
    });
}

void check_cross_entropy(Checker& checker, std::mt19937_64& rng) {
    const int64_t R = 40, V = 3001;
    const Tensor logits = random_uniform({R, V}, DType::f32, rng, -5, 5);
    Tensor labels = random_ints({R}, rng, 0, static_cast<int32_t>(V));
    for (int64_t r = 0; r < R; r += 4) labels.data<int32_t>()[r] = -100;  // ignored rows
    Tensor losses = poisoned({R}, Device::cpu), lse = poisoned({R}, Device::cpu);
    checker.check("cross_entropy_forward", [&] {
        Tensor losses_gpu = poisoned({R}, Device::cuda), lse_gpu = poisoned({R}, Device::cuda);
        cpu().cross_entropy_forward(losses, lse, logits, labels);
        gpu().cross_entropy_forward(losses_gpu, lse_gpu, to_device(logits), to_device(labels));
        checker.compare("cross_entropy_forward losses", losses_gpu, losses, f32_tolerance);
        checker.compare("cross_entropy_forward lse", lse_gpu, lse, f32_tolerance);
    });
    const Tensor dlosses = random_uniform({R}, DType::f32, rng);
    checker.check("cross_entropy_backward", [&] {
        Tensor dlogits = poisoned({R, V}, Device::cpu), dlogits_gpu = poisoned({R, V}, Device::cuda);
        cpu().cross_entropy_backward(dlogits, logits, lse, labels, dlosses);
        gpu().cross_entropy_backward(dlogits_gpu, to_device(logits), to_device(lse), to_device(labels),
                                     to_device(dlosses));
        checker.compare("cross_entropy_backward", dlogits_gpu, dlogits, f32_tolerance);
    });
    checker.check("cross_entropy_backward in place", [&] {
        // dlogits may alias logits (the op reuses the logits chunk as scratch)
        Tensor in_place = host_as(logits, DType::f32), in_place_gpu = to_device(logits);
        cpu().cross_entropy_backward(in_place, in_place, lse, labels, dlosses);
        gpu().cross_entropy_backward(in_place_gpu, in_place_gpu, to_device(lse), to_device(labels), to_device(dlosses));
        checker.compare("cross_entropy_backward in place", in_place_gpu, in_place, f32_tolerance);
    });
}

void check_adamw(Checker& checker, std::mt19937_64& rng) {
    const int64_t n = 10007;
    AdamWStep step;
    step.learning_rate = 1e-2f;
    step.weight_decay = 0.1f;
    step.grad_scale = 0.5f;
    step.step = 3;
    checker.check("adamw_update", [&] {
        Tensor param = random_uniform({n}, DType::f32, rng), grad = random_uniform({n}, DType::f32, rng);
        Tensor m = random_uniform({n}, DType::f32, rng, -0.1, 0.1), v = random_uniform({n}, DType::f32, rng, 0, 0.1);
        Tensor param_gpu = to_device(param), m_gpu = to_device(m), v_gpu = to_device(v);
        cpu().adamw_update(param, grad, m, v, step);
        gpu().adamw_update(param_gpu, to_device(grad), m_gpu, v_gpu, step);
        checker.compare("adamw_update param", param_gpu, param, f32_tolerance);
        checker.compare("adamw_update m", m_gpu, m, f32_tolerance);
        checker.compare("adamw_update v", v_gpu, v, f32_tolerance);
    });
    // the clipping factor from a sum of squares on the device (dot_to), as the optimizer runs it
    checker.check("adamw_update, clipped on the device", [&] {
        Tensor param = random_uniform({n}, DType::f32, rng), grad = random_uniform({n}, DType::f32, rng);
        Tensor m = random_uniform({n}, DType::f32, rng, -0.1, 0.1), v = random_uniform({n}, DType::f32, rng, 0, 0.1);
        Tensor param_gpu = to_device(param), m_gpu = to_device(m), v_gpu = to_device(v), grad_gpu = to_device(grad);
        Tensor sum_squares = poisoned({1}, Device::cpu, DType::f64), sum_squares_gpu = poisoned({1}, Device::cuda, DType::f64);
        cpu().dot_to(sum_squares, grad, grad);
        gpu().dot_to(sum_squares_gpu, grad_gpu, grad_gpu);
        checker.compare("dot_to (sum of squares)", sum_squares_gpu, sum_squares, f32_tolerance);
        AdamWStep clipped = step;
        clipped.max_grad_norm = 0.5 * std::sqrt(sum_squares.data<double>()[0]) / 7.0;  // clips by 2
        clipped.gradient_divisor = 7.0;
        clipped.gradient_sum_squares = sum_squares;
        cpu().adamw_update(param, grad, m, v, clipped);
        clipped.gradient_sum_squares = sum_squares_gpu;
        gpu().adamw_update(param_gpu, grad_gpu, m_gpu, v_gpu, clipped);
        checker.compare("adamw_update clipped param", param_gpu, param, f32_tolerance);
        checker.compare("adamw_update clipped m", m_gpu, m, f32_tolerance);
        checker.compare("adamw_update clipped v", v_gpu, v, f32_tolerance);
    });
}

// Heads [3, 7) of a [T, 8, 24] tensor viewed as [T, 192]: columns [72, 168).
void check_columns(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 301, wide = 8 * 24, narrow = 4 * 24, begin = 3 * 24;
    const Tensor source = random_uniform({T, wide}, DType::f32, rng);
    checker.check("gather_columns", [&] {
        Tensor slice = poisoned({T, narrow}, Device::cpu), slice_gpu = poisoned({T, narrow}, Device::cuda);
        cpu().gather_columns(slice, source, begin);
        gpu().gather_columns(slice_gpu, to_device(source), begin);
        checker.compare("gather_columns", slice_gpu, slice, 0.0);
    });
    checker.check("scatter_add_columns", [&] {
        const Tensor slice = random_uniform({T, narrow}, DType::f32, rng);
        Tensor accumulated = random_uniform({T, wide}, DType::f32, rng), accumulated_gpu = to_device(accumulated);
        cpu().scatter_add_columns(accumulated, slice, begin);
        gpu().scatter_add_columns(accumulated_gpu, to_device(slice), begin);
        checker.compare("scatter_add_columns", accumulated_gpu, accumulated, 0.0);
    });
}

// Offloaded checkpoints: out to page-locked host memory and back, exact, and the host waits
// for neither copy (kernels::host_waits unchanged until the check reads the result).
void check_offload(Checker& checker, std::mt19937_64& rng) {
    checker.check("offload and restore (page-locked, no wait)", [&] {
        const Tensor x = random_uniform({4096, 512}, DType::f32, rng);
        const Tensor x_gpu = to_device(x);
        const long long waits_before = kernels::host_waits;
        const Tensor offloaded = gpu().offload(x_gpu);
        const Tensor restored = gpu().restore(offloaded);
        const long long waits = kernels::host_waits - waits_before;
        checker.compare("offload and restore (exact)", restored, x, 0.0);
        checker.add("offload and restore: host waits", waits == 0, std::to_string(waits) + " waits (expected 0)");
    });
}

// The MPI transport's staging memory: page-locked (what makes its copies DMA-speed), and a
// device tensor through it and back (a large one, past the small-copy staging path) is exact.
void check_staging(Checker& checker, std::mt19937_64& rng) {
    checker.check("communication staging (page-locked)", [&] {
        const Tensor x = random_uniform({4096, 2048}, DType::f32, rng);  // 32 MiB
        const Tensor x_gpu = to_device(x);
        Tensor staged = gpu().empty_staging(x.shape(), x.dtype());
        cudaPointerAttributes attributes{};
        CUDA_CHECK(cudaPointerGetAttributes(&attributes, staged.raw()));
        checker.add("communication staging: page-locked host memory", attributes.type == cudaMemoryTypeHost,
                    "cudaPointerGetAttributes type " + std::to_string(static_cast<int>(attributes.type)) +
                        " (expected cudaMemoryTypeHost = " + std::to_string(static_cast<int>(cudaMemoryTypeHost)) +
                        ")");
        gpu().copy(staged, x_gpu);
        Tensor back = poisoned(x.shape(), Device::cuda);
        gpu().copy(back, staged);
        checker.compare("communication staging: device -> staging -> device (exact)", back, x, 0.0);
    });
}

// --- bf16 matmul ops: output and input gradients on one device, inputs bound to zeroed grads ---

// op(tape, first bf16 input, second f32 weight, its bf16 copy) -> output; upstream gradient dy.
using Bf16Op = std::function<Tensor(Tape&, const Tensor&, const Tensor&, const Tensor&)>;

std::array<Tensor, 3> run_bf16_op(const Bf16Op& op, const Tensor& x, const Tensor& w, const Tensor& dy) {
    Tape tape;
    Grads grads;
    Tensor dx = zeros_like(x), dw = zeros_like(w);
    grads.bind(x, dx);
    grads.bind(w, dw);
    Tensor w_bf16 = empty(w.shape(), DType::bf16, w.device());
    backend(w).copy(w_bf16, w);
    Tensor y = op(tape, to_bf16(tape, x), w, w_bf16);
    tape.backward(y, dy, grads);
    return {y, dx, dw};
}

void compare_bf16_op(Checker& checker, const std::string& name, const Bf16Op& op, const Tensor& x, const Tensor& w,
                     const Tensor& dy) {
    checker.check(name, [&] {
        const std::array<Tensor, 3> on_cpu = run_bf16_op(op, x, w, dy);
        const std::array<Tensor, 3> on_gpu = run_bf16_op(op, to_device(x), to_device(w), to_device(dy));
        checker.compare(name + " forward", on_gpu[0], on_cpu[0], bf16_tolerance);
        checker.compare(name + " backward dx", on_gpu[1], on_cpu[1], bf16_tolerance);
        checker.compare(name + " backward dw", on_gpu[2], on_cpu[2], bf16_tolerance);
    });
}

void check_bf16_matmuls(Checker& checker, std::mt19937_64& rng) {
    // y = bf16(x) @ bf16(w)^T in f32; dx = bf16(dy) @ bf16(w), dw = bf16(dy)^T @ bf16(x)
    const int64_t T = 300, in = 512, out = 384;
    const Tensor x = random_uniform({T, in}, DType::f32, rng), w = random_uniform({out, in}, DType::f32, rng);
    const Tensor dy = random_uniform({T, out}, DType::f32, rng);
    compare_bf16_op(checker, "linear bf16 (to_bf16 + linear)",
                    [](Tape& tape, const Tensor& x_bf16, const Tensor& weight, const Tensor& weight_bf16) {
                        return linear(tape, x_bf16, weight, weight_bf16);
                    },
                    x, w, dy);
    // the LM head: f32 logits from bf16 hidden and classifier, chunked, lse and losses in f32
    const int64_t V = 1000;
    const Tensor hidden = random_uniform({T, in}, DType::f32, rng), classifier = random_uniform({V, in}, DType::f32, rng);
    const Tensor labels = random_ints({T}, rng, 0, static_cast<int32_t>(V));
    const Tensor dlosses = random_uniform({T}, DType::f32, rng, 0.5, 1.5);
    compare_bf16_op(checker, "cross_entropy bf16 head",
                    [&labels](Tape& tape, const Tensor& hidden_bf16, const Tensor& weight, const Tensor& weight_bf16) {
                        const Tensor labels_here =
                            hidden_bf16.device() == Device::cpu ? labels : to_device(labels);
                        return cross_entropy(tape, hidden_bf16, weight, labels_here, 128, weight_bf16);
                    },
                    hidden, classifier, dlosses);
}

// The tiled MLP (config tiled_mlp) through the tape, f32: 3 tiles over 300 rows, the last short.
std::array<Tensor, 5> run_tiled_mlp(const std::array<Tensor, 4>& in, const Tensor& dy) {
    Tape tape;
    Grads grads;
    std::array<Tensor, 5> out;
    for (size_t i = 0; i < in.size(); i++) {
        out[i + 1] = zeros_like(in[i]);
        grads.bind(in[i], out[i + 1]);
    }
    out[0] = tiled_mlp(tape, in[0], in[1], in[2], in[3], 128);
    tape.backward(out[0], dy, grads);
    return out;
}

void check_tiled_mlp(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 300, C = 256, F = 688;
    const std::array<Tensor, 4> in{random_uniform({T, C}, DType::f32, rng), random_uniform({F, C}, DType::f32, rng),
                                   random_uniform({F, C}, DType::f32, rng), random_uniform({C, F}, DType::f32, rng)};
    const Tensor dy = random_uniform({T, C}, DType::f32, rng);
    checker.check("tiled_mlp", [&] {
        const std::array<Tensor, 5> on_cpu = run_tiled_mlp(in, dy);
        const std::array<Tensor, 5> on_gpu =
            run_tiled_mlp({to_device(in[0]), to_device(in[1]), to_device(in[2]), to_device(in[3])}, to_device(dy));
        const char* names[] = {"y", "dx", "dw1", "dw3", "dw2"};
        for (size_t i = 0; i < on_cpu.size(); i++)
            checker.compare(std::string("tiled_mlp ") + names[i], on_gpu[i], on_cpu[i], f32_tolerance);
    });
}

}  // namespace

void check_layers(Checker& checker, std::mt19937_64& rng) {
    check_rmsnorm(checker, rng);
    check_rope(checker, rng);
    check_bias(checker, rng);
    check_swiglu(checker, rng);
    check_embedding(checker, rng);
    check_softmax(checker, rng);
    check_cross_entropy(checker, rng);
    check_adamw(checker, rng);
    check_columns(checker, rng);
    check_offload(checker, rng);
    check_staging(checker, rng);
    check_bf16_matmuls(checker, rng);
    check_tiled_mlp(checker, rng);
}

}  // namespace ringlm::gpu_check
