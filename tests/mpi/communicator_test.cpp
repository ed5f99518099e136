// The MPI Communicator of every group a run makes (make_communicators: world, SP, DP), checked
// against values every rank regenerates from the shared seed: the all-reduce of a gradient-like
// f32 tensor (integer valued, so every summation order gives the same bits), host sums and
// maxima, broadcasts from a random root, the gather of lists of random lengths, the stop vote
// and the collective error (the lowest failing rank's message on every rank). The tensor
// exchanges (ring shift, all-gather, reduce-scatter, all-to-all) are checked through ring and
// Ulysses attention in ring_attention_test.cpp and varlen_attention_test.cpp; here also through
// host copies (the path of device tensors, MpiStaging::every_tensor), against values every rank
// regenerates.
#include "mpi/mpi_test_util.h"
#include "parallel/communicators.h"
#include "parallel/mpi_communicator.h"
#include "parallel/nccl.h"
#include "util/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ringlm::testing {
namespace {

// A Topology and its communicators at a random S dividing the world (the same on every rank).
struct Groups {
    Topology topology;
    Communicators comms;  // after topology: made from its MPI groups
};

Groups random_groups(std::mt19937_64& rng) {
    std::vector<int> divisors;
    for (int d = 1; d <= world_size(); d++)
        if (world_size() % d == 0) divisors.push_back(d);
    Groups groups{make_topology(divisors[rng() % divisors.size()]), {}};
    groups.comms = make_communicators(groups.topology, false, -1);
    return groups;
}

// The world ranks of the group this rank is in, in group rank order.
std::vector<int> members(const Topology& t, Communicator& group, const Communicators& comms) {
    std::vector<int> ranks;
    for (int r = 0; r < t.world_size; r++) {
        const bool same_sp = r / t.sp_size == t.rank / t.sp_size, same_dp = r % t.sp_size == t.rank % t.sp_size;
        if (&group == comms.world.get() || (&group == comms.sp.get() && same_sp) || (&group == comms.dp.get() && same_dp))
            ranks.push_back(r);
    }
    return ranks;
}

// Integer-valued f32: sums are exact in any order.
std::vector<float> integer_values(uint64_t seed, int rank, size_t n) {
    std::mt19937_64 rng(seed + 7919 * static_cast<uint64_t>(rank));
    std::vector<float> values(n);
    for (float& v : values) v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000);
    return values;
}

TEST(Communicator, GroupsMatchTheTopology) {
    const uint64_t seed = shared_seed();
    std::mt19937_64 rng(seed);
    const Groups g = random_groups(rng);
    const Topology& t = g.topology;
    EXPECT_EQ(g.comms.world->size(), t.world_size);
    EXPECT_EQ(g.comms.world->rank(), t.rank);
    EXPECT_EQ(g.comms.sp->size(), t.sp_size);
    EXPECT_EQ(g.comms.sp->rank(), t.sp_rank);
    EXPECT_EQ(g.comms.dp->size(), t.dp_size);
    EXPECT_EQ(g.comms.dp->rank(), t.dp_rank);
}

TEST(Communicator, SumsAndMaximaOfEveryGroup) {
    const uint64_t seed = shared_seed();
    std::mt19937_64 rng(seed);
    const Groups g = random_groups(rng);
    for (Communicator* group : {g.comms.world.get(), g.comms.sp.get(), g.comms.dp.get()}) {
        const std::vector<int> ranks = members(g.topology, *group, g.comms);
        const size_t n = 1 + rng() % 5000;
        // the gradient sum: a host f32 tensor, in place
        Tensor x = empty({static_cast<int64_t>(n)}, DType::f32);
        const std::vector<float> mine = integer_values(seed, g.topology.rank, n);
        std::copy(mine.begin(), mine.end(), x.data<float>());
        group->all_reduce(x)->wait();
        group->synchronize();
        std::vector<float> expected(n, 0.0f);
        for (int r : ranks) {
            const std::vector<float> theirs = integer_values(seed, r, n);
            for (size_t i = 0; i < n; i++) expected[i] += theirs[i];
        }
        for (size_t i = 0; i < n; i++)
            ASSERT_EQ(x.data<float>()[i], expected[i]) << "seed " << seed << ", element " << i << " of " << n;
        // host values
        double sums[2] = {static_cast<double>(g.topology.rank), 0.5};
        group->all_reduce_sum(sums, 2);
        double expected_sum = 0;
        for (int r : ranks) expected_sum += r;
        EXPECT_EQ(sums[0], expected_sum) << "seed " << seed;
        EXPECT_EQ(sums[1], 0.5 * static_cast<double>(ranks.size())) << "seed " << seed;
        int64_t maxima[2] = {-static_cast<int64_t>(g.topology.rank), static_cast<int64_t>(g.topology.rank) * 3};
        group->all_reduce_max(maxima, 2);
        EXPECT_EQ(maxima[0], -ranks.front()) << "seed " << seed;
        EXPECT_EQ(maxima[1], 3 * ranks.back()) << "seed " << seed;
    }
}

TEST(Communicator, BroadcastAndGatherFromAnyRank) {
    const uint64_t seed = shared_seed();
    std::mt19937_64 rng(seed);
    const Groups g = random_groups(rng);
    for (Communicator* group : {g.comms.world.get(), g.comms.sp.get(), g.comms.dp.get()}) {
        const std::vector<int> ranks = members(g.topology, *group, g.comms);
        const int root = static_cast<int>(rng() % static_cast<uint64_t>(group->size()));
        const std::string text(rng() % 3000, static_cast<char>('a' + rng() % 26));
        const std::string mine = group->rank() == root ? text : "rank " + std::to_string(g.topology.rank);
        EXPECT_EQ(group->broadcast(mine, root), text) << "seed " << seed << ", root " << root;
        // lists of random lengths (empty ones too), each rank's made from its world rank
        auto list_of = [&](int world_rank) {
            std::mt19937_64 own(seed + static_cast<uint64_t>(world_rank));
            std::vector<int32_t> list(own() % 40);
            for (int32_t& v : list) v = static_cast<int32_t>(own());
            return list;
        };
        const std::vector<std::vector<int32_t>> all = group->all_gather_varying(list_of(g.topology.rank));
        ASSERT_EQ(all.size(), ranks.size());
        for (size_t r = 0; r < ranks.size(); r++) EXPECT_EQ(all[r], list_of(ranks[r])) << "seed " << seed << ", rank " << r;
    }
}

TEST(Communicator, StopVoteAndCollectiveError) {
    const uint64_t seed = shared_seed();
    std::mt19937_64 rng(seed);
    Communicator& world = world_communicator();
    const int W = world.size();
    EXPECT_FALSE(world.any(false));
    const int voter = static_cast<int>(rng() % static_cast<uint64_t>(W));
    EXPECT_TRUE(world.any(world.rank() == voter)) << "seed " << seed << ", voter " << voter;
    EXPECT_NO_THROW(world.fail_together(""));
    // a random set of failing ranks: every rank throws the lowest one's message
    std::vector<bool> failing(static_cast<size_t>(W));
    int lowest = -1;
    for (int r = W - 1; r >= 0; r--)
        if ((failing[static_cast<size_t>(r)] = rng() % 2 == 0)) lowest = r;
    if (lowest < 0) {
        failing[static_cast<size_t>(W - 1)] = true;
        lowest = W - 1;
    }
    const std::string mine = failing[static_cast<size_t>(world.rank())] ? "broke on " + std::to_string(world.rank()) : "";
    try {
        world.fail_together(mine);
        ADD_FAILURE() << "fail_together did not throw, seed " << seed;
    } catch (const UniformError& error) {
        EXPECT_EQ(std::string(error.what()), fmt::format("rank {}: broke on {}", lowest, lowest)) << "seed " << seed;
    }
    try {
        world.check_together([&] {
            if (failing[static_cast<size_t>(world.rank())]) fail("broke on {}", world.rank());
        });
        ADD_FAILURE() << "check_together did not throw, seed " << seed;
    } catch (const UniformError& error) {
        const std::string expected = lowest == 0 ? "broke on 0" : fmt::format("rank {}: broke on {}", lowest, lowest);
        EXPECT_EQ(std::string(error.what()), expected) << "seed " << seed;
    }
}

// Outputs start as NaN: a staged exchange writes them only in wait().
Tensor poisoned_f32(int64_t n) {
    return from_vector(std::vector<float>(static_cast<size_t>(n), std::numeric_limits<float>::quiet_NaN()), {n});
}

// Every tensor exchange through host copies (what a device tensor takes): the outputs stay
// untouched until wait(), then hold the values every rank regenerates, element for element.
TEST(Communicator, ExchangesThroughHostCopies) {
    const uint64_t seed = shared_seed();
    const int S = world_size(), rank = world_rank();
    const std::unique_ptr<Communicator> staged = make_mpi_communicator(MPI_COMM_WORLD, MPI_COMM_NULL, MPI_COMM_NULL,
                                                                       MpiStaging::every_tensor);
    const size_t n = 1000 * static_cast<size_t>(S);  // divisible by S for reduce-scatter and all-to-all
    std::vector<std::vector<float>> every_rank;  // what each rank sends, regenerated here
    for (int r = 0; r < S; r++) every_rank.push_back(integer_values(seed, r, n));
    const Tensor mine = from_vector(every_rank[static_cast<size_t>(rank)], {static_cast<int64_t>(n)});
    auto expect_poisoned = [&](const Tensor& t, const char* what) {
        EXPECT_TRUE(std::isnan(t.data<float>()[0]) && std::isnan(t.data<float>()[t.numel() - 1]))
            << what << ": written before wait(), seed " << seed;
    };

    // ring shift: the previous rank's values (and an i32 tensor beside them)
    Tensor received = poisoned_f32(static_cast<int64_t>(n));
    const Tensor ids = from_vector(std::vector<int32_t>{rank, 7 * rank}, {2});
    Tensor ids_received = from_vector(std::vector<int32_t>{-1, -1}, {2});
    auto shift = staged->ring_shift({mine, ids}, {received, ids_received});
    expect_poisoned(received, "ring_shift");
    shift->wait();
    const int previous = (rank + S - 1) % S;
    EXPECT_EQ(to_vector<float>(received), every_rank[static_cast<size_t>(previous)]) << "ring_shift, seed " << seed;
    EXPECT_EQ(to_vector<int32_t>(ids_received), (std::vector<int32_t>{previous, 7 * previous})) << "seed " << seed;

    // a ring shift of 16 MiB (sent late, not eagerly): a same-size tensor allocated and
    // overwritten before wait() must not be the staged send buffer
    const size_t large = size_t{1} << 22;
    Tensor large_received = poisoned_f32(static_cast<int64_t>(large));
    // alive: only a freed staging copy can be reused
    const Tensor large_values = from_vector(integer_values(seed, rank, large), {static_cast<int64_t>(large)});
    auto large_shift = staged->ring_shift({large_values}, {large_received});
    Tensor same_size = empty({static_cast<int64_t>(large)}, DType::f32);
    backend(same_size).fill(same_size, -1.0);
    large_shift->wait();
    EXPECT_EQ(to_vector<float>(large_received), integer_values(seed, previous, large)) << "large ring_shift, seed " << seed;

    // all-gather: every rank's values in rank order
    Tensor gathered = poisoned_f32(static_cast<int64_t>(n) * S);
    auto gather = staged->all_gather(mine, gathered);
    expect_poisoned(gathered, "all_gather");
    gather->wait();
    std::vector<float> all;
    for (const std::vector<float>& values : every_rank) all.insert(all.end(), values.begin(), values.end());
    EXPECT_EQ(to_vector<float>(gathered), all) << "all_gather, seed " << seed;

    // reduce-scatter: this rank's block of the sum; all-to-all: block `rank` of every rank
    const size_t block = n / static_cast<size_t>(S);
    Tensor scattered = poisoned_f32(static_cast<int64_t>(block)), exchanged = poisoned_f32(static_cast<int64_t>(n));
    auto scatter = staged->reduce_scatter(mine, scattered);
    auto to_all = staged->all_to_all(mine, exchanged);
    expect_poisoned(scattered, "reduce_scatter");
    expect_poisoned(exchanged, "all_to_all");
    scatter->wait();
    to_all->wait();
    std::vector<float> block_sum(block, 0.0f), blocks;
    for (const std::vector<float>& values : every_rank) {
        const size_t first = static_cast<size_t>(rank) * block;
        for (size_t i = 0; i < block; i++) block_sum[i] += values[first + i];
        blocks.insert(blocks.end(), values.begin() + static_cast<std::ptrdiff_t>(first),
                      values.begin() + static_cast<std::ptrdiff_t>(first + block));
    }
    EXPECT_EQ(to_vector<float>(scattered), block_sum) << "reduce_scatter, seed " << seed;
    EXPECT_EQ(to_vector<float>(exchanged), blocks) << "all_to_all, seed " << seed;

    // all-reduce in place: the sum over ranks, written back only in wait()
    Tensor summed = from_vector(every_rank[static_cast<size_t>(rank)], {static_cast<int64_t>(n)});
    auto reduce = staged->all_reduce(summed);
    EXPECT_EQ(to_vector<float>(summed), every_rank[static_cast<size_t>(rank)]) << "all_reduce wrote before wait(), seed " << seed;
    reduce->wait();
    std::vector<float> total(n, 0.0f);
    for (const std::vector<float>& values : every_rank)
        for (size_t i = 0; i < n; i++) total[i] += values[i];
    EXPECT_EQ(to_vector<float>(summed), total) << "all_reduce, seed " << seed;
}

TEST(Communicator, NcclAskedForInABuildWithoutIt) {
    if (nccl_available()) GTEST_SKIP() << "this build has NCCL (nccl_communicator_test.cpp covers it)";
    try {
        make_nccl_communicator(std::shared_ptr<Communicator>(&world_communicator(), [](Communicator*) {}), 0);
        ADD_FAILURE() << "make_nccl_communicator did not throw";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("built without NCCL"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace ringlm::testing
