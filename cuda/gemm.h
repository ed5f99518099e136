// GEMM through cuBLASLt, row-major: C = alpha * op(A) @ op(B) + beta * C, strided batches.
// A and B are f32 (computed in f32: CUBLAS_COMPUTE_32F, no TF32, so results agree with the CPU
// to ~1e-6) or bf16 (f32 accumulation); C is f32 or bf16. No fmt here (nvcc), see kernels.h.
#pragma once

#include "tensor/dtype.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <tuple>

namespace ringlm::kernels {

struct GemmCall {
    const void* a = nullptr;  // [M, K], or [K, M] when transpose_a
    const void* b = nullptr;  // [K, N], or [N, K] when transpose_b
    void* c = nullptr;        // [M, N]
    DType ab_dtype = DType::f32, c_dtype = DType::f32;
    bool transpose_a = false, transpose_b = false;
    int64_t M = 0, N = 0, K = 0;
    int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;  // in elements
    float alpha = 1.0f, beta = 0.0f;
};

class LtGemm {
public:
    LtGemm();
    ~LtGemm();
    LtGemm(const LtGemm&) = delete;
    LtGemm& operator=(const LtGemm&) = delete;
    void run(const GemmCall& call, cudaStream_t stream);

private:
    // The heuristic's choice per problem (shape, dtypes, transposes, batch, pointer alignment).
    using Key = std::tuple<int, int, bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int>;
    std::map<Key, cublasLtMatmulAlgo_t> algorithms_;
    cublasLtHandle_t handle_ = nullptr;
    void* workspace_ = nullptr;
    size_t workspace_bytes_ = 0;
};

}  // namespace ringlm::kernels
