// Shapes, views, row ranges, dtype checks and the bf16 conversion.
#include "backend/backend.h"
#include "tensor/allocator.h"
#include "tensor/tensor.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

namespace ringlm {
using namespace ringlm::testing;

TEST(Shape, SizesAndErrors) {
    Shape shape{2, 3, 4};
    EXPECT_EQ(shape.rank, 3);
    EXPECT_EQ(shape.numel(), 24);
    EXPECT_EQ(shape[-1], 4);
    EXPECT_EQ(shape[0], 2);
    EXPECT_EQ(shape.str(), "[2, 3, 4]");
    EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
    EXPECT_EQ(Shape({5, 0}).numel(), 0);
    EXPECT_NE(Shape({2, 3}), Shape({3, 2}));
    EXPECT_NE(Shape({6}), Shape({6, 1}));
    EXPECT_THROW(Shape({1, 2, 3, 4, 5}), Error);
    EXPECT_THROW(Shape({2, -1}), Error);
}

TEST(Tensor, FactoriesGiveShapeDtypeAndSize) {
    Tensor x = empty({3, 5}, DType::f64);
    EXPECT_TRUE(x.defined());
    EXPECT_FALSE(Tensor{}.defined());
    EXPECT_EQ(x.dtype(), DType::f64);
    EXPECT_EQ(x.rows(), 3);
    EXPECT_EQ(x.cols(), 5);
    EXPECT_EQ(x.bytes(), 3u * 5u * 8u);
    EXPECT_EQ(x.describe(), "f64 [3, 5]");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(x.raw()) % 64, 0u);  // cache-line aligned
    Tensor y = empty({2, 3, 4});
    EXPECT_EQ(y.rows(), 6);  // everything before the last dimension
    EXPECT_EQ(y.cols(), 4);
    Tensor z = zeros({7, 3}, DType::i32);
    for (int32_t value : to_vector<int32_t>(z)) EXPECT_EQ(value, 0);
    EXPECT_NE(empty({1}).id(), empty({1}).id());
    EXPECT_THROW(from_vector<float>({1, 2, 3}, {2, 2}), Error);
}

TEST(Tensor, ViewSharesStorage) {
    Tensor x = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
    Tensor flat = x.view({6});
    Tensor columns = x.view({3, 2});
    EXPECT_NE(flat.id(), x.id());  // autograd tells them apart
    EXPECT_EQ(flat.raw(), x.raw());
    flat.data<float>()[4] = 40;
    EXPECT_EQ(x.data<float>()[1 * 3 + 1], 40);
    EXPECT_EQ(columns.data<float>()[2 * 2 + 0], 40);
    Tensor copy = x;  // a copy of the handle is the same tensor
    EXPECT_EQ(copy.id(), x.id());
    EXPECT_THROW(x.view({4}), Error);
    EXPECT_THROW(x.view({2, 2}), Error);
}

TEST(Tensor, RowsShareStorageAtTheRightOffset) {
    const int64_t T = 5, C = 3;
    std::vector<float> values(T * C);
    for (size_t i = 0; i < values.size(); i++) values[i] = static_cast<float>(i);
    Tensor x = from_vector(values, {T, C});
    Tensor middle = x.rows(1, 4);
    EXPECT_EQ(middle.shape(), Shape({3, C}));
    EXPECT_EQ(middle.data<float>()[0], 3.0f);  // row 1, column 0
    Tensor nested = middle.rows(1, 2);  // row 2 of x
    EXPECT_EQ(nested.shape(), Shape({1, C}));
    for (int64_t c = 0; c < C; c++) EXPECT_EQ(nested.data<float>()[c], static_cast<float>(2 * C + c));
    nested.data<float>()[2] = -1;
    EXPECT_EQ(x.data<float>()[2 * C + 2], -1.0f);
    // rows of a 3-D tensor step over whole [H, D] blocks
    Tensor heads = zeros({4, 2, 3});
    Tensor last = heads.rows(3, 4);
    last.data<float>()[5] = 7;
    EXPECT_EQ(heads.data<float>()[3 * 6 + 5], 7.0f);
    // empty ranges are fine, the end of the tensor included
    EXPECT_EQ(x.rows(2, 2).numel(), 0);
    EXPECT_EQ(x.rows(T, T).numel(), 0);
    EXPECT_THROW(x.rows(-1, 2), Error);
    EXPECT_THROW(x.rows(3, 2), Error);
    EXPECT_THROW(x.rows(0, T + 1), Error);
    EXPECT_THROW(middle.rows(0, 4), Error);  // bounds are the view's, not the storage's
    Tensor scalar = empty({});
    EXPECT_THROW(scalar.rows(0, 1), Error);
}

TEST(Tensor, ReadingAsTheWrongTypeThrows) {
    Tensor x = zeros({2, 2});
    EXPECT_NO_THROW(x.data<float>());
    EXPECT_THROW(x.data<double>(), Error);
    EXPECT_THROW(x.data<int32_t>(), Error);
    Tensor ids = zeros({3}, DType::i32);
    EXPECT_THROW(ids.data<float>(), Error);
    EXPECT_THROW(to_vector<int64_t>(ids), Error);
}

TEST(Tensor, WrapNeitherAllocatesNorFrees) {
    std::vector<double> buffer(12, 1.5);
    const size_t before = cpu_allocator().stats().bytes_in_use;
    {
        Tensor x = wrap(buffer.data(), {3, 4}, DType::f64);
        EXPECT_EQ(x.data<double>(), buffer.data());
        x.data<double>()[11] = 2.5;
        EXPECT_EQ(cpu_allocator().stats().bytes_in_use, before);
    }
    EXPECT_EQ(buffer[11], 2.5);
    EXPECT_EQ(cpu_allocator().stats().bytes_in_use, before);
}

// --- bfloat16 ---------------------------------------------------------------------------

namespace {

// Round a finite float to bfloat16 arithmetically, sharing nothing with to_bfloat16's bit
// trick: bf16 keeps 8 significant bits, so its spacing near |x| in [2^(e-1), 2^e) is
// 2^(e-8), never finer than the subnormal spacing 2^-133. nearbyint rounds half to even.
float bf16_reference(float value) {
    if (value == 0) return value;
    int exponent = 0;
    std::frexp(static_cast<double>(value), &exponent);  // |value| in [2^(exponent-1), 2^exponent)
    const double spacing = std::ldexp(1.0, std::max(exponent - 8, -133));
    const double rounded = std::nearbyint(static_cast<double>(value) / spacing) * spacing;
    if (std::fabs(rounded) > std::numeric_limits<float>::max())  // rounded up past the largest
        return std::copysign(std::numeric_limits<float>::infinity(), value);
    return static_cast<float>(rounded);
}

float float_from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }

}  // namespace

TEST(BFloat16, KnownValuesRoundToNearestEven) {
    auto round_trip = [](float value) { return from_bfloat16(to_bfloat16(value)); };
    // exactly representable values come back unchanged
    for (float value : {0.0f, -0.0f, 1.0f, -2.5f, 0.15625f, 65280.0f, std::ldexp(1.0f, -133)})
        EXPECT_EQ(round_trip(value), value) << value;
    EXPECT_TRUE(std::signbit(round_trip(-0.0f)));
    // 1 + 2^-8 is halfway between 1 (even) and 1 + 2^-7 (odd): goes to 1
    EXPECT_EQ(round_trip(1.0f + std::ldexp(1.0f, -8)), 1.0f);
    // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): goes up
    EXPECT_EQ(round_trip(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
    // a hair above halfway goes up, a hair below goes down
    EXPECT_EQ(round_trip(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
    EXPECT_EQ(round_trip(1.0f + std::ldexp(1.0f, -8) - std::ldexp(1.0f, -20)), 1.0f);
    EXPECT_EQ(round_trip(-(1.0f + 3 * std::ldexp(1.0f, -8))), -(1.0f + std::ldexp(1.0f, -6)));
    // infinities stay, the largest float rounds up to inf (bf16 has the same exponent range)
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(round_trip(inf), inf);
    EXPECT_EQ(round_trip(-inf), -inf);
    EXPECT_EQ(round_trip(std::numeric_limits<float>::max()), inf);
    EXPECT_EQ(to_bfloat16(1.0f).bits, 0x3f80);
    EXPECT_EQ(to_bfloat16(-2.0f).bits, 0xc000);
}

TEST(BFloat16, NaNStaysNaN) {
    const float quiet = std::numeric_limits<float>::quiet_NaN();
    // NaNs whose payload lives only in the low 16 bits: truncation alone would make them inf
    for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0x7f80ffffu, 0xff800001u, 0x7fffffffu, 0xffc00000u}) {
        const float nan = float_from_bits(bits);
        ASSERT_TRUE(std::isnan(nan));
        const float back = from_bfloat16(to_bfloat16(nan));
        EXPECT_TRUE(std::isnan(back)) << std::hex << bits;
        EXPECT_EQ(std::signbit(back), std::signbit(nan)) << std::hex << bits;
    }
    EXPECT_TRUE(std::isnan(from_bfloat16(to_bfloat16(quiet))));
}

TEST(BFloat16, EveryExponentMatchesArithmeticRounding) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<uint32_t> any_bits;
    int checked = 0;
    for (int i = 0; i < 200000; i++) {
        const float value = float_from_bits(any_bits(rng));  // every exponent, subnormals included
        if (std::isnan(value)) continue;
        const float expected = bf16_reference(value);
        const float actual = from_bfloat16(to_bfloat16(value));
        ASSERT_EQ(std::bit_cast<uint32_t>(actual), std::bit_cast<uint32_t>(expected))
            << "value " << value << " (bits " << std::hex << std::bit_cast<uint32_t>(value) << "), seed " << std::dec
            << seed;
        checked++;
    }
    EXPECT_GT(checked, 199000);
}

TEST(BFloat16, TensorCopyRoundTrips) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    Tensor x = random_uniform({33, 17}, DType::f32, rng, -1000, 1000);
    Tensor half = empty(x.shape(), DType::bf16);
    Tensor back = empty(x.shape(), DType::f32);
    backend(x).copy(half, x);
    backend(x).copy(back, half);
    for (int64_t i = 0; i < x.numel(); i++) {
        const float value = x.data<float>()[i];
        ASSERT_EQ(back.data<float>()[i], bf16_reference(value)) << "element " << i << ", seed " << seed;
        // and the error is within half a bf16 step (8 significant bits)
        ASSERT_LE(std::fabs(back.data<float>()[i] - value), std::ldexp(std::fabs(value), -8));
    }
}

}  // namespace ringlm
