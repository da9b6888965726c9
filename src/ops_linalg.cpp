// matmul, transpose and reshape.
#include <climits>

#include <xtensor/xmanipulation.hpp>

#include "blas.hpp"
#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::in;
using detail::make_result;
using detail::Node;

namespace {

// C(m, n) = op(A) op(B), with op(A) of shape (m, k); a fresh array.
template <class T>
xt::xarray<T> gemm_new(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k,
                       const xt::xarray<T>& a, const xt::xarray<T>& b) {
  xt::xarray<T> c = xt::xarray<T>::from_shape({m, n});
  if (m == 0 || n == 0) return c;
  if (k == 0) {
    c.fill(T(0));
    return c;
  }
  const int lda = static_cast<int>(a.shape()[1]);
  const int ldb = static_cast<int>(b.shape()[1]);
  detail::gemm(ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), T(1),
               a.data(), lda, b.data(), ldb, T(0), c.data(), static_cast<int>(n));
  return c;
}

// Adds op(A) op(B), an (m, n) product, to node's gradient: straight into the
// existing buffer with gemm's beta = 1 when there is one (the common case
// after zero_grad), else through accumulate_grad.
template <class T>
void accumulate_product(Node<T>& node, bool ta, bool tb, std::size_t m, std::size_t n,
                        std::size_t k, const xt::xarray<T>& a, const xt::xarray<T>& b) {
  if (node.has_grad && !anomaly_enabled() && node.grad.size() == m * n && m && n && k) {
    detail::gemm(ta, tb, int(m), int(n), int(k), T(1), a.data(), int(a.shape()[1]), b.data(),
                 int(b.shape()[1]), T(1), node.grad.data(), int(n));
    return;
  }
  accumulate_grad(node, gemm_new<T>(ta, tb, m, n, k, a, b));
}

}  // namespace

template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b) {
  if (a.dim() != 2 || b.dim() != 2)
    throw ShapeError(fmt::format("matmul: expects 2-D tensors: a is {}, b is {}",
                                 to_string(a.shape()), to_string(b.shape())));
  const std::size_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  if (b.shape()[0] != k)
    throw ShapeError(fmt::format("matmul: inner dimensions differ: a is {}, b is {}",
                                 to_string(a.shape()), to_string(b.shape())));
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    throw ShapeError(fmt::format("matmul: dimensions exceed the BLAS limit: a is {}, b is {}",
                                 to_string(a.shape()), to_string(b.shape())));
  xt::xarray<T> c = gemm_new<T>(false, false, m, n, k, a.value(), b.value());
  return make_result<T>("matmul", std::move(c), {&a, &b}, [](Node<T>& out) {
    const Node<T>& A = in(out, 0);
    const Node<T>& B = in(out, 1);
    const std::size_t m = A.value.shape()[0], k = A.value.shape()[1], n = B.value.shape()[1];
    // dA = dC B^T  (m, k);  dB = A^T dC  (k, n). Only for inputs that need it:
    // the input batch never gets a dX.
    if (A.requires_grad) accumulate_product(in(out, 0), false, true, m, k, n, out.grad, B.value);
    if (B.requires_grad) accumulate_product(in(out, 1), true, false, k, n, m, A.value, out.grad);
  });
}

template <class T>
TensorT<T> transpose(const TensorT<T>& x) {
  if (x.dim() != 2)
    throw ShapeError(fmt::format("transpose: expects a 2-D tensor: x is {}", to_string(x.shape())));
  xt::xarray<T> r = xt::transpose(x.value());
  return make_result<T>("transpose", std::move(r), {&x}, [](Node<T>& out) {
    accumulate_grad(in(out, 0), xt::xarray<T>(xt::transpose(out.grad)));
  });
}

template <class T>
TensorT<T> reshape(const TensorT<T>& x, const Shape& shape) {
  if (numel(shape) != x.size())
    throw ShapeError(fmt::format("reshape: cannot reshape {} ({} entries) into {} ({} entries)",
                                 to_string(x.shape()), x.size(), to_string(shape), numel(shape)));
  xt::xarray<T> r = x.value();
  r.reshape(shape);
  return make_result<T>("reshape", std::move(r), {&x}, [](Node<T>& out) {
    xt::xarray<T> g = out.grad;
    g.reshape(in(out, 0).value.shape());
    accumulate_grad(in(out, 0), std::move(g));
  });
}

#define SLOPE_INSTANTIATE(T)                                              \
  template TensorT<T> matmul<T>(const TensorT<T>&, const TensorT<T>&);    \
  template TensorT<T> transpose<T>(const TensorT<T>&);                    \
  template TensorT<T> reshape<T>(const TensorT<T>&, const Shape&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
