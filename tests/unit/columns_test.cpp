// gather_columns / scatter_add_columns against plain index loops written here, on random
// shapes and offsets (including the first and last columns and a full-width slice).
#include "backend/backend.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

namespace {

struct ColumnCase {
    int64_t rows, wide_cols, narrow_cols, begin;
};

std::vector<ColumnCase> column_cases(std::mt19937_64& rng) {
    std::vector<ColumnCase> cases{{5, 12, 12, 0}, {7, 12, 4, 0}, {7, 12, 4, 8}, {1, 3, 1, 1}, {0, 8, 2, 2}};
    for (int i = 0; i < 6; i++) {  // random shapes: rows up to 200, up to 96 columns
        const int64_t rows = 1 + static_cast<int64_t>(rng() % 200), wide = 1 + static_cast<int64_t>(rng() % 96);
        const int64_t narrow = 1 + static_cast<int64_t>(rng() % wide);
        const int64_t begin = static_cast<int64_t>(rng() % (wide - narrow + 1));
        cases.push_back({rows, wide, narrow, begin});
    }
    return cases;
}

void expect_columns_match(DType dtype) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    for (const ColumnCase& c : column_cases(rng)) {
        const std::string where = fmt::format("{} rows, {} of {} columns from {}, {}, seed {}", c.rows, c.narrow_cols,
                                              c.wide_cols, c.begin, dtype_name(dtype), seed);
        const Tensor wide = random_uniform({c.rows, c.wide_cols}, dtype, rng);
        const Tensor narrow = random_uniform({c.rows, c.narrow_cols}, dtype, rng);
        const std::vector<double> wide_values = to_vector<double>(to_dtype(wide, DType::f64));
        const std::vector<double> narrow_values = to_vector<double>(to_dtype(narrow, DType::f64));

        // gather: narrow[r, c] = wide[r, begin + c]
        std::vector<double> gathered(c.rows * c.narrow_cols);
        for (int64_t r = 0; r < c.rows; r++)
            for (int64_t col = 0; col < c.narrow_cols; col++)
                gathered[r * c.narrow_cols + col] = wide_values[r * c.wide_cols + c.begin + col];
        Tensor gather_out = empty({c.rows, c.narrow_cols}, dtype);
        backend(wide).fill(gather_out, NAN);  // an element left unwritten fails
        backend(wide).gather_columns(gather_out, wide, c.begin);
        EXPECT_EQ(max_relative_error(gather_out, from_vector(gathered, gather_out.shape())), 0.0) << "gather, " << where;

        // scatter-add: wide[r, begin + c] += narrow[r, c], every other column untouched
        std::vector<double> added(wide_values);
        for (int64_t r = 0; r < c.rows; r++)
            for (int64_t col = 0; col < c.narrow_cols; col++)
                added[r * c.wide_cols + c.begin + col] += narrow_values[r * c.narrow_cols + col];
        Tensor accumulated = empty_like(wide);
        backend(wide).copy(accumulated, wide);
        backend(wide).scatter_add_columns(accumulated, narrow, c.begin);
        const Tensor expected = to_dtype(from_vector(added, accumulated.shape()), dtype);  // rounded like the kernel
        EXPECT_EQ(max_relative_error(accumulated, expected), 0.0) << "scatter_add, " << where;
    }
}

}  // namespace

TEST(Columns, F32MatchesLoops) { expect_columns_match(DType::f32); }
TEST(Columns, F64MatchesLoops) { expect_columns_match(DType::f64); }

}  // namespace ringlm
