// Elementwise ops. Binary ops broadcast like NumPy; a backward step writes an
// operand's share straight into its gradient when the shapes agree, and hands
// a full-shape share to accumulate_grad (which sums it down) when they do not.
// Loops run over raw pointers and split over the threads when large.
#include <algorithm>
#include <cmath>

#include "kernels.hpp"
#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::add_share;
using detail::for_each_index;
using detail::grad_target;
using detail::GraphGrad;
using detail::in;
using detail::map;
using detail::make_result;
using detail::new_array;
using detail::Node;
using detail::unary_rule;
using detail::write_share;
using detail::zip;

template <class T>
TensorT<T> add(const TensorT<T>& a, const TensorT<T>& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "add");
  Array<T> r = zip(a.value(), b.value(), shape, [](T x, T y) { return x + y; });
  return detail::reads_no_inputs(make_result<T>("add", std::move(r), {&a, &b}, {[](Node<T>& out) {
    // d(a + b) = g for both operands.
    const T* g = out.grad.data();
    add_share(out, 0, [g](std::size_t i) { return g[i]; });
    add_share(out, 1, [g](std::size_t i) { return g[i]; });
  }, [](GraphGrad<T>& c) {
    c.add(0, c.g);  // the engine sums a broadcast operand's share down
    c.add(1, c.g);
  }}));
}

template <class T>
TensorT<T> mul(const TensorT<T>& a, const TensorT<T>& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "mul");
  Array<T> r = zip(a.value(), b.value(), shape, [](T x, T y) { return x * y; });
  return make_result<T>("mul", std::move(r), {&a, &b}, {[](Node<T>& out) {
    // d(a * b) = g * b for a, g * a for b (each broadcast to g's shape).
    const Shape shape = detail::shape_of(out.grad);
    const auto times = [](T x, T y) { return x * y; };
    for (std::size_t k = 0; k < 2; ++k) {
      Node<T>& x = in(out, k);
      if (!x.requires_grad) continue;
      const Array<T>& other = in(out, 1 - k).value;
      if (detail::shapes_equal(x.value, out.grad) && detail::shapes_equal(other, out.grad)) {
        const T* g = out.grad.data();
        const T* v = other.data();
        write_share(grad_target(x), out.grad.size(), [g, v](std::size_t i) { return g[i] * v[i]; });
      } else {
        accumulate_grad(x, zip(out.grad, other, shape, times));
      }
    }
  }, [](GraphGrad<T>& c) {
    c.add(0, c.g * c.input(1));  // the same product with the mul op: differentiable in g and b
    c.add(1, c.g * c.input(0));
  }});
}

template <class T>
TensorT<T> sub(const TensorT<T>& a, const TensorT<T>& b) {
  detail::OpName name_scope("sub");  // report as the op the user called
  broadcast_shapes(a.shape(), b.shape(), "sub");
  return add(a, neg(b));
}

template <class T>
TensorT<T> div(const TensorT<T>& a, const TensorT<T>& b) {
  detail::OpName name_scope("div");  // report as the op the user called
  broadcast_shapes(a.shape(), b.shape(), "div");
  return mul(a, pow(b, T(-1)));
}

// Each unary op's derivative is one formula d(g, x, y), generic over numbers
// (the fast loop) and tensors (the differentiable form): see unary_rule.

template <class T>
TensorT<T> neg(const TensorT<T>& x) {
  return detail::reads_no_inputs(make_result<T>("neg", map(x.value(), [](T v) { return -v; }), {&x},
                                                unary_rule<T>([](auto g, auto, auto) { return -g; })));
}

template <class T>
TensorT<T> exp(const TensorT<T>& x) {
  // d exp(x) = exp(x) g: reuse the output.
  return detail::reads_no_inputs(make_result<T>("exp", map(x.value(), [](T v) { return std::exp(v); }), {&x},
                                                unary_rule<T>([](auto g, auto, auto y) { return g * y; })));
}

template <class T>
TensorT<T> log(const TensorT<T>& x) {
  // d log(x) = g / x
  return make_result<T>("log", map(x.value(), [](T v) { return std::log(v); }), {&x},
                        unary_rule<T>([](auto g, auto x, auto) { return g / x; }));
}

template <class T>
TensorT<T> log1p(const TensorT<T>& x) {
  // d log(1 + x) = g / (1 + x)
  return make_result<T>("log1p", map(x.value(), [](T v) { return std::log1p(v); }), {&x},
                        unary_rule<T>([](auto g, auto x, auto) { return g / (T(1) + x); }));
}

template <class T>
TensorT<T> expm1(const TensorT<T>& x) {
  // d (e^x - 1) = e^x g = (y + 1) g, from the output
  return make_result<T>("expm1", map(x.value(), [](T v) { return std::expm1(v); }), {&x},
                        unary_rule<T>([](auto g, auto, auto y) { return g * (y + T(1)); }));
}

template <class T>
TensorT<T> relu(const TensorT<T>& x) {
  // Passes g where the output is positive (the input was); 0 at the kink.
  return detail::reads_no_inputs(
      make_result<T>("relu", map(x.value(), [](T v) { return detail::relu_of(v); }), {&x},
                     unary_rule<T>([](auto g, auto, auto y) { return detail::relu_grad(y, g); })));
}

template <class T>
TensorT<T> abs(const TensorT<T>& x) {
  // d|x| = sign(x) g, with sign(0) = 0.
  return make_result<T>("abs", map(x.value(), [](T v) { return std::abs(v); }), {&x},
                        unary_rule<T>([](auto g, auto x, auto) { return detail::abs_grad(x, g); }));
}

template <class T>
TensorT<T> pow(const TensorT<T>& x, Scalar<T> p) {
  // d x^p = p x^(p-1) g
  return make_result<T>("pow", map(x.value(), [p](T v) { return std::pow(v, p); }), {&x},
                        unary_rule<T>([p](auto g, auto x, auto) {
                          using std::pow;
                          return g * (p * pow(x, p - T(1)));
                        }));
}

template <class T>
TensorT<T> square(const TensorT<T>& x) {
  // A primitive rather than pow(x, 2): x * x is far cheaper than std::pow. d x^2 = 2 x g
  return make_result<T>("square", map(x.value(), [](T v) { return v * v; }), {&x},
                        unary_rule<T>([](auto g, auto x, auto) { return detail::square_grad(x, g); }));
}

template <class T>
TensorT<T> sqrt(const TensorT<T>& x) {
  detail::OpName name_scope("sqrt");  // report as the op the user called
  return pow(x, T(0.5));
}

template <class T>
TensorT<T> add_scalar(const TensorT<T>& x, Scalar<T> s) {
  return detail::reads_no_inputs(make_result<T>("add_scalar", map(x.value(), [s](T v) { return v + s; }), {&x},
                                                unary_rule<T>([](auto g, auto, auto) { return g; })));
}

template <class T>
TensorT<T> mul_scalar(const TensorT<T>& x, Scalar<T> s) {
  return detail::reads_no_inputs(make_result<T>("mul_scalar", map(x.value(), [s](T v) { return v * s; }), {&x},
                                                unary_rule<T>([s](auto g, auto, auto) { return g * s; })));
}

#define SLOPE_INSTANTIATE(T)                                                           \
  template TensorT<T> add<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> mul<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> sub<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> div<T>(const TensorT<T>&, const TensorT<T>&);                    \
  template TensorT<T> neg<T>(const TensorT<T>&);                                       \
  template TensorT<T> exp<T>(const TensorT<T>&);                                       \
  template TensorT<T> log<T>(const TensorT<T>&);                                       \
  template TensorT<T> log1p<T>(const TensorT<T>&);                                     \
  template TensorT<T> expm1<T>(const TensorT<T>&);                                     \
  template TensorT<T> relu<T>(const TensorT<T>&);                                      \
  template TensorT<T> abs<T>(const TensorT<T>&);                                       \
  template TensorT<T> pow<T>(const TensorT<T>&, Scalar<T>);                            \
  template TensorT<T> square<T>(const TensorT<T>&);                                    \
  template TensorT<T> sqrt<T>(const TensorT<T>&);                                      \
  template TensorT<T> add_scalar<T>(const TensorT<T>&, Scalar<T>);                     \
  template TensorT<T> mul_scalar<T>(const TensorT<T>&, Scalar<T>);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
