// The NCCL communicators between ranks, bootstrapped over MPI as a training run makes them
// (make_communicators, cuda/nccl_bootstrap.cpp): the ring around an SP group of every rank, the
// all-gather / reduce-scatter / all-to-all / all-reduce of the group, host values through the
// group's MPI communicator, and the gradient all-reduce over the world. Every result is compared bit for bit with what the
// other ranks sent (each rank regenerates every rank's inputs from the shared seed); sums are of
// small integers held in f32, so they are exact in any order.
//
// It needs a GPU per rank (NCCL refuses two ranks of a communicator on one GPU): elsewhere,
// here in CI included, every test is skipped with a line saying why, the same on every rank.
#include "mpi/mpi_test_util.h"

#include <gtest/gtest.h>
#include <mpi.h>

#ifdef RINGLM_WITH_NCCL
#include "cuda_backend.h"
#include "parallel/communicators.h"

#include <cstring>
#include <string>
#include <vector>

namespace ringlm::testing {
namespace {

// Empty when every rank can run NCCL on a GPU of its own; otherwise why not (the same on every
// rank: a skip on some ranks only would leave the others waiting in a collective).
std::string nccl_unavailable() {
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank(), MPI_INFO_NULL, &node);
    int ranks_on_node = 0;
    MPI_Comm_size(node, &ranks_on_node);
    MPI_Comm_free(&node);
    int most_ranks = ranks_on_node, fewest_devices = cuda_device_count();
    MPI_Allreduce(MPI_IN_PLACE, &most_ranks, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &fewest_devices, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (most_ranks <= fewest_devices) return "";
    return "the NCCL transport needs a GPU per rank: a node runs " + std::to_string(most_ranks) + " ranks on " +
           std::to_string(fewest_devices) + " CUDA device(s)";
}

#define SKIP_WITHOUT_GPU_PER_RANK()                           \
    do {                                                      \
        const std::string reason_ = nccl_unavailable();       \
        if (!reason_.empty()) GTEST_SKIP() << reason_;        \
    } while (0)

Tensor to_device(const Tensor& host) {
    Tensor device = empty(host.shape(), host.dtype(), Device::cuda);
    backend_for(Device::cuda).copy(device, host);
    return device;
}

Tensor to_host(const Tensor& device) {
    Tensor host = empty(device.shape(), device.dtype(), Device::cpu);
    backend_for(Device::cuda).copy(host, device);
    return host;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.bytes() == b.bytes() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// Small integers in f32: any order of summation gives the same bits.
Tensor integer_valued(Shape shape, std::mt19937_64& rng) {
    const Tensor ints = random_ints(shape, rng, -1000, 1000);
    Tensor x = empty(shape, DType::f32);
    for (int64_t i = 0; i < x.numel(); i++) x.data<float>()[i] = static_cast<float>(ints.data<int32_t>()[i]);
    return x;
}

// What rank `rank` sends around the ring: K f32, V bf16, indices i32.
std::vector<Tensor> ring_payload(uint64_t seed, int rank) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(rank));
    return {random_uniform({33, 2, 16}, DType::f32, rng), to_dtype(random_uniform({33, 2, 16}, DType::f32, rng),
                                                                   DType::bf16),
            random_ints({33}, rng, 0, 1 << 20)};
}

// Element i of the result is the sum of element i over `tensors` (exact: integer valued).
Tensor elementwise_sum(const std::vector<Tensor>& tensors) {
    Tensor sum = empty(tensors.front().shape(), DType::f32);
    for (int64_t i = 0; i < sum.numel(); i++) {
        float total = 0;
        for (const Tensor& t : tensors) total += t.data<float>()[i];
        sum.data<float>()[i] = total;
    }
    return sum;
}

// This rank on its own GPU with the NCCL communicators a training run at this S would build.
struct NcclRank {
    Topology topology;
    Communicators comms;  // after topology: made from its MPI groups
};

NcclRank nccl_rank(int sequence_parallel_degree) {
    NcclRank rank{make_topology(sequence_parallel_degree), {}};
    EXPECT_TRUE(init_cuda_backend(rank.topology.local_rank));
    rank.comms = make_communicators(rank.topology, true, rank.topology.local_rank);
    return rank;
}

TEST(NcclCommunicator, RingShiftGoesAroundTheGroup) {
    SKIP_WITHOUT_GPU_PER_RANK();
    const uint64_t seed = shared_seed();
    const NcclRank nccl = nccl_rank(world_size());
    Communicator& transport = *nccl.comms.sp;
    const int S = transport.size(), rank = transport.rank();
    // Double-buffered as ring attention does it: at step t this rank holds rank (r - t)'s block.
    std::vector<Tensor> current, next;
    for (const Tensor& t : ring_payload(seed, rank)) current.push_back(to_device(t));
    for (const Tensor& t : current) next.push_back(empty_like(t));
    for (int step = 1; step <= S; step++) {
        transport.ring_shift(current, next)->wait();
        std::swap(current, next);
        const int origin = ((rank - step) % S + S) % S;
        const std::vector<Tensor> expected = ring_payload(seed, origin);
        for (size_t i = 0; i < expected.size(); i++)
            EXPECT_TRUE(same_bits(to_host(current[i]), expected[i]))
                << "seed " << seed << ", rank " << rank << ", step " << step << ": tensor " << i << " ("
                << expected[i].describe() << ") is not rank " << origin << "'s";
    }
}

TEST(NcclCommunicator, CollectivesOfTheGroup) {
    SKIP_WITHOUT_GPU_PER_RANK();
    const uint64_t seed = shared_seed();
    const NcclRank nccl = nccl_rank(world_size());
    Communicator& transport = *nccl.comms.sp;
    const int S = transport.size(), rank = transport.rank();
    const int64_t n = 21;
    std::vector<Tensor> inputs;  // every rank's [S * n, 3], integer valued
    for (int r = 0; r < S; r++) {
        std::mt19937_64 rng(seed + static_cast<uint64_t>(r));
        inputs.push_back(integer_valued({S * n, 3}, rng));
    }
    const Tensor mine = inputs[static_cast<size_t>(rank)];

    // all-gather of each rank's first n rows: rank order
    Tensor gathered = empty({S * n, 3}, DType::f32, Device::cuda);
    transport.all_gather(to_device(mine.rows(0, n)), gathered)->wait();
    Tensor expected_gather = empty({S * n, 3}, DType::f32);
    for (int r = 0; r < S; r++)
        std::memcpy(expected_gather.rows(r * n, (r + 1) * n).raw(), inputs[static_cast<size_t>(r)].rows(0, n).raw(),
                    static_cast<size_t>(n * 3) * sizeof(float));
    EXPECT_TRUE(same_bits(to_host(gathered), expected_gather)) << "seed " << seed << ": all_gather";

    // all-to-all: block r received = rank r's block for this rank
    Tensor exchanged = empty({S * n, 3}, DType::f32, Device::cuda);
    transport.all_to_all(to_device(mine), exchanged)->wait();
    Tensor expected_exchange = empty({S * n, 3}, DType::f32);
    for (int r = 0; r < S; r++)
        std::memcpy(expected_exchange.rows(r * n, (r + 1) * n).raw(),
                    inputs[static_cast<size_t>(r)].rows(rank * n, (rank + 1) * n).raw(),
                    static_cast<size_t>(n * 3) * sizeof(float));
    EXPECT_TRUE(same_bits(to_host(exchanged), expected_exchange)) << "seed " << seed << ": all_to_all";

    // reduce-scatter: this rank's rows of the sum; all-reduce: the whole sum
    const Tensor sum = elementwise_sum(inputs);
    Tensor scattered = empty({n, 3}, DType::f32, Device::cuda);
    transport.reduce_scatter(to_device(mine), scattered)->wait();
    EXPECT_TRUE(same_bits(to_host(scattered), sum.rows(rank * n, (rank + 1) * n)))
        << "seed " << seed << ": reduce_scatter";
    const Tensor reduced = to_device(mine);
    transport.all_reduce(reduced)->wait();
    EXPECT_TRUE(same_bits(to_host(reduced), sum)) << "seed " << seed << ": all_reduce";

    // host values travel over the group's MPI communicator
    double total = rank + 1;
    transport.all_reduce_sum(&total, 1);
    EXPECT_EQ(total, S * (S + 1) / 2.0) << "all_reduce_sum of host values";
    EXPECT_EQ(transport.any(rank == S - 1), true) << "stop vote";
}

// S = 2: at 2 ranks one SP group (the world communicator is the SP one), at 4 ranks two SP
// groups across two DP groups (a world communicator of its own).
TEST(NcclCommunicator, GradientAllReduceSumsOverTheWorld) {
    SKIP_WITHOUT_GPU_PER_RANK();
    if (world_size() % 2 != 0) GTEST_SKIP() << "needs an even number of ranks";
    const uint64_t seed = shared_seed();
    const NcclRank nccl = nccl_rank(2);
    const Topology& topology = nccl.topology;
    Communicator& world = *nccl.comms.world;
    std::vector<Tensor> gradients;
    for (int r = 0; r < topology.world_size; r++) {
        std::mt19937_64 rng(seed + static_cast<uint64_t>(r));
        gradients.push_back(integer_valued({1000}, rng));
    }
    const Tensor expected = elementwise_sum(gradients);
    Tensor mine = to_device(gradients[static_cast<size_t>(topology.rank)]);
    world.all_reduce(mine)->wait();
    world.synchronize();
    EXPECT_TRUE(same_bits(to_host(mine), expected))
        << "seed " << seed << ", rank " << topology.rank << " (S=2, D=" << topology.dp_size << ")";
}

}  // namespace
}  // namespace ringlm::testing

#else  // a build without NCCL (no CUDA toolkit, or no NCCL next to it)

TEST(NcclCommunicator, NeedsNccl) { GTEST_SKIP() << "this build has no NCCL transport (RINGLM_WITH_NCCL is off)"; }

#endif
