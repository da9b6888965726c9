// The differentiable ops. Each is one function in src/ops_*.cpp: shape check,
// forward into a concrete array, and the backward closure beside it.
//
// Primitives carry hand-written gradients; composites (sub, div, square, sqrt,
// mean, the scalar operators) are built from them and need none.
// Elementwise binary ops broadcast like NumPy; the engine sums each gradient
// back to its input's shape (detail::accumulate_grad), so no op handles that.
// Every op throws ShapeError "<op>: <what>: <shapes>" on operands it cannot take.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

#include "slope/tensor.hpp"

namespace slope {

template <class T> using Scalar = std::type_identity_t<T>;  // no deduction from scalars

// ---- elementwise (broadcasting) ----------------------------------------------
template <class T> TensorT<T> add(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> mul(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> sub(const TensorT<T>& a, const TensorT<T>& b);  // a + (-b)
template <class T> TensorT<T> div(const TensorT<T>& a, const TensorT<T>& b);  // a * b^-1

// ---- elementwise (unary) ------------------------------------------------------
template <class T> TensorT<T> neg(const TensorT<T>& x);
template <class T> TensorT<T> exp(const TensorT<T>& x);
/// Natural log; log(0) = -inf and log(-1) = NaN, as in IEEE and NumPy.
template <class T> TensorT<T> log(const TensorT<T>& x);
/// log(1 + x), accurate for small x; backward g / (1 + x).
template <class T> TensorT<T> log1p(const TensorT<T>& x);
/// e^x - 1, accurate for small x; backward (y + 1) g.
template <class T> TensorT<T> expm1(const TensorT<T>& x);
/// max(0, x); the gradient at 0 is taken as 0.
template <class T> TensorT<T> relu(const TensorT<T>& x);
/// |x|; the gradient at 0 is taken as 0 (sign(x)).
template <class T> TensorT<T> abs(const TensorT<T>& x);
/// x^p for a constant p.
template <class T> TensorT<T> pow(const TensorT<T>& x, Scalar<T> p);
template <class T> TensorT<T> square(const TensorT<T>& x);  // x * x
template <class T> TensorT<T> sqrt(const TensorT<T>& x);    // pow(x, 0.5)
template <class T> TensorT<T> add_scalar(const TensorT<T>& x, Scalar<T> s);
template <class T> TensorT<T> mul_scalar(const TensorT<T>& x, Scalar<T> s);

// ---- choosing between values (src/ops_select.cpp; all broadcast) -------------------
/// min(max(x, lo), hi) for lo <= hi (ValueError otherwise; infinite bounds are
/// fine). The gradient is g strictly inside (lo, hi) and 0 outside and at the
/// bounds, as relu's is 0 at its kink: relu(x) and clamp(x, 0, inf) agree in
/// value and gradient everywhere.
template <class T> TensorT<T> clamp(const TensorT<T>& x, Scalar<T> lo, Scalar<T> hi);
/// Elementwise max(a, b). At a tie the gradient is split, g / 2 to each, so
/// maximum is symmetric and maximum(x, x) has gradient g.
template <class T> TensorT<T> maximum(const TensorT<T>& a, const TensorT<T>& b);
/// Elementwise min(a, b) = -maximum(-a, -b) (a composite; ties split alike).
template <class T> TensorT<T> minimum(const TensorT<T>& a, const TensorT<T>& b);
/// Comparisons: 1 where a < b (<=, >, >=, ==) holds, 0 elsewhere. The result is
/// a mask outside the graph: it never requires a gradient.
template <class T> TensorT<T> lt(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> le(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> gt(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> ge(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> eq(const TensorT<T>& a, const TensorT<T>& b);
/// a where mask is nonzero, b elsewhere; the three broadcast together. The
/// gradient goes to a where the mask is set and to b elsewhere; the mask gets none.
template <class T> TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b);

// ---- activations (src/ops_activation.cpp) --------------------------------------------
// For every finite input, in float and double, none of these returns NaN or
// Inf, forward or backward. At a kink the gradient is the left branch's slope,
// as relu's is (0 at 0).
/// tanh(x); backward (1 - y^2) g from the output.
template <class T> TensorT<T> tanh(const TensorT<T>& x);
/// 1 / (1 + e^-x), split by sign (e^x / (1 + e^x) for x < 0) so exp never overflows.
template <class T> TensorT<T> sigmoid(const TensorT<T>& x);
/// log(1 + e^x) as max(x, 0) + log1p(e^-|x|); backward sigmoid(x) g.
template <class T> TensorT<T> softplus(const TensorT<T>& x);
/// log(sigmoid(x)) = -softplus(-x) (a composite).
template <class T> TensorT<T> log_sigmoid(const TensorT<T>& x);
/// x for x > 0, slope x otherwise; the gradient at 0 is slope.
template <class T> TensorT<T> leaky_relu(const TensorT<T>& x, Scalar<T> slope = 0.01);
/// x for x > 0, alpha (e^x - 1) otherwise; the gradient at 0 is alpha.
template <class T> TensorT<T> elu(const TensorT<T>& x, Scalar<T> alpha = 1);
/// The tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as
/// x sigmoid(2u); for |x| > 1e4 the limits x and 0 (the cube would overflow).
template <class T> TensorT<T> gelu(const TensorT<T>& x);
/// x sigmoid(x) (a composite).
template <class T> TensorT<T> silu(const TensorT<T>& x);

// ---- linear algebra and shape -----------------------------------------------------
/// (m, k) x (k, n) -> (m, n) through BLAS gemm. Backward: dA = dC B^T, dB = A^T dC,
/// with the transposes passed to gemm as flags, never materialised. As in
/// NumPy, a 1-D a is a row (k,) -> (1, k) and a 1-D b a column, the added
/// dimension dropped from the result: vector-matrix (n,), matrix-vector (m,),
/// dot (). 3-D operands are batches, (B, m, k) x (B, k, n) -> (B, m, n), where
/// a batch of 1 (or a 2-D operand) is broadcast against the other; (B, m, k) x
/// (k, n) is a single gemm over the stacked rows.
template <class T> TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b);
/// What linear() applies to x W + b before returning it.
enum class Activation { none, relu };
/// A fully connected layer's product, fused: act(x W + b) for x (m, k), W (k, n)
/// and b (n,). One gemm with the broadcast bias rows as its beta = 1 input; the
/// relu (if any) in one pass over the result. Backward: G = g (through relu'),
/// dW = x^T G, db = colsum(G), dx = G W^T, each written straight into the
/// inputs' gradients (dx only when x needs one).
template <class T>
TensorT<T> linear(const TensorT<T>& x, const TensorT<T>& W, const TensorT<T>& b,
                  Activation act = Activation::none);
/// The 2-D transpose, as a new contiguous array: permute(x, {1, 0}).
template <class T> TensorT<T> transpose(const TensorT<T>& x);
/// Same entries, new shape (same number of entries).
template <class T> TensorT<T> reshape(const TensorT<T>& x, const Shape& shape);
/// The same with signed sizes, one of which may be -1: inferred from the rest,
/// as in reshape(x, {-1, 4}). A braced list picks this overload (both give the
/// same errors for sizes without -1); for a list of std::size_t variables,
/// which would narrow, pass a Shape{...}.
template <class T> TensorT<T> reshape(const TensorT<T>& x, std::span<const std::int64_t> sizes);
template <class T> TensorT<T> reshape(const TensorT<T>& x, std::initializer_list<std::int64_t> sizes) {
  return reshape(x, std::span<const std::int64_t>(sizes.begin(), sizes.size()));
}

// ---- shape and indexing (src/ops_shape.cpp, src/ops_index.cpp) ------------------------
// Axes may be negative (counted from the end); out-of-range axes are ShapeErrors.
/// The axes of x reordered: result axis d is x's axis dims[d] (a permutation of 0..ndim-1).
template <class T> TensorT<T> permute(const TensorT<T>& x, const std::vector<int>& dims);
/// Drops every axis of size 1, or just `axis` (which must have size 1).
template <class T> TensorT<T> squeeze(const TensorT<T>& x);
template <class T> TensorT<T> squeeze(const TensorT<T>& x, int axis);
/// Inserts an axis of size 1 before position `axis` (in [-(ndim + 1), ndim]).
template <class T> TensorT<T> unsqueeze(const TensorT<T>& x, int axis);
/// x broadcast to `shape` (NumPy's broadcast_to), materialised; the engine sums
/// the gradient back over the broadcast dimensions.
template <class T> TensorT<T> expand(const TensorT<T>& x, const Shape& shape);
/// Entries start, start + step, ... below stop along `axis`. Negative start and
/// stop count from the end; after that, 0 <= start <= stop <= size is required
/// (ShapeError; no silent clamping), and step >= 1 (ValueError). The gradient
/// goes back into the sliced positions.
template <class T>
TensorT<T> slice(const TensorT<T>& x, int axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
/// slice(x, axis, start, start + length): `length` entries from `start`.
template <class T> TensorT<T> narrow(const TensorT<T>& x, int axis, std::int64_t start, std::int64_t length);
/// The tensors joined along an existing axis; their other dimensions must agree.
template <class T> TensorT<T> concat(const std::vector<TensorT<T>>& xs, int axis = 0);
/// The tensors (all of one shape) joined along a new axis: concat of unsqueezes.
template <class T> TensorT<T> stack(const std::vector<TensorT<T>>& xs, int axis = 0);
// Braced lists: concat({a, b}, 1), stack({a, b}).
template <class T> TensorT<T> concat(std::initializer_list<TensorT<T>> xs, int axis = 0) {
  return concat(std::vector<TensorT<T>>(xs), axis);
}
template <class T> TensorT<T> stack(std::initializer_list<TensorT<T>> xs, int axis = 0) {
  return stack(std::vector<TensorT<T>>(xs), axis);
}
/// Consecutive pieces of the given sizes along `axis` (they must add up to its size).
template <class T>
std::vector<TensorT<T>> split(const TensorT<T>& x, const std::vector<std::size_t>& sizes, int axis = 0);
/// The slices indices[0], indices[1], ... of x along `axis` (each in [0, size);
/// repeats allowed). Backward scatter-adds: a slice picked twice gets both shares.
template <class T>
TensorT<T> index_select(const TensorT<T>& x, int axis, std::span<const std::int64_t> indices);
/// Rows of weight (V, D) looked up by indices of any shape: the result has
/// shape indices.shape + (D,). index_select along axis 0, reshaped.
template <class T> TensorT<T> embedding(const TensorT<T>& weight, const Array<std::int64_t>& indices);

// ---- reductions ----------------------------------------------------------------
/// Sum of all entries, as a 0-d tensor.
template <class T> TensorT<T> sum(const TensorT<T>& x);
/// Sum along `axis` (negative counts from the end).
template <class T> TensorT<T> sum(const TensorT<T>& x, int axis, bool keepdims = false);
/// sum(x^2) and sum(|x|) in one SIMD pass each (the L2 and L1 penalties), as 0-d
/// tensors; backward writes 2 x g and sign(x) g straight into x's gradient.
template <class T> TensorT<T> sum_squares(const TensorT<T>& x);
template <class T> TensorT<T> sum_abs(const TensorT<T>& x);
template <class T> TensorT<T> mean(const TensorT<T>& x);
template <class T> TensorT<T> mean(const TensorT<T>& x, int axis, bool keepdims = false);
/// Maximum along `axis`; the gradient goes to the first maximal entry.
template <class T> TensorT<T> max(const TensorT<T>& x, int axis, bool keepdims = false);
/// Minimum along `axis`, as -max(-x); the gradient goes to the first minimal entry.
template <class T> TensorT<T> min(const TensorT<T>& x, int axis, bool keepdims = false);

// Over several axes (a list; out of range or repeated: ShapeError), reduced one
// at a time from the last, or over all entries (a 0-d result). max and min
// send the gradient to the first extreme entry in row-major order. An empty
// list reduces nothing (a copy); note that sum(x, {}) means axis 0, so pass
// an empty std::vector<int> explicitly.
template <class T> TensorT<T> sum(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims = false);
template <class T> TensorT<T> mean(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims = false);
template <class T> TensorT<T> max(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims = false);
template <class T> TensorT<T> min(const TensorT<T>& x, const std::vector<int>& axes, bool keepdims = false);
template <class T> TensorT<T> max(const TensorT<T>& x);
template <class T> TensorT<T> min(const TensorT<T>& x);

/// log(sum(exp(x))) along `axis` (or over all entries), stably: max + log(sum(exp(x - max))),
/// accumulated in double. Entries of -inf are welcome (they add nothing and get
/// gradient 0); a slice of -inf only gives -inf and passes no gradient.
/// Backward: softmax(x) g.
template <class T> TensorT<T> logsumexp(const TensorT<T>& x, int axis, bool keepdims = false);
template <class T> TensorT<T> logsumexp(const TensorT<T>& x);

/// Options of var and std. `correction` is subtracted from the number of
/// entries in the denominator: 1 (the default, as in PyTorch) gives the
/// unbiased sample variance, 0 the population variance. It must leave at
/// least one degree of freedom (ValueError otherwise).
struct VarOptions {
  int correction = 1;
  bool keepdims = false;  // keep the reduced axis as size 1 (along an axis only)
};
/// sum((x - mean)^2) / (n - correction) over all entries or along `axis` (a composite).
template <class T> TensorT<T> var(const TensorT<T>& x, VarOptions options = {});
template <class T> TensorT<T> var(const TensorT<T>& x, int axis, VarOptions options = {});
/// ||x - mean||_2 / sqrt(n - correction) (a composite of norm, whose gradient
/// at 0 is 0: a constant x gets gradient 0, not NaN).
template <class T> TensorT<T> std(const TensorT<T>& x, VarOptions options = {});
template <class T> TensorT<T> std(const TensorT<T>& x, int axis, VarOptions options = {});
/// The p-norm for p = 1 (sum |x|) or p = 2 (sqrt(sum x^2), computed as
/// m sqrt(sum (x/m)^2) with m = max |x| so the squares cannot overflow), over
/// all entries or along `axis`; ValueError for other p. At x = 0 the gradient
/// is 0 for both (no NaN).
template <class T> TensorT<T> norm(const TensorT<T>& x, double p = 2);
template <class T> TensorT<T> norm(const TensorT<T>& x, double p, int axis, bool keepdims = false);

/// Positions of the first maximum (minimum) along `axis`, as indices with the
/// reduced shape: plain int64 arrays, outside the graph (indices have no
/// gradient). They feed index_select and embedding directly.
template <class T> Array<std::int64_t> argmax(const TensorT<T>& x, int axis, bool keepdims = false);
template <class T> Array<std::int64_t> argmin(const TensorT<T>& x, int axis, bool keepdims = false);

/// Inverted dropout: each entry is zeroed with probability p and the rest are
/// scaled by 1 / (1 - p), so the expected value is unchanged and evaluation
/// needs no rescaling; p in [0, 1). The mask is a hash of a key (one draw from
/// `rng`) and each entry's position. Inside a data-parallel step the key comes
/// from the step instead and positions count rows of the whole batch, so the
/// masks do not depend on how the batch is split (rng is then not used).
template <class T> TensorT<T> dropout(const TensorT<T>& x, double p, Rng& rng);

// ---- softmax and the losses of rows -------------------------------------------------
/// exp(x - max) / sum(exp(x - max)) along `axis` (the last one fast; any other
/// through permute to the end and back).
template <class T> TensorT<T> softmax(const TensorT<T>& x, int axis = -1);
/// x - max - log(sum(exp(x - max))) along `axis`.
template <class T> TensorT<T> log_softmax(const TensorT<T>& x, int axis = -1);
/// Mean over the batch of -log softmax(scores)[i, labels[i]], fused:
/// scores is (N, C), labels has N entries in [0, C). Backward: (p - onehot) / N.
template <class T>
TensorT<T> softmax_cross_entropy(const TensorT<T>& scores, std::span<const std::int32_t> labels);
/// out[i] = x[i, labels[i]] for a 2-D x; shape (N,).
template <class T> TensorT<T> gather(const TensorT<T>& x, std::span<const std::int32_t> labels);

// ---- operators --------------------------------------------------------------------
template <class T> TensorT<T> operator+(const TensorT<T>& a, const TensorT<T>& b) { return add(a, b); }
template <class T> TensorT<T> operator-(const TensorT<T>& a, const TensorT<T>& b) { return sub(a, b); }
template <class T> TensorT<T> operator*(const TensorT<T>& a, const TensorT<T>& b) { return mul(a, b); }
template <class T> TensorT<T> operator/(const TensorT<T>& a, const TensorT<T>& b) { return div(a, b); }
template <class T> TensorT<T> operator-(const TensorT<T>& x) { return neg(x); }

template <class T> TensorT<T> operator+(const TensorT<T>& x, Scalar<T> s) { return add_scalar(x, s); }
template <class T> TensorT<T> operator+(Scalar<T> s, const TensorT<T>& x) { return add_scalar(x, s); }
template <class T> TensorT<T> operator-(const TensorT<T>& x, Scalar<T> s) { return add_scalar(x, -s); }
template <class T> TensorT<T> operator-(Scalar<T> s, const TensorT<T>& x) { return add_scalar(neg(x), s); }
template <class T> TensorT<T> operator*(const TensorT<T>& x, Scalar<T> s) { return mul_scalar(x, s); }
template <class T> TensorT<T> operator*(Scalar<T> s, const TensorT<T>& x) { return mul_scalar(x, s); }
template <class T> TensorT<T> operator/(const TensorT<T>& x, Scalar<T> s) { return mul_scalar(x, T(1) / s); }
template <class T> TensorT<T> operator/(Scalar<T> s, const TensorT<T>& x) { return mul_scalar(pow(x, T(-1)), s); }

}  // namespace slope
