// matmul (2-D, with vectors promoted to a row or a column, and batched 3-D
// with a broadcast batch), linear (the layer's fused product) and reshape.
#include <climits>

#include "blas.hpp"
#include "kernels.hpp"
#include "op_support.hpp"
#include "shard_sink.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::grad_target;
using detail::GraphGrad;
using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;

namespace {

// Adds op(a) op(b) to node's gradient, where op transposes when its flag is
// set: straight into the buffer, with gemm's beta = 0 when the buffer is
// fresh and beta = 1 when it already holds a share. No temporary.
template <class T>
void add_product(Node<T>& node, bool ta, bool tb, const Array<T>& a, const Array<T>& b) {
  const std::size_t m = a.shape()[ta ? 1 : 0], k = a.shape()[ta ? 0 : 1], n = b.shape()[tb ? 0 : 1];
  const detail::GradTarget<T> t = grad_target(node);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (t.fresh) std::fill(t.data, t.data + m * n, T(0));
    return;
  }
  detail::gemm(ta, tb, int(m), int(n), int(k), T(1), a.data(), int(a.shape()[1]), b.data(),
               int(b.shape()[1]), t.fresh ? T(0) : T(1), t.data, int(n));
}

// The adjoint of C = op(A) op(B), written once: each input's gradient is again
// a product of two of A, B and G = dC, with transpose flags. For the plain
// product dA = G B^T and dB = A^T G; with op(A) = A^T, dA = op(B) G^T; with
// op(B) = B^T, dB = G^T op(A). The fast path hands the table to gemm, the
// differentiable form to the same primitive (matmul_t), so a product's
// derivative is a product at every order.
enum Operand { kA, kB, kG };
struct Product {
  Operand lhs, rhs;
  bool tl, tr;
};
constexpr Product grad_of_a(bool ta, bool tb) { return ta ? Product{kB, kG, tb, true} : Product{kG, kB, false, !tb}; }
constexpr Product grad_of_b(bool ta, bool tb) { return tb ? Product{kG, kA, true, ta} : Product{kA, kG, !ta, false}; }

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

}  // namespace

namespace detail {

template <class T>
TensorT<T> matmul_t(const TensorT<T>& a, const TensorT<T>& b, bool ta, bool tb) {
  const std::size_t m = a.shape()[ta ? 1 : 0], k = a.shape()[ta ? 0 : 1], n = b.shape()[tb ? 0 : 1];
  if (b.shape()[tb ? 1 : 0] != k)
    throw ShapeError(fmt::format("matmul: inner dimensions differ: a is {}{}, b is {}{}", to_string(a.shape()),
                                 ta ? " (transposed)" : "", to_string(b.shape()), tb ? " (transposed)" : ""));
  Array<T> c = new_array<T>(Shape{m, n});
  if (k == 0) c.fill(T(0));
  else if (m && n)
    detail::gemm(ta, tb, int(m), int(n), int(k), T(1), a.data(), int(a.shape()[1]), b.data(), int(b.shape()[1]),
                 T(0), c.data(), int(n));
  const std::uint32_t flags = (ta ? 1u : 0u) | (tb ? 2u : 0u);
  return make_result<T>("matmul", std::move(c), {&a, &b}, {[flags](Node<T>& out) {
    const bool ta = flags & 1u, tb = flags & 2u;
    const Array<T>* operand[] = {&in(out, 0).value, &in(out, 1).value, &out.grad};
    // Only for inputs that need it: the input batch never gets a dX.
    for (std::size_t i = 0; i < 2; ++i) {
      if (!in(out, i).requires_grad) continue;
      const Product p = i == 0 ? grad_of_a(ta, tb) : grad_of_b(ta, tb);
      // Inside a sharded step a parameter's dB = op(A) G is left to the
      // finishing pass (out.grad is this node's own and is not needed after
      // this, the last product).
      if (i == 1 && p.lhs == kA && p.rhs == kG && !out.retains_grad) {
        const Array<T>& A = *operand[kA];
        const std::size_t m = A.shape()[p.tl ? 1 : 0], k = A.shape()[p.tl ? 0 : 1], n = out.grad.shape()[1];
        if (detail::defer_product(in(out, 1), p.tl, p.tr, m, n, k, out.inputs[0].node, out.grad)) continue;
      }
      add_product(in(out, i), p.tl, p.tr, *operand[p.lhs], *operand[p.rhs]);
    }
  }, [flags](GraphGrad<T>& c) {
    const bool ta = flags & 1u, tb = flags & 2u;
    const TensorT<T> operand[] = {c.input(0), c.input(1), c.g};
    for (std::size_t i = 0; i < 2; ++i) {
      if (!c.needs(i)) continue;
      const Product p = i == 0 ? grad_of_a(ta, tb) : grad_of_b(ta, tb);
      c.add(i, matmul_t(operand[p.lhs], operand[p.rhs], p.tl, p.tr));
    }
  }});
}

}  // namespace detail

namespace {

// (m, k) x (k, n); the caller has checked the shapes.
template <class T>
TensorT<T> matmul_2d(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::matmul_t(a, b, false, false);
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
  return make_result<T>("matmul", std::move(c), {&a, &b}, {[](Node<T>& out) {
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
  }, [](GraphGrad<T>& c) {
    // The same adjoint with the batched product itself; a broadcast batch of 1
    // is summed down by the engine.
    const auto t = [](const TensorT<T>& x) { return permute(x, {0, 2, 1}); };
    c.add(0, matmul(c.g, t(c.input(1))));
    c.add(1, matmul(t(c.input(0)), c.g));
  }});
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
                        {[act](Node<T>& out) {
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
    // db = colsum(G) (n), dx = G W^T (m, k), dW = x^T G (k, n): matmul's
    // adjoint. dW last, since inside a sharded step it is left, with G, to
    // the finishing pass.
    const Array<T>* operand[] = {&X.value, &Wn.value, G};
    const Product pw = grad_of_b(false, false), px = grad_of_a(false, false);
    if (in(out, 2).requires_grad) add_column_sums(in(out, 2), G->data(), m, n);
    if (X.requires_grad) add_product(in(out, 0), px.tl, px.tr, *operand[px.lhs], *operand[px.rhs]);
    const bool keep_g = G == &out.grad && out.retains_grad;  // retain_grad() keeps out.grad
    if (Wn.requires_grad &&
        (keep_g || !detail::defer_product(in(out, 1), pw.tl, pw.tr, k, n, m, out.inputs[0].node, *G)))
      add_product(in(out, 1), pw.tl, pw.tr, *operand[pw.lhs], *operand[pw.rhs]);
  }, [act](GraphGrad<T>& c) {
    // The same steps with ops: G through relu' (from the output), the two
    // products of matmul's adjoint, and db = sum(G, 0).
    const TensorT<T> G = act == Activation::relu ? detail::relu_grad(c.output(), c.g) : c.g;
    const TensorT<T> operand[] = {c.input(0), c.input(1), G};
    const Product pw = grad_of_b(false, false), px = grad_of_a(false, false);
    if (c.needs(1)) c.add(1, detail::matmul_t(operand[pw.lhs], operand[pw.rhs], pw.tl, pw.tr));
    if (c.needs(2)) c.add(2, sum(G, 0));
    if (c.needs(0)) c.add(0, detail::matmul_t(operand[px.lhs], operand[px.rhs], px.tl, px.tr));
  }});
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
  return detail::reads_no_inputs(make_result<T>("reshape", std::move(r), {&x}, {[](Node<T>& out) {
    // The same entries in the same order: the gradient passes through flat.
    const T* g = out.grad.data();
    detail::write_share(grad_target(in(out, 0)), out.grad.size(), [g](std::size_t i) { return g[i]; });
  }, [](GraphGrad<T>& c) { c.add(0, reshape(c.g, detail::shape_of(c.out.inputs[0].node->value))); }}));
}

#define SLOPE_INSTANTIATE(T)                                                                 \
  template TensorT<T> matmul<T>(const TensorT<T>&, const TensorT<T>&);                       \
  template TensorT<T> linear<T>(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&,     \
                                Activation);                                                 \
  template TensorT<T> reshape<T>(const TensorT<T>&, const Shape&);                           \
  template TensorT<T> detail::matmul_t<T>(const TensorT<T>&, const TensorT<T>&, bool, bool);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
