// src/parallel/context_parallel: the auto rule and the refusals, case by case as README states
// them; and the `context_parallel:` block read as the same settings as the seed's keys.
#include "config/config.h"
#include "parallel/context_parallel.h"
#include "util/error.h"

#include <gtest/gtest.h>

namespace ringlm {
namespace {

using B = ContextParallelBackend;

ContextParallelPlan auto_plan(int64_t heads, int64_t kv_heads, int S, int per_node) {
    return plan_context_parallel(B::automatic, 0, heads, kv_heads, S, per_node, "c.yaml: ");
}

TEST(ContextParallel, AutoFollowsTheReadmeRule) {
    EXPECT_EQ(auto_plan(8, 2, 1, 1).ulysses_degree, 1);                 // S = 1
    EXPECT_EQ(auto_plan(8, 8, 4, 4).backend, B::ulysses);               // MHA, one node: 8 + 8 < 32
    EXPECT_EQ(auto_plan(8, 8, 4, 4).ulysses_degree, 4);
    EXPECT_EQ(auto_plan(8, 8, 2, 2).backend, B::ring);                  // 8 + 8 = 16: no fewer bytes
    EXPECT_EQ(auto_plan(32, 8, 4, 8).backend, B::ring);                 // Llama-3-8B at S = 4: 40 > 32
    EXPECT_EQ(auto_plan(32, 8, 8, 8).backend, B::ulysses);              // at S = 8: 40 < 64
    EXPECT_EQ(auto_plan(6, 6, 4, 4).backend, B::ring);                  // 4 does not divide 6 heads
    const ContextParallelPlan spans = auto_plan(32, 8, 16, 4);          // 4 nodes of 4 ranks
    EXPECT_EQ(spans.backend, B::usp);
    EXPECT_EQ(spans.ulysses_degree, 4);
    EXPECT_EQ(auto_plan(6, 6, 8, 4).backend, B::ring);                  // 4 per node does not split 6 heads
}

TEST(ContextParallel, ConfiguredBackendsAreCheckedAgainstTheHeads) {
    EXPECT_EQ(plan_context_parallel(B::ring, 0, 8, 8, 4, 4, "").ulysses_degree, 1);
    EXPECT_EQ(plan_context_parallel(B::ulysses, 0, 8, 2, 8, 1, "").ulysses_degree, 8);  // GQA, S > Hkv
    EXPECT_EQ(plan_context_parallel(B::usp, 2, 8, 2, 8, 8, "").ulysses_degree, 2);
    EXPECT_EQ(plan_context_parallel(B::usp, 0, 8, 2, 8, 4, "").ulysses_degree, 4);  // ranks per node
    try {
        plan_context_parallel(B::ulysses, 0, 6, 3, 4, 4, "c.yaml: ");
        ADD_FAILURE() << "6 heads over 4 ranks accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("c.yaml: context_parallel.backend ulysses: the model's 6 attention "
                                                 "heads and 3 KV heads cannot be split over size 4"),
                  std::string::npos)
            << error.what();
    }
    EXPECT_THROW(plan_context_parallel(B::usp, 4, 8, 2, 4, 4, ""), Error);  // U = S: no ring
    EXPECT_THROW(plan_context_parallel(B::usp, 0, 8, 2, 4, 1, ""), Error);  // one rank per node: U = 1
}

TEST(ContextParallel, BlockIsTheSameSettingAsTheSeedKeys) {
    const Config block = parse_config("base_model: a.bin\ncontext_parallel: {size: 4, backend: usp, ulysses_degree: 2}\n",
                                      "a.yaml");
    EXPECT_EQ(block.parallel.sequence_parallel_degree, 4);
    EXPECT_EQ(block.parallel.context_parallel_backend, B::usp);
    EXPECT_EQ(block.parallel.ulysses_degree, 2);
    const Config both = parse_config("base_model: a.bin\nsequence_parallel_degree: 4\ncontext_parallel: {size: 4}\n",
                                     "b.yaml");
    EXPECT_EQ(both.parallel.sequence_parallel_degree, 4);
    EXPECT_EQ(both.parallel.context_parallel_backend, B::automatic);
    const Config seed_keys = parse_config("base_model: a.bin\nsequence_parallel_degree: 2\n", "c.yaml");
    EXPECT_EQ(seed_keys.parallel.context_parallel_backend, B::automatic);
}

}  // namespace
}  // namespace ringlm
