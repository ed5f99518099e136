// The cuDNN graph (backend) API in small RAII pieces: descriptors that destroy themselves, a
// builder that turns tensors and operations into a finalized operation graph, and an execution
// plan chosen by cuDNN's heuristics. No cudnn_frontend here: this is the C descriptor API
// (cudnn_graph.h), the same calls the frontend makes underneath. cudnn_attention.cpp builds the
// attention graphs with it. Compiled only when CMake found cuDNN (RINGLM_WITH_CUDNN).
#pragma once

#if RINGLM_WITH_CUDNN

#include <cudnn_graph.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringlm::cudnn {

// Throws ringlm::Error naming `what`, cuDNN's status string and its last error message.
void check(cudnnStatus_t status, const std::string& what);

// One backend descriptor, destroyed with its owner; move-only.
class Descriptor {
public:
    explicit Descriptor(cudnnBackendDescriptorType_t type);
    ~Descriptor();
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;

    cudnnBackendDescriptor_t get() const { return handle_; }
    void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count, const void* values,
             const char* what);
    void set_descriptor(cudnnBackendAttributeName_t name, const Descriptor& value, const char* what);
    void finalize(const char* what);

private:
    cudnnBackendDescriptor_t handle_ = nullptr;
};

// A tensor of the graph: 4-D dims and strides (elements), a unique id for the variant pack
// (real tensors) or none that matters (virtual ones, which live only inside the fused kernel).
struct TensorSpec {
    int64_t uid;
    std::vector<int64_t> dims, strides;
    cudnnDataType_t dtype;
    bool is_virtual = false;
    bool by_value = false;  // a host scalar passed at execution (the attention scale, -inf, 1)
};

// Collects the operations of one graph; every descriptor lives as long as the builder (and
// the Plan that takes them over), since the operations refer to them.
class GraphBuilder {
public:
    const Descriptor& tensor(const TensorSpec& spec);
    // A virtual tensor with a fresh uid.
    const Descriptor& intermediate(std::vector<int64_t> dims, std::vector<int64_t> strides, cudnnDataType_t dtype);

    // y = op(x [, b [, t]]); math precision `precision`; axis for GEN_INDEX (else -1).
    void pointwise(cudnnPointwiseMode_t mode, const Descriptor& x, const Descriptor* b, const Descriptor* t,
                   const Descriptor& y, cudnnDataType_t precision = CUDNN_DATA_FLOAT, int64_t axis = -1);
    void matmul(const Descriptor& a, const Descriptor& b, const Descriptor& c);  // f32 accumulation
    void reduction(cudnnReduceTensorOp_t op, const Descriptor& x, const Descriptor& y);
    void reshape(const Descriptor& x, const Descriptor& y);

    // The finalized operation graph on `handle`.
    std::unique_ptr<Descriptor> finalize(cudnnHandle_t handle);
    std::vector<std::unique_ptr<Descriptor>> take_descriptors() { return std::move(owned_); }

private:
    Descriptor& own(cudnnBackendDescriptorType_t type);
    std::vector<std::unique_ptr<Descriptor>> owned_;
    std::vector<cudnnBackendDescriptor_t> operations_;
    int64_t next_virtual_uid_ = 1000;
};

// A finalized execution plan with what it was built from.
struct Plan {
    std::vector<std::unique_ptr<Descriptor>> descriptors;  // tensors, operations (kept alive)
    std::unique_ptr<Descriptor> graph;
    std::unique_ptr<Descriptor> engine_config;  // the heuristics result the plan was made from
    std::unique_ptr<Descriptor> plan;
    int64_t workspace_bytes = 0;
    std::string engine;  // "engine config 2 of 5 (heuristics mode A)", for reports
};

// Heuristics (mode A, then FALLBACK) for `graph`; the first engine config that finalizes wins.
// Throws with every config's failure when none does.
void choose_plan(Plan& plan, cudnnHandle_t handle);

// Runs `plan` with the real tensors' uids and pointers (by-value scalars: host pointers).
void execute(cudnnHandle_t handle, const Plan& plan, const std::vector<int64_t>& uids,
             const std::vector<void*>& pointers, void* workspace);

}  // namespace ringlm::cudnn

#endif  // RINGLM_WITH_CUDNN
