// The cuDNN graph API pieces of cudnn_descriptors.h. Attribute names and types are those of
// <cudnn_graph.h> (cuDNN 9); the order of calls (tensors, operations, graph, heuristics, plan, variant pack)
// is the one the backend API requires: each descriptor is finalized before another refers to it.
#include "cudnn_descriptors.h"

#if RINGLM_WITH_CUDNN

#include "util/error.h"

namespace ringlm::cudnn {

void check(cudnnStatus_t status, const std::string& what) {
    if (status == CUDNN_STATUS_SUCCESS) return;
    char last[512] = {0};
    cudnnGetLastErrorString(last, sizeof last);
    fail("cudnn: {} failed: {}{}{}", what, cudnnGetErrorString(status), last[0] ? ": " : "", last);
}

// --- descriptors ---------------------------------------------------------------------------

Descriptor::Descriptor(cudnnBackendDescriptorType_t type) {
    check(cudnnBackendCreateDescriptor(type, &handle_), "cudnnBackendCreateDescriptor");
}

Descriptor::~Descriptor() {
    if (handle_) cudnnBackendDestroyDescriptor(handle_);
}

void Descriptor::set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
                     const void* values, const char* what) {
    check(cudnnBackendSetAttribute(handle_, name, type, count, values), std::string("setting ") + what);
}

void Descriptor::set_descriptor(cudnnBackendAttributeName_t name, const Descriptor& value, const char* what) {
    cudnnBackendDescriptor_t handle = value.get();
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &handle, what);
}

void Descriptor::finalize(const char* what) { check(cudnnBackendFinalize(handle_), std::string("finalizing ") + what); }

// --- graph builder -------------------------------------------------------------------------

Descriptor& GraphBuilder::own(cudnnBackendDescriptorType_t type) {
    owned_.push_back(std::make_unique<Descriptor>(type));
    return *owned_.back();
}

const Descriptor& GraphBuilder::tensor(const TensorSpec& spec) {
    Descriptor& tensor = own(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    const int64_t rank = static_cast<int64_t>(spec.dims.size());
    const int64_t alignment = 16;  // every real tensor starts at an allocator block (256 B aligned)
    const bool is_virtual = spec.is_virtual, by_value = spec.by_value;
    tensor.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &spec.dtype, "tensor data type");
    tensor.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, rank, spec.dims.data(), "tensor dimensions");
    tensor.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, rank, spec.strides.data(), "tensor strides");
    tensor.set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &spec.uid, "tensor unique id");
    tensor.set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment, "tensor alignment");
    tensor.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, "tensor is_virtual");
    if (by_value) tensor.set(CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, "tensor is_by_value");
    tensor.finalize("tensor descriptor");
    return tensor;
}

const Descriptor& GraphBuilder::intermediate(std::vector<int64_t> dims, std::vector<int64_t> strides,
                                             cudnnDataType_t dtype) {
    return tensor({next_virtual_uid_++, std::move(dims), std::move(strides), dtype, true, false});
}

void GraphBuilder::pointwise(cudnnPointwiseMode_t mode, const Descriptor& x, const Descriptor* b, const Descriptor* t,
                             const Descriptor& y, cudnnDataType_t precision, int64_t axis) {
    Descriptor& pointwise = own(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    pointwise.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise mode");
    pointwise.set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision, "pointwise math precision");
    if (axis >= 0) pointwise.set(CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis, "pointwise axis");
    pointwise.finalize("pointwise descriptor");

    Descriptor& operation = own(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pointwise, "pointwise op descriptor");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, "pointwise op x");
    if (b) operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b, "pointwise op b");
    if (t) operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_TDESC, *t, "pointwise op t");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, "pointwise op y");
    operation.finalize("pointwise operation");
    operations_.push_back(operation.get());
}

void GraphBuilder::matmul(const Descriptor& a, const Descriptor& b, const Descriptor& c) {
    Descriptor& matmul = own(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    matmul.set(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute, "matmul compute type");
    matmul.finalize("matmul descriptor");

    Descriptor& operation = own(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_ADESC, a, "matmul op a");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_BDESC, b, "matmul op b");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_CDESC, c, "matmul op c");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_DESC, matmul, "matmul op descriptor");
    operation.finalize("matmul operation");
    operations_.push_back(operation.get());
}

void GraphBuilder::reduction(cudnnReduceTensorOp_t op, const Descriptor& x, const Descriptor& y) {
    Descriptor& reduction = own(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    reduction.set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &op, "reduction operator");
    reduction.set(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute, "reduction compute type");
    reduction.finalize("reduction descriptor");

    Descriptor& operation = own(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    operation.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x, "reduction op x");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y, "reduction op y");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_DESC, reduction, "reduction op descriptor");
    operation.finalize("reduction operation");
    operations_.push_back(operation.get());
}

void GraphBuilder::reshape(const Descriptor& x, const Descriptor& y) {
    Descriptor& operation = own(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR);
    operation.set_descriptor(CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x, "reshape op x");
    operation.set_descriptor(CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y, "reshape op y");
    operation.finalize("reshape operation");
    operations_.push_back(operation.get());
}

std::unique_ptr<Descriptor> GraphBuilder::finalize(cudnnHandle_t handle) {
    auto graph = std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    graph->set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "operation graph handle");
    graph->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(operations_.size()),
               operations_.data(), "operation graph operations");
    graph->finalize("operation graph");
    return graph;
}

// --- plan ----------------------------------------------------------------------------------

namespace {

// The engine configs heuristics `mode` proposes for `graph` (possibly none).
std::vector<std::unique_ptr<Descriptor>> engine_configs(const Descriptor& graph, cudnnBackendHeurMode_t mode) {
    Descriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    heuristics.set_descriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph, "heuristics graph");
    heuristics.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics mode");
    heuristics.finalize("engine heuristics");
    int64_t count = 0;
    check(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                   &count, nullptr),
          "counting heuristics results");
    std::vector<std::unique_ptr<Descriptor>> configs;
    std::vector<cudnnBackendDescriptor_t> handles;
    for (int64_t i = 0; i < count; i++) {
        configs.push_back(std::make_unique<Descriptor>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
        handles.push_back(configs.back()->get());
    }
    if (count == 0) return configs;
    int64_t returned = 0;
    check(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                   &returned, handles.data()),
          "reading heuristics results");
    configs.resize(static_cast<size_t>(returned));
    return configs;
}

}  // namespace

void choose_plan(Plan& plan, cudnnHandle_t handle) {
    std::string failures;
    for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
        const char* mode_name = mode == CUDNN_HEUR_MODE_A ? "A" : "FALLBACK";
        std::vector<std::unique_ptr<Descriptor>> configs;
        try {
            configs = engine_configs(*plan.graph, mode);
        } catch (const std::exception& error) {
            failures += std::string(" [heuristics ") + mode_name + ": " + error.what() + "]";
            continue;
        }
        for (size_t i = 0; i < configs.size(); i++) {
            auto candidate = std::make_unique<Descriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
            try {
                candidate->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "plan handle");
                candidate->set_descriptor(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, *configs[i], "plan engine config");
                candidate->finalize("execution plan");
            } catch (const std::exception& error) {
                failures += std::string(" [") + mode_name + " config " + std::to_string(i) + ": " + error.what() + "]";
                continue;
            }
            int64_t workspace = 0, returned = 0;
            check(cudnnBackendGetAttribute(candidate->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                           1, &returned, &workspace),
                  "reading the plan's workspace size");
            plan.plan = std::move(candidate);
            plan.engine_config = std::move(configs[i]);
            plan.workspace_bytes = workspace;
            plan.engine = std::string("heuristics ") + mode_name + " config " + std::to_string(i) + " of " +
                          std::to_string(configs.size());
            return;
        }
        if (configs.empty()) failures += std::string(" [heuristics ") + mode_name + ": no engine config]";
    }
    fail("cudnn: no execution plan for this graph:{}", failures);
}

void execute(cudnnHandle_t handle, const Plan& plan, const std::vector<int64_t>& uids,
             const std::vector<void*>& pointers, void* workspace) {
    Descriptor variant_pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    const int64_t count = static_cast<int64_t>(uids.size());
    variant_pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, count, uids.data(), "variant pack uids");
    variant_pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, count, pointers.data(),
                     "variant pack pointers");
    variant_pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace, "variant pack workspace");
    variant_pack.finalize("variant pack");
    check(cudnnBackendExecute(handle, plan.plan->get(), variant_pack.get()), "cudnnBackendExecute (" + plan.engine + ")");
}

}  // namespace ringlm::cudnn

#endif  // RINGLM_WITH_CUDNN
