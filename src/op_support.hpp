// Internal helpers shared by the op implementations (not installed).
#pragma once

#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <xtensor/xbroadcast.hpp>

#include "parallel.hpp"
#include "slope/autograd.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

namespace slope::detail {

/// Throws NumericError if `a` holds NaN or Inf: "anomaly: <what> of <op> produced NaN".
template <class T>
void check_finite(const Array<T>& a, const char* op, const char* what);
/// The same for n entries at p, of an array of `shape`.
template <class T>
void check_finite(const T* p, std::size_t n, const Shape& shape, const char* op, const char* what);

/// Wraps a freshly computed value as the result of `op`. The node records its
/// inputs, backward step and saved arrays only when grad mode is on and some
/// input needs a gradient; otherwise it is a plain constant.
template <class T>
TensorT<T> make_result(const char* op, Array<T>&& value,
                       std::initializer_list<const TensorT<T>*> inputs, Backward<T> backward,
                       Saved<T>&& saved = {});
/// The same for an op of any number of inputs (concat): input i is inputs[i].
template <class T>
TensorT<T> make_result(const char* op, Array<T>&& value, std::span<const TensorT<T>> inputs,
                       Backward<T> backward, Saved<T>&& saved = {});

/// Marks an op's result as one whose backward reads none of its inputs'
/// values (add, sum, reshape): writing those inputs in place later is harmless
/// to it, so their versions are not checked.
template <class T>
TensorT<T> reads_no_inputs(TensorT<T> result);

/// While alive, every op result made on this thread is named `name` (the
/// outermost one wins): a composite (sqrt = pow(x, 0.5), sub = a + (-b))
/// reports as what the user called, in anomaly errors and graph pictures.
class OpName {
 public:
  explicit OpName(const char* name);
  ~OpName();
  OpName(const OpName&) = delete;
  OpName& operator=(const OpName&) = delete;

 private:
  const char* previous_;
};

/// Throws Error if an input of n, or n itself, was written in place after the
/// op read it (its version moved on): PyTorch's rule for in-place writes.
template <class T>
void check_versions(const Node<T>& n);

/// The fast backward walk from `root`, seeded with `seed` (src/backward.cpp).
template <class T>
void run_backward(const std::shared_ptr<Node<T>>& root, Array<T>&& seed, bool retain);

/// The backward walk that records the backward pass as ops (create_graph),
/// or, under grad() without create_graph, runs the same differentiable forms
/// with grad mode off (src/autograd_graph.cpp). With `targets` empty it is
/// backward(): every leaf below the roots gets its gradient (value and
/// grad_graph); otherwise it returns the targets' gradients and writes none.
template <class T>
std::vector<TensorT<T>> graph_backward(const std::vector<TensorT<T>>& roots, const std::vector<TensorT<T>>& seeds,
                                       const std::vector<TensorT<T>>& targets, const GradOptions& options);

/// While alive, grad mode on this thread is `enabled` (the graph walk records
/// the backward pass exactly when it creates a graph).
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

/// Input i of an op's node, for use inside backward steps.
template <class T>
inline Node<T>& in(Node<T>& out, std::size_t i) {
  return *out.inputs[i].node;
}

/// Shape of an array as a slope::Shape.
template <class A>
inline Shape shape_of(const A& a) {
  return Shape(a.shape().begin(), a.shape().end());
}

/// An uninitialised array of `shape` from the pool. ShapeError if the shape's
/// entries overflow 64 bits (xtensor would allocate the wrapped-around count).
template <class T, class S>
inline Array<T> new_array(const S& shape) {
  std::size_t n = 1;
  bool wraps = false, empty = false;
  for (std::size_t d : shape) wraps |= __builtin_mul_overflow(n, d, &n), empty |= d == 0;
  if (wraps && !empty) numel(Shape(shape.begin(), shape.end()));  // throws, naming the shape
  return Array<T>::from_shape(shape);
}

/// Whether two arrays have the same shape.
template <class A, class B>
inline bool shapes_equal(const A& a, const B& b) {
  return std::equal(a.shape().begin(), a.shape().end(), b.shape().begin(), b.shape().end());
}

/// Labels must index a column of an (n, c) array: ShapeError "<op>: k labels for
/// n rows: <operand> is <shape>", ValueError "<op>: label l at row i is outside
/// [0, c)". `operand` is the argument's name in the op's signature ("scores").
void check_labels(std::span<const std::int32_t> labels, std::size_t n, std::size_t c, const char* op,
                  const char* operand, const Shape& shape);

/// Normalises a possibly negative axis; ShapeError if out of range.
std::size_t normalize_axis(int axis, std::size_t ndim, const char* op, const Shape& shape);

/// An array seen along one axis: `outer` blocks of `n` entries along the axis,
/// each entry a run of `inner` contiguous values. Entry (o, j, i) is at
/// (o n + j) inner + i; the reduced result's entry (o, i) at o inner + i.
struct AxisSplit {
  std::size_t outer = 1, n = 1, inner = 1;
};

/// The split of `shape` (any container of sizes) along `axis`, allocating nothing.
template <class S>
inline AxisSplit split_at(const S& shape, std::size_t axis) {
  AxisSplit s;
  for (std::size_t d = 0; d < axis; ++d) s.outer *= shape[d];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) s.inner *= shape[d];
  s.n = shape[axis];
  return s;
}

/// The split of `shape` along `axis`, and in `reduced` the shape without it
/// (or with a 1 in its place when keepdims).
inline AxisSplit split_axis(const Shape& shape, std::size_t axis, bool keepdims, Shape& reduced) {
  AxisSplit s;
  reduced.clear();
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d < axis) s.outer *= shape[d];
    if (d > axis) s.inner *= shape[d];
    if (d != axis) reduced.push_back(shape[d]);
    else if (keepdims) reduced.push_back(1);
  }
  s.n = shape[axis];
  return s;
}

/// For each (o, i) of `s`, the position j of the first entry along the axis
/// that no later entry beats (`better(a, b)`: a beats b), into index[o inner + i].
template <class T, class I, class Better>
void first_best(const T* src, const AxisSplit& s, I* index, Better better) {
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const T* slice = src + o * s.n * s.inner + i;
      std::size_t best = 0;
      for (std::size_t j = 1; j < s.n; ++j)
        if (better(slice[j * s.inner], slice[best * s.inner])) best = j;
      index[o * s.inner + i] = static_cast<I>(best);
    }
}

/// Entries per part below which elementwise loops stay on one thread: about
/// 30 microseconds of simple arithmetic, more than a hand-off costs.
inline constexpr std::size_t kElementwiseGrain = 1 << 15;

/// out[i] = f(i) for i in [0, n), in parallel when n is large.
template <class F>
void for_each_index(std::size_t n, F&& f) {
  parallel_for(n, kElementwiseGrain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) f(i);
  });
}

/// Writes a share into a gradient target: dst = v when fresh, dst += v otherwise.
/// `share(i)` gives entry i of the share; n entries, in parallel when large.
template <class T, class F>
void write_share(GradTarget<T> t, std::size_t n, F&& share) {
  T* __restrict dst = t.data;
  if (t.fresh)
    for_each_index(n, [&](std::size_t i) { dst[i] = share(i); });
  else
    for_each_index(n, [&](std::size_t i) { dst[i] += share(i); });
}

/// out = f(x) entry by entry, into a fresh array of x's shape.
template <class T, class F>
Array<T> map(const Array<T>& x, F f) {
  Array<T> r = new_array<T>(x.shape());
  T* __restrict o = r.data();
  const T* __restrict p = x.data();
  for_each_index(r.size(), [&](std::size_t i) { o[i] = f(p[i]); });
  return r;
}

/// Adds share(i), for the entries of a gradient of `out`'s shape, to input k
/// (if it requires a gradient): in place when input k has out's shape,
/// through a full-shape temporary (summed down by accumulate_grad) when it
/// was broadcast.
template <class T, class F>
void add_share(Node<T>& out, std::size_t k, F&& share) {
  Node<T>& x = in(out, k);
  if (!x.requires_grad) return;
  const std::size_t n = out.grad.size();
  if (shapes_equal(x.value, out.grad)) return write_share(grad_target(x), n, share);
  Array<T> g = new_array<T>(out.grad.shape());
  T* __restrict dst = g.data();
  for_each_index(n, [&](std::size_t i) { dst[i] = share(i); });
  accumulate_grad(x, std::move(g));
}

// ---- the differentiable form of a backward step ----------------------------------

/// What a backward step's differentiable form sees when a backward creates a
/// graph (src/autograd_graph.cpp): the node (saved arrays, shapes), the
/// gradient of its output as a tensor, and its inputs' shares, which it
/// computes with ops and hands over with add(). A share may have the
/// output's (broadcast) shape: the engine sums it down to the input's shape
/// with a differentiable reduction, as accumulate_grad does for arrays.
template <class T>
struct GraphGrad {
  Node<T>& out;
  const std::shared_ptr<Node<T>>& self;  // the owning pointer of `out`
  TensorT<T> g;                          // dL/d(out), itself differentiable under create_graph
  std::vector<std::optional<TensorT<T>>>& shares;  // one per input, filled by add()

  /// Input i and the output as tensors: ops on them record edges to the
  /// original graph, so the shares depend on the inputs as the formula says.
  TensorT<T> input(std::size_t i) const { return TensorT<T>(out.inputs[i].node); }
  TensorT<T> output() const { return TensorT<T>(self); }
  bool needs(std::size_t i) const { return out.inputs[i].node->requires_grad; }
  Shape input_shape(std::size_t i) const { return shape_of(out.inputs[i].node->value); }
  void add(std::size_t i, const TensorT<T>& share) {
    if (!needs(i)) return;
    shares[i] = shares[i] ? slope::add(*shares[i], share) : share;
  }
};

/// A reduction's gradient (one entry per (o, i) of the split) as an
/// (outer, 1, inner) tensor, which broadcasts along the reduced axis of the
/// input seen as (outer, n, inner).
template <class T>
TensorT<T> along_reduced_axis(const TensorT<T>& g, const AxisSplit& s) {
  return reshape(g, Shape{s.outer, 1, s.inner});
}

// The adjoints of the ops that move entries, as primitives of their own
// (each one's backward is the op it undoes, so gradients of any order exist).

/// C = op(A) op(B) for 2-D a and b, op transposing when its flag is set: the
/// 2-D matmul primitive (src/ops_linalg.cpp).
template <class T>
TensorT<T> matmul_t(const TensorT<T>& a, const TensorT<T>& b, bool ta, bool tb);
/// index_select's adjoint (src/ops_index.cpp): zeros with `n` slices along
/// `axis` (g's other dimensions), slice j of g added into slice indices[j].
template <class T>
TensorT<T> index_add(const TensorT<T>& g, int axis, std::span<const std::int64_t> indices, std::size_t n);
/// slice's adjoint (src/ops_shape.cpp): zeros of `shape` with g's slices at
/// positions first, first + stride, ... along `axis`.
template <class T>
TensorT<T> scatter_slice(const TensorT<T>& g, const Shape& shape, std::size_t axis, std::size_t first,
                         std::size_t stride);

/// The backward of an elementwise unary op from its derivative, written once
/// as `d(g, x, y)` (the share for gradient g, input x and output y) generic
/// over numbers and tensors: the fast path applies it entry by entry to raw
/// numbers, the differentiable form once to whole tensors.
template <class T, class D>
Backward<T> unary_rule(D d) {
  return Backward<T>(
      [d](Node<T>& out) {
        const T* g = out.grad.data();
        const T* x = in(out, 0).value.data();
        const T* y = out.value.data();
        add_share(out, 0, [d, g, x, y](std::size_t i) { return d(g[i], x[i], y[i]); });
      },
      [d](GraphGrad<T>& c) { c.add(0, d(c.g, c.input(0), c.output())); });
}

// ---- broadcasting binary loops ---------------------------------------------------

// True when b's entries repeat along the leading dimensions of a: b's shape,
// after dropping leading 1s, is a suffix of a's (a bias row against a batch).
template <class T>
bool is_trailing_block(const Array<T>& a, const Array<T>& b) {
  std::size_t lead = 0;
  while (lead < b.dimension() && b.shape()[lead] == 1) ++lead;
  const std::size_t rank = b.dimension() - lead;
  if (rank > a.dimension() || b.dimension() > a.dimension()) return false;
  for (std::size_t i = 0; i < rank; ++i)
    if (b.shape()[lead + i] != a.shape()[a.dimension() - rank + i]) return false;
  return true;
}

// out = f(a, b) with NumPy broadcasting. Plain loops for the shapes training
// meets (equal shapes, a scalar, a bias row against a batch); materialised
// broadcasting for the rest.
template <class T, class F>
Array<T> zip(const Array<T>& a, const Array<T>& b, const Shape& shape, F f) {
  Array<T> r = new_array<T>(shape);
  T* __restrict o = r.data();
  const T* pa = a.data();
  const T* pb = b.data();
  const std::size_t n = r.size();
  if (a.size() == n && b.size() == n) {
    for_each_index(n, [&](std::size_t i) { o[i] = f(pa[i], pb[i]); });
  } else if (b.size() == 1 && a.size() == n) {
    const T y = pb[0];
    for_each_index(n, [&](std::size_t i) { o[i] = f(pa[i], y); });
  } else if (a.size() == 1 && b.size() == n) {
    const T x = pa[0];
    for_each_index(n, [&](std::size_t i) { o[i] = f(x, pb[i]); });
  } else if (a.size() == n && b.size() > 0 && is_trailing_block(a, b)) {
    const std::size_t c = b.size();
    parallel_for(n / c, std::max<std::size_t>(1, kElementwiseGrain / c),
                         [&](std::size_t lo, std::size_t hi) {
                           for (std::size_t r0 = lo; r0 < hi; ++r0)
                             for (std::size_t j = 0; j < c; ++j)
                               o[r0 * c + j] = f(pa[r0 * c + j], pb[j]);
                         });
  } else {
    const Array<T> ba = xt::broadcast(a, shape), bb = xt::broadcast(b, shape);
    for (std::size_t i = 0; i < n; ++i) o[i] = f(ba.data()[i], bb.data()[i]);
  }
  return r;
}

/// The entries of `a` broadcast to `shape`: a.data() itself when the shapes
/// agree, otherwise a materialised copy in `scratch`.
template <class T>
const T* broadcast_data(const Array<T>& a, const Shape& shape, Array<T>& scratch) {
  if (std::equal(a.shape().begin(), a.shape().end(), shape.begin(), shape.end())) return a.data();
  scratch = xt::broadcast(a, shape);
  return scratch.data();
}

}  // namespace slope::detail

// Explicit instantiation for the two supported element types.
#define SLOPE_FOR_EACH_DTYPE(X) X(float) X(double)
