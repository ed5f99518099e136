// cuBLASLt GEMM for row-major tensors. cuBLASLt is column-major; a row-major [M, N] matrix is
// the column-major [N, M] one, so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T:
// cuBLASLt's first operand is our B, its second our A, and its output [N, M] column-major is
// our C row-major. The transposes carry over unchanged.
#include "cuda_check.h"
#include "gemm.h"


namespace ringlm::kernels {

namespace {

constexpr size_t workspace_size = size_t{32} << 20;  // what cuBLAS asks for on Hopper

cudaDataType_t cuda_type(DType dtype) {
    if (dtype == DType::bf16) return CUDA_R_16BF;
    if (dtype == DType::f32) return CUDA_R_32F;
    throw_cuda_error("ringlm", "gemm", "cuda gemm takes f32 or bf16 operands", __FILE__, __LINE__);
}

// The largest power of two (up to 256) that divides the address: what the heuristic may assume.
int alignment(const void* pointer) {
    const auto address = reinterpret_cast<uintptr_t>(pointer);
    int bytes = 256;
    while (bytes > 1 && address % bytes != 0) bytes /= 2;
    return bytes;
}

// RAII for the cuBLASLt descriptors of one call.
struct Descriptors {
    cublasLtMatmulDesc_t operation = nullptr;
    cublasLtMatrixLayout_t first = nullptr, second = nullptr, output = nullptr;
    cublasLtMatmulPreference_t preference = nullptr;
    ~Descriptors() {
        if (preference) cublasLtMatmulPreferenceDestroy(preference);
        if (output) cublasLtMatrixLayoutDestroy(output);
        if (second) cublasLtMatrixLayoutDestroy(second);
        if (first) cublasLtMatrixLayoutDestroy(first);
        if (operation) cublasLtMatmulDescDestroy(operation);
    }
};

void set_batch(cublasLtMatrixLayout_t layout, int64_t batch, int64_t stride) {
    const int32_t count = static_cast<int32_t>(batch);
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
    CUBLAS_CHECK(
        cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
}

}  // namespace

LtGemm::LtGemm() {
    CUBLAS_CHECK(cublasLtCreate(&handle_));
    CUDA_CHECK(cudaMalloc(&workspace_, workspace_size));
    workspace_bytes_ = workspace_size;
}

LtGemm::~LtGemm() {
    // At exit the runtime may be shutting down: errors here cannot be acted on.
    if (workspace_) cudaFree(workspace_);
    if (handle_) cublasLtDestroy(handle_);
}

void LtGemm::run(const GemmCall& call, cudaStream_t stream) {
    if (call.M == 0 || call.N == 0 || call.batch == 0) return;
    const cudaDataType_t ab_type = cuda_type(call.ab_dtype), c_type = cuda_type(call.c_dtype);
    Descriptors descriptors;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&descriptors.operation, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t first_op = call.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t second_op = call.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(descriptors.operation, CUBLASLT_MATMUL_DESC_TRANSA, &first_op,
                                                sizeof(first_op)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(descriptors.operation, CUBLASLT_MATMUL_DESC_TRANSB, &second_op,
                                                sizeof(second_op)));
    // Stored column-major shapes: first = B^T as stored, [N, K] (or [K, N] transposed);
    // second = A^T as stored, [K, M] (or [M, K] transposed); output = C^T, [N, M].
    const uint64_t first_rows = call.transpose_b ? call.K : call.N, first_cols = call.transpose_b ? call.N : call.K;
    const uint64_t second_rows = call.transpose_a ? call.M : call.K, second_cols = call.transpose_a ? call.K : call.M;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&descriptors.first, ab_type, first_rows, first_cols,
                                            static_cast<int64_t>(first_rows)));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&descriptors.second, ab_type, second_rows, second_cols,
                                            static_cast<int64_t>(second_rows)));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&descriptors.output, c_type, call.N, call.M, call.N));
    if (call.batch > 1) {
        set_batch(descriptors.first, call.batch, call.stride_b);
        set_batch(descriptors.second, call.batch, call.stride_a);
        set_batch(descriptors.output, call.batch, call.stride_c);
    }

    const int alignment_a = alignment(call.a), alignment_b = alignment(call.b), alignment_c = alignment(call.c);
    const Key key{static_cast<int>(call.ab_dtype), static_cast<int>(call.c_dtype), call.transpose_a, call.transpose_b,
                  call.M, call.N, call.K, call.batch, call.stride_a, call.stride_b, call.stride_c,
                  alignment_a | (alignment_b << 9) | (alignment_c << 18)};
    auto found = algorithms_.find(key);
    if (found == algorithms_.end()) {
        CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&descriptors.preference));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(descriptors.preference,
                                                          CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                                          sizeof(workspace_bytes_)));
        const uint32_t first_alignment = alignment_b, second_alignment = alignment_a, output_alignment = alignment_c;
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(descriptors.preference,
                                                          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &first_alignment,
                                                          sizeof(first_alignment)));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(descriptors.preference,
                                                          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                          &second_alignment, sizeof(second_alignment)));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(descriptors.preference,
                                                          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                          &output_alignment, sizeof(output_alignment)));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(descriptors.preference,
                                                          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                          &output_alignment, sizeof(output_alignment)));
        cublasLtMatmulHeuristicResult_t result{};
        int found_count = 0;
        CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_, descriptors.operation, descriptors.first,
                                                    descriptors.second, descriptors.output, descriptors.output,
                                                    descriptors.preference, 1, &result, &found_count));
        if (found_count == 0)
            throw_cuda_error("cuBLASLt", "cublasLtMatmulAlgoGetHeuristic", "no algorithm for this gemm", __FILE__,
                             __LINE__);
        found = algorithms_.emplace(key, result.algo).first;
    }
    CUBLAS_CHECK(cublasLtMatmul(handle_, descriptors.operation, &call.alpha, call.b, descriptors.first, call.a,
                                descriptors.second, &call.beta, call.c, descriptors.output, call.c, descriptors.output,
                                &found->second, workspace_, workspace_bytes_, stream));
}

}  // namespace ringlm::kernels
