// Llama's MLP computed `tile_rows` tokens at a time (the tiled MLP of Arctic Long Sequence
// Training, arXiv:2506.13996), so its [T, F] intermediates exist one tile at a time:
//   a = x @ w1^T,  b = x @ w3^T,  g = silu(a) * b,  y = g @ w2^T     x [T, C], w1/w3 [F, C], w2 [C, F]
// Backward, tile by tile, recomputing a, b, g from the saved x (one more forward of the MLP):
//   dg = dy @ w2,   dw2 += dy^T @ g,   (da, db) = swiglu'(dg),
//   dx += da @ w1 + db @ w3,   dw1 += da^T @ x,   dw3 += db^T @ x
// Only x is saved; the untiled MLP saves a, b and g ([T, F] each).
// In bf16 (x bf16, from to_bf16) the roundings are those of the untiled ops (linear, swiglu,
// to_bf16): a, b, g and dg are f32, g and each GEMM's dy/da/db operand are rounded to bf16,
// the products read the weights' bf16 copies, and the gradients land in the f32 masters.
#include "ops/bf16.h"
#include "ops/check.h"
#include "ops/ops.h"

#include <algorithm>

namespace ringlm {

namespace {

// Scratch for one tile of the MLP; the last tile uses the leading rows.
struct MlpTile {
    Tensor a, b, g, g_bf16;  // [tile, F]; g_bf16 only in bf16
    MlpTile(int64_t rows, int64_t F, DType dtype, Device device, bool in_bf16)
        : a(empty({rows, F}, dtype, device)), b(empty({rows, F}, dtype, device)), g(empty({rows, F}, dtype, device)),
          g_bf16(in_bf16 ? empty({rows, F}, DType::bf16, device) : Tensor()) {}
};

// The operand a GEMM reads for t: t itself in f32, else t rounded to bf16 in the leading rows
// of bf16_scratch (undefined in f32).
Tensor gemm_operand(Backend& compute, const Tensor& t, const Tensor& bf16_scratch) {
    if (!bf16_scratch.defined()) return t;
    Tensor rounded = bf16_scratch.rows(0, t.rows());
    compute.copy(rounded, t);
    return rounded;
}

// a, b and g of rows [begin, end) of x into the tile's leading rows; returns the g the w2
// product reads (bf16-rounded in bf16).
Tensor mlp_tile_forward(Backend& compute, MlpTile& tile, const Tensor& x, const Tensor& w1, const Tensor& w3,
                        int64_t begin, int64_t end) {
    const Tensor x_tile = x.rows(begin, end);
    Tensor a = tile.a.rows(0, end - begin), b = tile.b.rows(0, end - begin), g = tile.g.rows(0, end - begin);
    compute.gemm(a, x_tile, w1, false, true, 1.0, 0.0);
    compute.gemm(b, x_tile, w3, false, true, 1.0, 0.0);
    compute.swiglu_forward(g, a, b);
    return gemm_operand(compute, g, tile.g_bf16);
}

}  // namespace

Tensor tiled_mlp(Tape& tape, const Tensor& x, const Tensor& w1, const Tensor& w3, const Tensor& w2,
                 int64_t tile_rows, const Tensor& w1_bf16, const Tensor& w3_bf16, const Tensor& w2_bf16) {
    check_shape("tiled_mlp", "w1", w1, {any_size, any_size});
    check_shape("tiled_mlp", "x", x, {any_size, w1.size(1)});
    check_shape("tiled_mlp", "w3", w3, {w1.size(0), w1.size(1)});
    check_shape("tiled_mlp", "w2", w2, {w1.size(1), w1.size(0)});
    const bool in_bf16 = x.dtype() == DType::bf16;
    if (in_bf16) {
        check_bf16_weight("tiled_mlp", x, w1, w1_bf16);
        check_bf16_weight("tiled_mlp", x, w3, w3_bf16);
        check_bf16_weight("tiled_mlp", x, w2, w2_bf16);
    } else {
        check_floating("tiled_mlp", {&x, &w1, &w3, &w2});
    }
    if (tile_rows < 1) fail("tiled_mlp: tile_rows must be at least 1, got {}", tile_rows);
    const int64_t T = x.rows(), F = w1.rows();
    const DType dtype = in_bf16 ? DType::f32 : x.dtype();  // of a, b, g and y
    const Tensor w1_compute = in_bf16 ? w1_bf16 : w1, w3_compute = in_bf16 ? w3_bf16 : w3,
                 w2_compute = in_bf16 ? w2_bf16 : w2;

    Backend& compute = backend(x);
    Tensor y = empty({T, w2.rows()}, dtype, x.device());
    MlpTile tile(std::min(tile_rows, T), F, dtype, x.device(), in_bf16);
    for (int64_t begin = 0; begin < T; begin += tile_rows) {
        const int64_t end = std::min(begin + tile_rows, T);
        const Tensor g = mlp_tile_forward(compute, tile, x, w1_compute, w3_compute, begin, end);
        Tensor y_tile = y.rows(begin, end);
        compute.gemm(y_tile, g, w2_compute, false, true, 1.0, 0.0);
    }

    // Backward reads x and the compute weights; of the f32 weights only their gradients.
    tape.record("tiled_mlp", y,
                [x, w1 = TensorDescriptor(w1), w3 = TensorDescriptor(w3), w2 = TensorDescriptor(w2), w1_compute,
                 w3_compute, w2_compute, tile_rows, dtype](Grads& grads, const Tensor& dy) {
        const int64_t T = x.rows(), F = w1_compute.rows();
        const bool in_bf16 = x.dtype() == DType::bf16;
        Backend& compute = backend(x);
        Tensor dx = grads.of(x), dw1 = grads.of(w1), dw3 = grads.of(w3), dw2 = grads.of(w2);
        const int64_t rows = std::min(tile_rows, T);
        MlpTile tile(rows, F, dtype, x.device(), in_bf16);
        Tensor dg_all = empty({rows, F}, dtype, x.device());
        Tensor da_all = empty({rows, F}, dtype, x.device()), db_all = empty({rows, F}, dtype, x.device());
        // bf16: the GEMM operands dy, da, db rounded one tile at a time
        Tensor dy_bf16_all = in_bf16 ? empty({rows, dy.cols()}, DType::bf16, x.device()) : Tensor();
        Tensor dab_bf16_all = in_bf16 ? empty({rows, F}, DType::bf16, x.device()) : Tensor();
        for (int64_t begin = 0; begin < T; begin += tile_rows) {
            const int64_t end = std::min(begin + tile_rows, T), n = end - begin;
            const Tensor x_tile = x.rows(begin, end);
            const Tensor g = mlp_tile_forward(compute, tile, x, w1_compute, w3_compute, begin, end);
            const Tensor dy_tile = gemm_operand(compute, dy.rows(begin, end), dy_bf16_all);
            // dg = dy @ w2;  dw2 += dy^T @ g
            Tensor dg = dg_all.rows(0, n);
            compute.gemm(dg, dy_tile, w2_compute, false, false, 1.0, 0.0);
            compute.gemm(dw2, dy_tile, g, true, false, 1.0, 1.0);
            // (da, db) = swiglu'(dg); the backend accumulates, so start from zero
            Tensor da = da_all.rows(0, n), db = db_all.rows(0, n);
            compute.fill(da, 0.0);
            compute.fill(db, 0.0);
            compute.swiglu_backward(da, db, dg, tile.a.rows(0, n), tile.b.rows(0, n));
            // dx += db @ w3 + da @ w1;  dw3 += db^T @ x;  dw1 += da^T @ x (w3's first, in the
            // order the untiled tape runs the two linears' backwards)
            Tensor dx_tile = dx.rows(begin, end);
            for (auto [d, w, dw] : {std::tuple{db, w3_compute, dw3}, std::tuple{da, w1_compute, dw1}}) {
                const Tensor d_operand = gemm_operand(compute, d, dab_bf16_all);
                compute.gemm(dx_tile, d_operand, w, false, false, 1.0, 1.0);
                compute.gemm(dw, d_operand, x_tile, true, false, 1.0, 1.0);
            }
        }
    });
    return y;
}

}  // namespace ringlm
