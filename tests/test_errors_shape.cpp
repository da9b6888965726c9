// The shape and indexing ops reject operands they cannot take with a slope
// error naming the op and the shapes or values ("<op>: <what>: <details>").
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Shape;
using slope::Tensor64;

namespace {

Tensor64 zeros(const Shape& shape) { return slope::zeros<double>(shape, true); }

using Indices = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("permute reports dims that are not a permutation", "[errors][shape]") {
  const Tensor64 x = zeros({2, 3});
  CHECK_THROWS_AS(slope::permute(x, {0, 0}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::permute(x, {0, 0}), "permute: dims (0, 0) are not a permutation of the 2 axes of (2, 3)");
  CHECK_THROWS_WITH(slope::permute(x, {0}), "permute: dims (0,) are not a permutation of the 2 axes of (2, 3)");
  CHECK_THROWS_WITH(slope::permute(x, {0, 2}), "permute: dims (0, 2) are not a permutation of the 2 axes of (2, 3)");
  CHECK_THROWS_WITH(slope::permute(x, {-1, 1}), "permute: dims (-1, 1) are not a permutation of the 2 axes of (2, 3)");
  CHECK(slope::permute(x, {-1, 0}).shape() == Shape{3, 2});
}

TEST_CASE("reshape with signed sizes reports what it cannot infer", "[errors][shape]") {
  const Tensor64 x = zeros({2, 3});
  CHECK_THROWS_AS(slope::reshape(x, {-1, 4}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::reshape(x, {-1, 4}), "reshape: cannot infer the -1 in (-1, 4) from (2, 3) (6 entries)");
  CHECK_THROWS_WITH(slope::reshape(x, {-1, 0}), "reshape: cannot infer the -1 in (-1, 0) from (2, 3) (6 entries)");
  CHECK_THROWS_WITH(slope::reshape(x, {-1, -1}), "reshape: more than one -1 in (-1, -1)");
  CHECK_THROWS_WITH(slope::reshape(x, {-2, 3}), "reshape: size -2 is invalid in (-2, 3)");
  CHECK_THROWS_WITH(slope::reshape(x, {5}), "reshape: cannot reshape (2, 3) (6 entries) into (5,) (5 entries)");
}

TEST_CASE("squeeze, unsqueeze and expand report their axes and shapes", "[errors][shape]") {
  const Tensor64 x = zeros({2, 3});
  CHECK_THROWS_AS(slope::squeeze(x, 1), slope::ShapeError);
  CHECK_THROWS_WITH(slope::squeeze(x, 1), "squeeze: axis 1 has size 3, not 1: x is (2, 3)");
  CHECK_THROWS_WITH(slope::squeeze(x, 2), "squeeze: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::unsqueeze(x, 3), "unsqueeze: axis 3 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::unsqueeze(x, -4), "unsqueeze: axis -4 is out of range for shape (2, 3)");
  CHECK(slope::unsqueeze(x, 2).shape() == Shape{2, 3, 1});
  CHECK_THROWS_AS(slope::expand(x, {3, 3}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::expand(x, {3, 3}), "expand: cannot broadcast (2, 3) to (3, 3)");
  CHECK_THROWS_WITH(slope::expand(x, {3}), "expand: cannot broadcast (2, 3) to (3,)");
  CHECK_THROWS_WITH(slope::expand(zeros({3, 1}), {3, 4, 1}), "expand: cannot broadcast (3, 1) to (3, 4, 1)");
}

TEST_CASE("slice and narrow report ranges outside the axis", "[errors][shape]") {
  const Tensor64 x = zeros({2, 5});
  CHECK_THROWS_AS(slope::slice(x, 1, 1, 7), slope::ShapeError);
  CHECK_THROWS_WITH(slope::slice(x, 1, 1, 7), "slice: [1, 7) is out of range for axis 1 of size 5: x is (2, 5)");
  CHECK_THROWS_WITH(slope::slice(x, 1, 4, 2), "slice: [4, 2) is out of range for axis 1 of size 5: x is (2, 5)");
  CHECK_THROWS_WITH(slope::slice(x, 0, -3, 1), "slice: [-3, 1) is out of range for axis 0 of size 2: x is (2, 5)");
  CHECK_THROWS_AS(slope::slice(x, 1, 0, 5, 0), slope::ValueError);
  CHECK_THROWS_WITH(slope::slice(x, 1, 0, 5, 0), "slice: step must be >= 1: got 0");
  CHECK_THROWS_WITH(slope::slice(x, 2, 0, 1), "slice: axis 2 is out of range for shape (2, 5)");
  CHECK_THROWS_AS(slope::narrow(x, 1, 2, 4), slope::ShapeError);
  CHECK_THROWS_WITH(slope::narrow(x, 1, 2, 4), "narrow: start 2 and length 4 do not fit axis 1 of size 5: x is (2, 5)");
  CHECK_THROWS_WITH(slope::narrow(x, 1, 0, -1), "narrow: start 0 and length -1 do not fit axis 1 of size 5: x is (2, 5)");
  CHECK_THROWS_WITH(slope::narrow(x, 0, -3, 1), "narrow: start -3 and length 1 do not fit axis 0 of size 2: x is (2, 5)");
}

TEST_CASE("concat, stack and split report shapes that do not fit", "[errors][shape]") {
  CHECK_THROWS_AS(slope::concat(std::vector<Tensor64>{}), slope::ValueError);
  CHECK_THROWS_WITH(slope::concat(std::vector<Tensor64>{}), "concat: needs at least one tensor");
  CHECK_THROWS_AS(slope::concat({zeros({2, 3}), zeros({4, 2})}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::concat({zeros({2, 3}), zeros({2, 3}), zeros({4, 2})}),
                    "concat: shapes differ outside axis 0: tensor 0 is (2, 3), tensor 2 is (4, 2)");
  CHECK_THROWS_WITH(slope::concat({zeros({2, 3}), zeros({3})}, 1),
                    "concat: shapes differ outside axis 1: tensor 0 is (2, 3), tensor 1 is (3,)");
  CHECK_THROWS_WITH(slope::concat({zeros({2, 3})}, 2), "concat: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::stack(std::vector<Tensor64>{}), "stack: needs at least one tensor");
  CHECK_THROWS_AS(slope::stack({zeros({2, 3}), zeros({3, 2})}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::stack({zeros({2, 3}), zeros({3, 2})}),
                    "stack: shapes differ: tensor 0 is (2, 3), tensor 1 is (3, 2)");
  CHECK_THROWS_WITH(slope::stack({zeros({2, 3})}, 3), "stack: axis 3 is out of range for shape (2, 3)");
  CHECK_THROWS_AS(slope::split(zeros({5, 3}), {2, 2}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::split(zeros({5, 3}), {2, 2}),
                    "split: sizes (2, 2) add up to 4, not the 5 of axis 0: x is (5, 3)");
  CHECK_THROWS_WITH(slope::split(zeros({5, 3}), {4}, 1),
                    "split: sizes (4,) add up to 4, not the 3 of axis 1: x is (5, 3)");
}

TEST_CASE("index_select and embedding report indices outside the table", "[errors][shape]") {
  const Tensor64 x = zeros({4, 3});
  CHECK_THROWS_AS(slope::index_select<double>(x, 0, Indices{0, 4}), slope::ValueError);
  CHECK_THROWS_WITH(slope::index_select<double>(x, 0, Indices{0, 4}),
                    "index_select: index 4 at position 1 is outside [0, 4) for axis 0: x is (4, 3)");
  CHECK_THROWS_WITH(slope::index_select<double>(x, -1, Indices{-1}),
                    "index_select: index -1 at position 0 is outside [0, 3) for axis -1: x is (4, 3)");
  CHECK_THROWS_WITH(slope::index_select<double>(x, 2, Indices{0}),
                    "index_select: axis 2 is out of range for shape (4, 3)");
  const slope::Array<std::int64_t> ids = {{0, 1}, {5, 2}};
  CHECK_THROWS_AS(slope::embedding(x, ids), slope::ValueError);
  CHECK_THROWS_WITH(slope::embedding(x, ids), "embedding: index 5 at position 2 is outside [0, 4): weight is (4, 3)");
  CHECK_THROWS_AS(slope::embedding(zeros({4}), ids), slope::ShapeError);
  CHECK_THROWS_WITH(slope::embedding(zeros({4}), ids), "embedding: weight must be 2-D (V, D): weight is (4,)");
}

TEST_CASE("softmax and log_softmax report an axis out of range", "[errors][shape]") {
  const Tensor64 x = zeros({2, 3});
  CHECK_THROWS_AS(slope::softmax(x, 2), slope::ShapeError);
  CHECK_THROWS_WITH(slope::softmax(x, 2), "softmax: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::log_softmax(x, -3), "log_softmax: axis -3 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::softmax(zeros({}), 0), "softmax: expects at least 1 dimension: x is ()");
}
