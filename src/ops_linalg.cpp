// matmul (2-D, with vectors promoted to a row or a column, and batched 3-D
// with a broadcast batch), linear (the layer's fused product) and reshape.
#include <climits>

#include "blas.hpp"
#include "kernels.hpp"
#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::grad_target;
using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;

namespace {

// Adds op(A) op(B), an (m, n) product with inner size k, to node's gradient:
// straight into its buffer, with gemm's beta = 0 when the buffer is fresh and
// beta = 1 when it already holds a share. No temporary.
template <class T>
void add_product(Node<T>& node, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k,
                 const Array<T>& a, const Array<T>& b) {
  const detail::GradTarget<T> t = grad_target(node);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (t.fresh) std::fill(t.data, t.data + m * n, T(0));
    return;
  }
  detail::gemm(ta, tb, int(m), int(n), int(k), T(1), a.data(), int(a.shape()[1]), b.data(),
               int(b.shape()[1]), t.fresh ? T(0) : T(1), t.data, int(n));
}

void check_blas_dims(const char* op, const Shape& a, const Shape& b) {
  for (const Shape* s : {&a, &b})
    for (std::size_t d : *s)
      if (d > INT_MAX)
        throw ShapeError(fmt::format("{}: dimensions exceed the BLAS limit: a is {}, b is {}", op,
                                     to_string(a), to_string(b)));
}

// Column sums of the (m, n) array g, added to (or written into) a gradient of n
// entries. Split over columns, so every entry is summed in one fixed order.
template <class T>
void add_column_sums(Node<T>& node, const T* g, std::size_t m, std::size_t n) {
  const detail::GradTarget<T> t = grad_target(node);
  detail::parallel_for(n, 64, [&](std::size_t lo, std::size_t hi) {
    T* __restrict db = t.data;
    if (t.fresh) std::fill(db + lo, db + hi, T(0));
    for (std::size_t i = 0; i < m; ++i) {
      const T* __restrict row = g + i * n;
      for (std::size_t j = lo; j < hi; ++j) db[j] += row[j];
    }
  });
}

// (m, k) x (k, n); the caller has checked the shapes.
template <class T>
TensorT<T> matmul_2d(const TensorT<T>& a, const TensorT<T>& b) {
  const std::size_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  Array<T> c = new_array<T>(Shape{m, n});
  if (k == 0) c.fill(T(0));
  else if (m && n)
    detail::gemm(false, false, int(m), int(n), int(k), T(1), a.data(), int(k), b.data(), int(n),
                 T(0), c.data(), int(n));
  return make_result<T>("matmul", std::move(c), {&a, &b}, [](Node<T>& out) {
    const Node<T>& A = in(out, 0);
    const Node<T>& B = in(out, 1);
    const std::size_t m = A.value.shape()[0], k = A.value.shape()[1], n = B.value.shape()[1];
    // dA = dC B^T  (m, k);  dB = A^T dC  (k, n), the transposes as gemm flags.
    // Only for inputs that need it: the input batch never gets a dX.
    if (A.requires_grad) add_product(in(out, 0), false, true, m, k, n, out.grad, B.value);
    // Inside a sharded step a parameter's dB is left to the finishing pass
    // (out.grad is this node's own and is not needed after this line).
    if (B.requires_grad &&
        (out.retains_grad || !detail::defer_product(in(out, 1), true, false, k, n, m, out.inputs[0].node, out.grad)))
      add_product(in(out, 1), true, false, k, n, m, A.value, out.grad);
  });
}

// c = op(a) op(b), or c += op(a) op(b) when accumulating, for an (m, n)
// block c with inner size k; a and b are row-major blocks with leading
// dimensions lda and ldb.
template <class T>
void gemm_block(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, std::size_t lda,
                const T* b, std::size_t ldb, bool accumulate, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) std::fill(c, c + m * n, T(0));
    return;
  }
  detail::gemm(ta, tb, int(m), int(n), int(k), T(1), a, int(lda), b, int(ldb), accumulate ? T(1) : T(0), c,
               int(n));
}

// (Ba, m, k) x (Bb, k, n) -> (B, m, n) with B = max(Ba, Bb) and a batch of 1
// broadcast against the other: one gemm per batch entry.
template <class T>
TensorT<T> matmul_batched(const TensorT<T>& a, const TensorT<T>& b) {
  const std::size_t ba = a.shape()[0], bb = b.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  const std::size_t batch = std::max(ba, bb);
  Array<T> c = new_array<T>(Shape{batch, m, n});
  for (std::size_t t = 0; t < batch; ++t)
    gemm_block(false, false, m, n, k, a.data() + (ba == 1 ? 0 : t) * m * k, k, b.data() + (bb == 1 ? 0 : t) * k * n,
               n, false, c.data() + t * m * n);
  return make_result<T>("matmul", std::move(c), {&a, &b}, [](Node<T>& out) {
    const Node<T>& A = in(out, 0);
    const Node<T>& B = in(out, 1);
    const std::size_t ba = A.value.shape()[0], bb = B.value.shape()[0], m = A.value.shape()[1],
                      k = A.value.shape()[2], n = B.value.shape()[2], batch = out.value.shape()[0];
    const T* g = out.grad.data();
    // Per batch entry t: dA_t = dC_t B_t^T, dB_t = A_t^T dC_t. A broadcast
    // operand (batch 1) sums the shares of every t into its one block.
    if (A.requires_grad) {
      const detail::GradTarget<T> ta = grad_target(in(out, 0));
      for (std::size_t t = 0; t < batch; ++t)
        gemm_block(false, true, m, k, n, g + t * m * n, n, B.value.data() + (bb == 1 ? 0 : t) * k * n, n,
                   !ta.fresh || (ba == 1 && t > 0), ta.data + (ba == 1 ? 0 : t) * m * k);
    }
    if (B.requires_grad) {
      const detail::GradTarget<T> tb = grad_target(in(out, 1));
      for (std::size_t t = 0; t < batch; ++t)
        gemm_block(true, false, k, n, m, A.value.data() + (ba == 1 ? 0 : t) * m * k, k, g + t * m * n, n,
                   !tb.fresh || (bb == 1 && t > 0), tb.data + (bb == 1 ? 0 : t) * k * n);
    }
  });
}

}  // namespace

template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b) {
  const auto shapes = [&] { return fmt::format("a is {}, b is {}", to_string(a.shape()), to_string(b.shape())); };
  if (a.dim() < 1 || a.dim() > 3 || b.dim() < 1 || b.dim() > 3)
    throw ShapeError("matmul: expects 1-D, 2-D or 3-D tensors: " + shapes());
  const std::size_t ka = a.shape().back(), kb = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  if (ka != kb) throw ShapeError("matmul: inner dimensions differ: " + shapes());
  if (a.dim() == 3 && b.dim() == 3 && a.shape()[0] != b.shape()[0] && a.shape()[0] != 1 && b.shape()[0] != 1)
    throw ShapeError("matmul: batch dimensions cannot be broadcast: " + shapes());
  check_blas_dims("matmul", a.shape(), b.shape());
  if (a.dim() == 2 && b.dim() == 2) return matmul_2d(a, b);
  // A vector is a matrix of one row (a) or one column (b), dropped from the result.
  const TensorT<T> a2 = a.dim() == 1 ? reshape(a, Shape{1, ka}) : a;
  const TensorT<T> b2 = b.dim() == 1 ? reshape(b, Shape{kb, 1}) : b;
  TensorT<T> c;
  if (a2.dim() == 2 && b2.dim() == 2) {
    c = matmul_2d(a2, b2);
  } else if (b2.dim() == 2) {  // (B, m, k) x (k, n): one gemm over the stacked rows
    const std::size_t batch = a2.shape()[0], m = a2.shape()[1];
    c = reshape(matmul_2d(reshape(a2, Shape{batch * m, ka}), b2), Shape{batch, m, b2.shape()[1]});
  } else {
    c = matmul_batched(a2.dim() == 2 ? reshape(a2, Shape{1, a2.shape()[0], ka}) : a2, b2);
  }
  Shape shape = c.shape();
  if (b.dim() == 1) shape.erase(shape.end() - 1);
  if (a.dim() == 1) shape.erase(shape.end() - (b.dim() == 1 ? 1 : 2));
  return shape == c.shape() ? c : reshape(c, shape);
}

template <class T>
TensorT<T> linear(const TensorT<T>& x, const TensorT<T>& W, const TensorT<T>& b, Activation act) {
  if (x.dim() != 2 || W.dim() != 2)
    throw ShapeError(fmt::format("linear: x and W must be 2-D: x is {}, W is {}",
                                 to_string(x.shape()), to_string(W.shape())));
  const std::size_t m = x.shape()[0], k = x.shape()[1], n = W.shape()[1];
  if (W.shape()[0] != k)
    throw ShapeError(fmt::format("linear: x's columns differ from W's rows: x is {}, W is {}",
                                 to_string(x.shape()), to_string(W.shape())));
  if (b.dim() != 1 || b.shape()[0] != n)
    throw ShapeError(fmt::format("linear: b must have one entry per column of W: W is {}, b is {}",
                                 to_string(W.shape()), to_string(b.shape())));
  check_blas_dims("linear", x.shape(), W.shape());
  // y = act(x W + b): the bias rows are gemm's beta = 1 input, the activation
  // one pass over the result.
  Array<T> y = new_array<T>(Shape{m, n});
  T* __restrict out = y.data();
  const T* bias = b.data();
  detail::parallel_for(m, std::max<std::size_t>(1, detail::kElementwiseGrain / std::max<std::size_t>(n, 1)),
                       [&](std::size_t lo, std::size_t hi) {
                         for (std::size_t i = lo; i < hi; ++i) std::copy_n(bias, n, out + i * n);
                       });
  if (m && n && k)
    detail::gemm(false, false, int(m), int(n), int(k), T(1), x.data(), int(k), W.data(), int(n),
                 T(1), out, int(n));
  if (act == Activation::relu)
    detail::for_each_index(m * n, [out](std::size_t i) { out[i] = detail::relu_of(out[i]); });
  return make_result<T>(act == Activation::relu ? "linear_relu" : "linear", std::move(y), {&x, &W, &b},
                        [act](Node<T>& out) {
    const Node<T>& X = in(out, 0);
    const Node<T>& Wn = in(out, 1);
    const std::size_t m = X.value.shape()[0], k = X.value.shape()[1], n = Wn.value.shape()[1];
    // G = dL/d(x W + b): through the relu first, in place (out.grad is this
    // node's own and is freed right after), or into a copy when
    // retain_grad() asked to keep out.grad.
    Array<T> kept = detail::empty_array<T>();
    Array<T>* G = &out.grad;
    if (act == Activation::relu) {
      if (out.retains_grad) {
        kept = out.grad;
        G = &kept;
      }
      T* g = G->data();
      const T* yv = out.value.data();
      detail::for_each_index(m * n, [g, yv](std::size_t i) { g[i] = detail::relu_grad(yv[i], g[i]); });
    }
    // db = colsum(G) (n), dx = G W^T (m, k), dW = x^T G (k, n): dW last, since
    // inside a sharded step it is left, with G, to the finishing pass.
    if (in(out, 2).requires_grad) add_column_sums(in(out, 2), G->data(), m, n);
    if (X.requires_grad) add_product(in(out, 0), false, true, m, k, n, *G, Wn.value);
    if (Wn.requires_grad && !detail::defer_product(in(out, 1), true, false, k, n, m, out.inputs[0].node, *G))
      add_product(in(out, 1), true, false, k, n, m, X.value, *G);
  });
}

template <class T>
TensorT<T> reshape(const TensorT<T>& x, const Shape& shape) {
  std::size_t n = 0;
  try {
    n = numel(shape);
  } catch (const ShapeError& e) {
    throw ShapeError(fmt::format("reshape: {}", e.what()));
  }
  if (n != x.size())
    throw ShapeError(fmt::format("reshape: cannot reshape {} ({} entries) into {} ({} entries)",
                                 to_string(x.shape()), x.size(), to_string(shape), n));
  Array<T> r = new_array<T>(shape);
  std::copy_n(x.data(), x.size(), r.data());
  return detail::reads_no_inputs(make_result<T>("reshape", std::move(r), {&x}, [](Node<T>& out) {
    // The same entries in the same order: the gradient passes through flat.
    const T* g = out.grad.data();
    detail::write_share(grad_target(in(out, 0)), out.grad.size(), [g](std::size_t i) { return g[i]; });
  }));
}

#define SLOPE_INSTANTIATE(T)                                                                 \
  template TensorT<T> matmul<T>(const TensorT<T>&, const TensorT<T>&);                       \
  template TensorT<T> linear<T>(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&,     \
                                Activation);                                                 \
  template TensorT<T> reshape<T>(const TensorT<T>&, const Shape&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
