// Every op rejects operands it cannot take with a slope error whose text names
// the op and the shapes ("<op>: <what>: <shapes>"), in every build type.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "slope/gradcheck.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

using slope::Shape;
using slope::Tensor;
using slope::Tensor64;

namespace {

Tensor64 zeros(const Shape& shape) { return slope::zeros<double>(shape, true); }

using Labels = std::vector<std::int32_t>;

}  // namespace

TEST_CASE("slope's error types derive from slope::Error and std::runtime_error", "[errors]") {
  STATIC_REQUIRE(std::is_base_of_v<std::runtime_error, slope::Error>);
  STATIC_REQUIRE(std::is_base_of_v<slope::Error, slope::ShapeError>);
  STATIC_REQUIRE(std::is_base_of_v<slope::Error, slope::ValueError>);
  STATIC_REQUIRE(std::is_base_of_v<slope::Error, slope::IoError>);
  STATIC_REQUIRE(std::is_base_of_v<slope::Error, slope::NumericError>);
  // Caught through the standard base, with the message intact.
  try {
    slope::matmul(zeros({2, 3}), zeros({2, 3}));
    FAIL("matmul accepted (2, 3) x (2, 3)");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "matmul: inner dimensions differ: a is (2, 3), b is (2, 3)");
    CHECK(dynamic_cast<const slope::ShapeError*>(&e) != nullptr);
  }
}

TEST_CASE("elementwise ops name themselves when shapes cannot be broadcast", "[errors]") {
  const Tensor64 a = zeros({2, 3});
  const Tensor64 b = zeros({4});
  CHECK_THROWS_AS(slope::add(a, b), slope::ShapeError);
  CHECK_THROWS_WITH(slope::add(a, b), "add: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_WITH(a + b, "add: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_AS(slope::sub(a, b), slope::ShapeError);
  CHECK_THROWS_WITH(a - b, "sub: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_AS(slope::mul(a, b), slope::ShapeError);
  CHECK_THROWS_WITH(a * b, "mul: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_AS(slope::div(a, b), slope::ShapeError);
  CHECK_THROWS_WITH(a / b, "div: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  // Size-1 dimensions that do not line up, and mismatched leading dimensions.
  CHECK_THROWS_WITH(zeros({3, 1}) * zeros({2, 4}),
                    "mul: shapes cannot be broadcast: a is (3, 1), b is (2, 4)");
  CHECK_THROWS_WITH(zeros({2, 3, 4}) + zeros({5, 3, 4}),
                    "add: shapes cannot be broadcast: a is (2, 3, 4), b is (5, 3, 4)");
  // Float tensors give the same text.
  CHECK_THROWS_WITH(slope::zeros<float>({2}) / slope::zeros<float>({3}),
                    "div: shapes cannot be broadcast: a is (2,), b is (3,)");
}

TEST_CASE("selection ops name themselves when shapes cannot be broadcast", "[errors]") {
  const Tensor64 a = zeros({2, 3});
  const Tensor64 b = zeros({4});
  CHECK_THROWS_AS(slope::maximum(a, b), slope::ShapeError);
  CHECK_THROWS_WITH(slope::maximum(a, b), "maximum: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_WITH(slope::minimum(a, b), "minimum: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_WITH(slope::lt(a, b), "lt: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_WITH(slope::le(a, b), "le: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_WITH(slope::gt(a, b), "gt: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_WITH(slope::ge(a, b), "ge: shapes cannot be broadcast: a is (2, 3), b is (4,)");
  CHECK_THROWS_WITH(slope::eq(b, a), "eq: shapes cannot be broadcast: a is (4,), b is (2, 3)");
  CHECK_THROWS_AS(slope::where(b, a, a), slope::ShapeError);
  CHECK_THROWS_WITH(slope::where(b, a, a),
                    "where: shapes cannot be broadcast: mask is (4,), a is (2, 3), b is (2, 3)");
  CHECK_THROWS_WITH(slope::where(zeros({}), a, b),
                    "where: shapes cannot be broadcast: mask is (), a is (2, 3), b is (4,)");
  CHECK_NOTHROW(slope::where(zeros({2, 1}), zeros({3}), zeros({})));
}

TEST_CASE("clamp reports bounds in the wrong order", "[errors]") {
  CHECK_THROWS_AS(slope::clamp(zeros({2}), 2.0, 1.0), slope::ValueError);
  CHECK_THROWS_WITH(slope::clamp(zeros({2}), 2.0, 1.0), "clamp: lo must be <= hi: got lo 2, hi 1");
  CHECK_THROWS_WITH(slope::clamp(zeros({2}), std::nan(""), 1.0), "clamp: lo must be <= hi: got lo nan, hi 1");
  CHECK_NOTHROW(slope::clamp(zeros({2}), 1.0, 1.0));
}

TEST_CASE("broadcastable shapes raise no error", "[errors]") {
  CHECK_NOTHROW(zeros({2, 3}) + zeros({3}));
  CHECK_NOTHROW(zeros({2, 3}) * zeros({2, 1}));
  CHECK_NOTHROW(zeros({}) - zeros({4, 5}));
  CHECK_NOTHROW(zeros({1, 3}) / (zeros({4, 1}) + 1.0));
}

TEST_CASE("unary ops and scalar operators accept every shape", "[errors]") {
  for (const Shape& s : {Shape{}, Shape{0}, Shape{3}, Shape{2, 0}, Shape{2, 3, 4}}) {
    INFO(slope::to_string(s));
    const Tensor64 x = slope::ones<double>(s, true);
    CHECK(slope::neg(x).shape() == s);
    CHECK(slope::exp(x).shape() == s);
    CHECK(slope::log(x).shape() == s);
    CHECK(slope::relu(x).shape() == s);
    CHECK(slope::abs(x).shape() == s);
    CHECK(slope::square(x).shape() == s);
    CHECK(slope::sqrt(x).shape() == s);
    CHECK(slope::pow(x, 1.5).shape() == s);
    CHECK((2.0 / x - 1.0).shape() == s);
    CHECK(x.clone().shape() == s);
    CHECK(slope::log1p(x).shape() == s);
    CHECK(slope::expm1(x).shape() == s);
    CHECK(slope::clamp(x, -1.0, 1.0).shape() == s);
    for (const Tensor64& y : {slope::tanh(x), slope::sigmoid(x), slope::softplus(x), slope::log_sigmoid(x),
                              slope::leaky_relu(x), slope::elu(x), slope::gelu(x), slope::silu(x)})
      CHECK(y.shape() == s);
  }
}

TEST_CASE("matmul reports differing inner dimensions, batches and ranks it cannot take", "[errors]") {
  CHECK_THROWS_AS(slope::matmul(zeros({64, 784}), zeros({100, 10})), slope::ShapeError);
  CHECK_THROWS_WITH(slope::matmul(zeros({64, 784}), zeros({100, 10})),
                    "matmul: inner dimensions differ: a is (64, 784), b is (100, 10)");
  CHECK_THROWS_WITH(slope::matmul(zeros({3}), zeros({4, 2})),
                    "matmul: inner dimensions differ: a is (3,), b is (4, 2)");
  CHECK_THROWS_WITH(slope::matmul(zeros({3}), zeros({2})), "matmul: inner dimensions differ: a is (3,), b is (2,)");
  CHECK_THROWS_WITH(slope::matmul(zeros({2, 3, 4}), zeros({2, 3, 4})),
                    "matmul: inner dimensions differ: a is (2, 3, 4), b is (2, 3, 4)");
  CHECK_THROWS_AS(slope::matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), slope::ShapeError);
  CHECK_THROWS_WITH(slope::matmul(zeros({2, 3, 4}), zeros({3, 4, 5})),
                    "matmul: batch dimensions cannot be broadcast: a is (2, 3, 4), b is (3, 4, 5)");
  CHECK_THROWS_WITH(slope::matmul(zeros({2, 3}), zeros({2, 2, 3, 4})),
                    "matmul: expects 1-D, 2-D or 3-D tensors: a is (2, 3), b is (2, 2, 3, 4)");
  CHECK_THROWS_WITH(slope::matmul(zeros({}), zeros({})),
                    "matmul: expects 1-D, 2-D or 3-D tensors: a is (), b is ()");
  // Vectors and batches are fine.
  CHECK_NOTHROW(slope::matmul(zeros({3}), zeros({3, 2})));
  CHECK_NOTHROW(slope::matmul(zeros({2, 3}), zeros({2, 3, 4})));
}

TEST_CASE("transpose and reshape report shapes they cannot take", "[errors]") {
  CHECK_THROWS_AS(slope::transpose(zeros({2, 3, 4})), slope::ShapeError);
  CHECK_THROWS_WITH(slope::transpose(zeros({2, 3, 4})),
                    "transpose: expects a 2-D tensor: x is (2, 3, 4)");
  CHECK_THROWS_WITH(slope::transpose(zeros({5})), "transpose: expects a 2-D tensor: x is (5,)");
  CHECK_THROWS_AS(slope::reshape(zeros({2, 3}), {4}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::reshape(zeros({2, 3}), {4}),
                    "reshape: cannot reshape (2, 3) (6 entries) into (4,) (4 entries)");
  CHECK_THROWS_WITH(slope::reshape(zeros({}), {2, 1}),
                    "reshape: cannot reshape () (1 entries) into (2, 1) (2 entries)");
}

TEST_CASE("reductions report an axis out of range", "[errors]") {
  const Tensor64 x = zeros({2, 3});
  CHECK_THROWS_AS(slope::sum(x, 2), slope::ShapeError);
  CHECK_THROWS_WITH(slope::sum(x, 2), "sum: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::sum(x, -3, true), "sum: axis -3 is out of range for shape (2, 3)");
  CHECK_THROWS_AS(slope::mean(x, 2), slope::ShapeError);
  CHECK_THROWS_WITH(slope::mean(x, 2), "mean: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::mean(x, -3), "mean: axis -3 is out of range for shape (2, 3)");
  CHECK_THROWS_AS(slope::max(x, 2), slope::ShapeError);
  CHECK_THROWS_WITH(slope::max(x, 2), "max: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::max(x, -3), "max: axis -3 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::sum(zeros({}), 0), "sum: axis 0 is out of range for shape ()");
  // In range, negative axes count from the end.
  CHECK(slope::sum(x, -1).shape() == Shape{2});
  CHECK(slope::max(x, -2, true).shape() == Shape{1, 3});
}

TEST_CASE("reductions report empty inputs they cannot reduce", "[errors]") {
  CHECK_THROWS_AS(slope::mean(zeros({0})), slope::ShapeError);
  CHECK_THROWS_WITH(slope::mean(zeros({0})), "mean: tensor is empty: x is (0,)");
  CHECK_THROWS_WITH(slope::mean(zeros({2, 0}), 1), "mean: reduced axis is empty: x is (2, 0)");
  CHECK_THROWS_WITH(slope::max(zeros({0, 3}), 0), "max: reduced axis is empty: x is (0, 3)");
  CHECK(slope::sum(zeros({0, 3})).item() == 0.0);  // an empty sum is 0, not an error
}

TEST_CASE("min, several-axes reductions and logsumexp report their axes", "[errors]") {
  const Tensor64 x = zeros({2, 3});
  CHECK_THROWS_AS(slope::min(x, 2), slope::ShapeError);
  CHECK_THROWS_WITH(slope::min(x, 2), "min: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::min(zeros({0, 3}), 0), "min: reduced axis is empty: x is (0, 3)");
  CHECK_THROWS_AS(slope::sum(x, {1, -1}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::sum(x, {1, -1}), "sum: axes (1, -1) name an axis twice: x is (2, 3)");
  CHECK_THROWS_WITH(slope::sum(x, {0, 5}), "sum: axis 5 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::mean(x, {0, 0}), "mean: axes (0, 0) name an axis twice: x is (2, 3)");
  CHECK_THROWS_WITH(slope::mean(zeros({2, 0}), {0, 1}), "mean: reduced axis is empty: x is (2, 0)");
  CHECK_THROWS_WITH(slope::max(x, {-3, 0}), "max: axis -3 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::max(zeros({0, 3}), {0, 1}), "max: reduced axis is empty: x is (0, 3)");
  CHECK_THROWS_WITH(slope::min(x, {1, 1}), "min: axes (1, 1) name an axis twice: x is (2, 3)");
  CHECK_THROWS_AS(slope::max(zeros({0})), slope::ShapeError);
  CHECK_THROWS_WITH(slope::max(zeros({0})), "max: tensor is empty: x is (0,)");
  CHECK_THROWS_WITH(slope::min(zeros({3, 0})), "min: tensor is empty: x is (3, 0)");
  CHECK_THROWS_AS(slope::logsumexp(x, 2), slope::ShapeError);
  CHECK_THROWS_WITH(slope::logsumexp(x, 2), "logsumexp: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::logsumexp(zeros({}), 0), "logsumexp: axis 0 is out of range for shape ()");
}

TEST_CASE("var, std and norm report their arguments", "[errors]") {
  const Tensor64 x = zeros({3, 2});
  CHECK_THROWS_AS(slope::var(x, {.correction = -1}), slope::ValueError);
  CHECK_THROWS_WITH(slope::var(x, {.correction = -1}), "var: correction must be >= 0: got -1");
  CHECK_THROWS_AS(slope::var(zeros({1})), slope::ValueError);
  CHECK_THROWS_WITH(slope::var(zeros({1})), "var: correction 1 needs more than 1 entries, got 1: x is (1,)");
  CHECK_THROWS_WITH(slope::var(x, 1, {.correction = 2}),
                    "var: correction 2 needs more than 2 entries, got 2 along axis 1: x is (3, 2)");
  CHECK_THROWS_WITH(slope::var(x, 2), "var: axis 2 is out of range for shape (3, 2)");
  CHECK_THROWS_WITH(slope::std(zeros({}), {.correction = 1}),
                    "std: correction 1 needs more than 1 entries, got 1: x is ()");
  CHECK_THROWS_WITH(slope::std(x, -1, {.correction = 3}),
                    "std: correction 3 needs more than 3 entries, got 2 along axis -1: x is (3, 2)");
  CHECK_THROWS_WITH(slope::std(x, {.correction = -2}), "std: correction must be >= 0: got -2");
  CHECK_NOTHROW(slope::var(zeros({1}), {.correction = 0}));
  CHECK_THROWS_AS(slope::norm(x, 3.0), slope::ValueError);
  CHECK_THROWS_WITH(slope::norm(x, 3.0), "norm: p must be 1 or 2: got 3");
  CHECK_THROWS_WITH(slope::norm(x, 0.5, 0), "norm: p must be 1 or 2: got 0.5");
  CHECK_THROWS_WITH(slope::norm(x, 2.0, 2), "norm: axis 2 is out of range for shape (3, 2)");
  CHECK_THROWS_WITH(slope::norm(x, 1.0, -3), "norm: axis -3 is out of range for shape (3, 2)");
}

TEST_CASE("argmax and argmin report their axis", "[errors]") {
  CHECK_THROWS_AS(slope::argmax(zeros({2, 3}), 2), slope::ShapeError);
  CHECK_THROWS_WITH(slope::argmax(zeros({2, 3}), 2), "argmax: axis 2 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(slope::argmin(zeros({0, 3}), 0), "argmin: reduced axis is empty: x is (0, 3)");
  CHECK_THROWS_WITH(slope::argmax(zeros({}), 0), "argmax: axis 0 is out of range for shape ()");
}

TEST_CASE("softmax and log_softmax need at least one dimension", "[errors]") {
  CHECK_THROWS_AS(slope::softmax(zeros({})), slope::ShapeError);
  CHECK_THROWS_WITH(slope::softmax(zeros({})), "softmax: expects at least 1 dimension: x is ()");
  CHECK_THROWS_WITH(slope::log_softmax(zeros({})),
                    "log_softmax: expects at least 1 dimension: x is ()");
}

TEST_CASE("softmax_cross_entropy reports rank, label count and label range", "[errors]") {
  const Tensor64 scores = zeros({3, 4});
  SECTION("scores must be 2-D") {
    const Labels y{0, 1, 2};
    CHECK_THROWS_AS(slope::softmax_cross_entropy(zeros({3}), y), slope::ShapeError);
    CHECK_THROWS_WITH(slope::softmax_cross_entropy(zeros({3}), y),
                      "softmax_cross_entropy: scores must be 2-D (N, C): scores is (3,)");
    CHECK_THROWS_WITH(slope::softmax_cross_entropy(zeros({3, 4, 1}), y),
                      "softmax_cross_entropy: scores must be 2-D (N, C): scores is (3, 4, 1)");
  }
  SECTION("one label per row") {
    const Labels y{0, 1};
    CHECK_THROWS_AS(slope::softmax_cross_entropy(scores, y), slope::ShapeError);
    CHECK_THROWS_WITH(slope::softmax_cross_entropy(scores, y),
                      "softmax_cross_entropy: 2 labels for 3 rows: scores is (3, 4)");
  }
  SECTION("labels in [0, C) are a ValueError, not a ShapeError") {
    const Labels too_big{0, 4, 1};
    const Labels negative{0, 1, -1};
    CHECK_THROWS_AS(slope::softmax_cross_entropy(scores, too_big), slope::ValueError);
    CHECK_THROWS_WITH(slope::softmax_cross_entropy(scores, too_big),
                      "softmax_cross_entropy: label 4 at row 1 is outside [0, 4)");
    CHECK_THROWS_AS(slope::softmax_cross_entropy(scores, negative), slope::ValueError);
    CHECK_THROWS_WITH(slope::softmax_cross_entropy(scores, negative),
                      "softmax_cross_entropy: label -1 at row 2 is outside [0, 4)");
  }
  SECTION("an empty batch has no mean") {
    CHECK_THROWS_AS(slope::softmax_cross_entropy(zeros({0, 4}), Labels{}), slope::ShapeError);
    CHECK_THROWS_WITH(slope::softmax_cross_entropy(zeros({0, 4}), Labels{}),
                      "softmax_cross_entropy: empty batch or no classes: scores is (0, 4)");
  }
}

TEST_CASE("gather reports rank, label count and label range", "[errors]") {
  const Tensor64 x = zeros({2, 5});
  CHECK_THROWS_AS(slope::gather(zeros({5}), Labels{1}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::gather(zeros({5}), Labels{1}), "gather: x must be 2-D (N, C): x is (5,)");
  CHECK_THROWS_AS(slope::gather(x, Labels{1, 2, 3}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::gather(x, Labels{1, 2, 3}), "gather: 3 labels for 2 rows: x is (2, 5)");
  CHECK_THROWS_AS(slope::gather(x, Labels{5, 0}), slope::ValueError);
  CHECK_THROWS_WITH(slope::gather(x, Labels{5, 0}), "gather: label 5 at row 0 is outside [0, 5)");
}

TEST_CASE("backward reports a seed of the wrong shape and a missing seed", "[errors]") {
  Tensor64 x = zeros({2});
  Tensor64 y = x * 2.0;
  CHECK_THROWS_AS(y.backward(xt::ones<double>({3})), slope::ShapeError);
  CHECK_THROWS_WITH(y.backward(xt::ones<double>({3})),
                    "backward: seed shape (3,) differs from the root's shape (2,)");
  CHECK_THROWS_WITH(y.backward(), "backward: the root has shape (2,); a non-scalar root needs an "
                                  "explicit seed of that shape");
  CHECK_THROWS_WITH(slope::sum(Tensor64({1.0})).backward(),
                    "backward: this tensor does not require a gradient (no input of the graph does)");
}

TEST_CASE("the engine reports a gradient that does not fit its input", "[errors]") {
  // A hand-made op whose backward hands its input a gradient of the wrong shape.
  Tensor64 x = zeros({2});
  auto node = std::make_shared<slope::detail::Node<double>>(slope::Array<double>(xt::zeros<double>({2})));
  node->op = "bad_op";
  node->requires_grad = true;
  node->inputs.push_back({x.node(), 0});
  node->backward = [](slope::detail::Node<double>& out) {
    slope::detail::accumulate_grad(*out.inputs[0].node, slope::Array<double>(xt::ones<double>({3})));
  };
  Tensor64 y(node);
  CHECK_THROWS_AS(slope::sum(y).backward(), slope::ShapeError);
  CHECK_THROWS_WITH(slope::sum(y).backward(),
                    "backward of bad_op: gradient of shape (3,) does not reduce to (2,)");
}

TEST_CASE("accessors report misuse with the tensor's shape and name", "[errors]") {
  CHECK_THROWS_AS(Tensor64({1.0, 2.0}).item(), slope::ValueError);
  Tensor64 w = zeros({2});
  w.set_name("W");
  CHECK_THROWS_WITH(w.grad(), "grad: tensor 'W' of shape (2,) has no gradient yet (call backward first)");
  CHECK_THROWS_WITH(zeros({3, 1}).grad(),
                    "grad: tensor of shape (3, 1) has no gradient yet (call backward first)");
  // The three reasons for a missing gradient are told apart.
  CHECK_THROWS_WITH(slope::zeros<double>({2}).set_name("x").grad(),
                    "grad: tensor 'x' of shape (2,) does not require a gradient; call set_requires_grad() "
                    "on it before computing with it");
  Tensor64 hidden = w * 3.0;
  slope::sum(hidden).backward();
  CHECK_THROWS_WITH(hidden.grad(), "grad: tensor of shape (2,) is the result of mul_scalar, whose gradient is "
                                   "not kept; call retain_grad() on it before backward()");
  Tensor64 y = w * 2.0;
  CHECK_THROWS_WITH(y.set_requires_grad(),
                    "set_requires_grad: the result of mul_scalar is not a leaf; detach() it first");
}

TEST_CASE("gradient checking reports bad options and bad functions", "[errors]") {
  const auto square_sum = [](const xt::xarray<double>& x) {
    double s = 0.0;
    for (double v : x) s += v * v;
    return s;
  };
  CHECK_THROWS_AS(slope::numerical_gradient(square_sum, xt::ones<double>({2}), 0.0), slope::ValueError);
  CHECK_THROWS_WITH(slope::numerical_gradient(square_sum, xt::ones<double>({2}), -1.0),
                    "numerical_gradient: step h must be > 0, got -1");

  const std::vector<Tensor64> inputs{zeros({2})};
  const auto identity = [](const std::vector<Tensor64>& in) { return in[0] * 1.0; };
  CHECK_THROWS_AS(slope::gradcheck(identity, inputs), slope::ShapeError);
  CHECK_THROWS_WITH(slope::gradcheck(identity, inputs),
                    "gradcheck: f must return one entry, got shape (2,)");
  const auto total = [](const std::vector<Tensor64>& in) { return slope::sum(in[0]); };
  slope::GradcheckOptions bad;
  bad.rtol = -1.0;
  CHECK_THROWS_AS(slope::gradcheck(total, inputs, bad), slope::ValueError);
  CHECK_THROWS_AS(slope::gradcheck(total, {Tensor64({1.0, 2.0})}), slope::Error);
}

TEST_CASE("the Rng reports invalid arguments", "[errors]") {
  slope::Rng rng{1};
  CHECK_THROWS_AS(rng.below(0), slope::ValueError);
  CHECK_THROWS_WITH(rng.below(0), "Rng::below: n must be positive");
  CHECK_THROWS_AS(rng.set_state(""), slope::ValueError);
  CHECK_THROWS_WITH(rng.set_state("1 2 3"), "Rng::set_state: malformed state text");
}

TEST_CASE("shapes whose entries overflow 64 bits are a ShapeError, never a wrapped-around array", "[errors]") {
  const std::size_t big = std::size_t{1} << 32;  // big * big wraps around to 0
  CHECK_THROWS_WITH(slope::numel({big, big}), "shape (4294967296, 4294967296) has more entries than 64 bits can count");
  CHECK_THROWS_AS(slope::zeros<float>({big, big}), slope::ShapeError);
  CHECK_THROWS_AS(slope::full<double>({big, 4, big}, 1.0), slope::ShapeError);
  CHECK_THROWS_AS(slope::eye<float>(big), slope::ShapeError);
  CHECK_THROWS_AS(slope::from_vector<float>({}, {big, big}), slope::ShapeError);
  CHECK_THROWS_WITH(slope::reshape(slope::zeros<float>({4}), {(std::int64_t{1} << 62) + 1, 4, -1}),
                    Catch::StartsWith("reshape: shape (4611686018427387905, 4, 1) has more entries"));
  CHECK(slope::numel({big, 3}) == 3 * big);
  CHECK(slope::numel({0, big, big}) == 0);
  CHECK(slope::numel({big, big, 0}) == 0);
  CHECK(slope::zeros<float>({big, big, 0}).size() == 0);
}
