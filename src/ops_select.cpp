// Ops that choose between values: clamp, maximum and minimum, the comparisons
// (0/1 masks, outside the graph) and where. All broadcast like NumPy; the
// gradient goes to whichever operand was chosen.
#include <algorithm>
#include <cmath>

#include "kernels.hpp"
#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::add_share;
using detail::broadcast_data;
using detail::in;
using detail::make_result;
using detail::map;
using detail::new_array;
using detail::Node;
using detail::unary_rule;
using detail::zip;

namespace {

// A comparison's 0/1 mask, as a constant: no inputs are recorded, so the
// result never requires a gradient.
template <class T, class F>
TensorT<T> compare(const char* op, const TensorT<T>& a, const TensorT<T>& b, F holds) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Array<T> r = zip(a.value(), b.value(), shape,
                   [holds](T x, T y) { return holds(x, y) ? T(1) : T(0); });
  return make_result<T>(op, std::move(r), {}, detail::Backward<T>());
}

}  // namespace

template <class T>
TensorT<T> clamp(const TensorT<T>& x, Scalar<T> lo, Scalar<T> hi) {
  if (!(lo <= hi)) throw ValueError(fmt::format("clamp: lo must be <= hi: got lo {}, hi {}", lo, hi));
  return make_result<T>("clamp", map(x.value(), [lo, hi](T v) { return std::min(std::max(v, lo), hi); }),
                        {&x}, unary_rule<T>([lo, hi](auto g, auto x, auto) {
                          return detail::clamp_grad(x, lo, hi, g);
                        }));
}

template <class T>
TensorT<T> maximum(const TensorT<T>& a, const TensorT<T>& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "maximum");
  Array<T> r = zip(a.value(), b.value(), shape, [](T x, T y) { return std::max(x, y); });
  return make_result<T>("maximum", std::move(r), {&a, &b}, {[](Node<T>& out) {
    // g to the larger operand; at a tie g / 2 to each (detail::maximum_grad).
    const Shape shape = detail::shape_of(out.grad);
    Array<T> scratch_a = detail::empty_array<T>(), scratch_b = detail::empty_array<T>();
    const T* va = broadcast_data(in(out, 0).value, shape, scratch_a);
    const T* vb = broadcast_data(in(out, 1).value, shape, scratch_b);
    const T* g = out.grad.data();
    const auto share = [g](const T* self, const T* other) {
      return [g, self, other](std::size_t i) { return detail::maximum_grad(self[i], other[i], g[i]); };
    };
    add_share(out, 0, share(va, vb));
    add_share(out, 1, share(vb, va));
  }, [](detail::GraphGrad<T>& c) {
    c.add(0, detail::maximum_grad(c.input(0), c.input(1), c.g));
    c.add(1, detail::maximum_grad(c.input(1), c.input(0), c.g));
  }});
}

template <class T>
TensorT<T> minimum(const TensorT<T>& a, const TensorT<T>& b) {
  detail::OpName name_scope("minimum");  // report as the op the user called
  broadcast_shapes(a.shape(), b.shape(), "minimum");
  return neg(maximum(neg(a), neg(b)));  // min(a, b) = -max(-a, -b), ties split alike
}

template <class T>
TensorT<T> lt(const TensorT<T>& a, const TensorT<T>& b) {
  return compare("lt", a, b, [](T x, T y) { return x < y; });
}
template <class T>
TensorT<T> le(const TensorT<T>& a, const TensorT<T>& b) {
  return compare("le", a, b, [](T x, T y) { return x <= y; });
}
template <class T>
TensorT<T> gt(const TensorT<T>& a, const TensorT<T>& b) {
  return compare("gt", a, b, [](T x, T y) { return x > y; });
}
template <class T>
TensorT<T> ge(const TensorT<T>& a, const TensorT<T>& b) {
  return compare("ge", a, b, [](T x, T y) { return x >= y; });
}
template <class T>
TensorT<T> eq(const TensorT<T>& a, const TensorT<T>& b) {
  return compare("eq", a, b, [](T x, T y) { return x == y; });
}

template <class T>
TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b) {
  Shape shape;
  try {
    shape = broadcast_shapes(mask.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  } catch (const ShapeError&) {
    throw ShapeError(fmt::format("where: shapes cannot be broadcast: mask is {}, a is {}, b is {}",
                                 to_string(mask.shape()), to_string(a.shape()), to_string(b.shape())));
  }
  Array<T> sm = detail::empty_array<T>(), sa = detail::empty_array<T>(), sb = detail::empty_array<T>();
  const T* m = broadcast_data(mask.value(), shape, sm);
  const T* va = broadcast_data(a.value(), shape, sa);
  const T* vb = broadcast_data(b.value(), shape, sb);
  Array<T> r = new_array<T>(shape);
  T* o = r.data();
  detail::for_each_index(r.size(), [=](std::size_t i) { o[i] = m[i] != T(0) ? va[i] : vb[i]; });
  // The mask is recorded as input 0 for its values; it never gets a gradient.
  return make_result<T>("where", std::move(r), {&mask, &a, &b}, {[](Node<T>& out) {
    // g to a where the mask is set, to b elsewhere.
    Array<T> scratch = detail::empty_array<T>();
    const T* m = broadcast_data(in(out, 0).value, detail::shape_of(out.grad), scratch);
    const T* g = out.grad.data();
    add_share(out, 1, [g, m](std::size_t i) { return m[i] != T(0) ? g[i] : T(0); });
    add_share(out, 2, [g, m](std::size_t i) { return m[i] != T(0) ? T(0) : g[i]; });
  }, [](detail::GraphGrad<T>& c) {
    // The same routing with where itself; the mask stays a constant.
    const TensorT<T> mask = c.input(0).detach();
    c.add(1, where(mask, c.g, TensorT<T>(T(0))));
    c.add(2, where(mask, TensorT<T>(T(0)), c.g));
  }});
}

#define SLOPE_INSTANTIATE(T)                                                            \
  template TensorT<T> clamp<T>(const TensorT<T>&, Scalar<T>, Scalar<T>);                \
  template TensorT<T> maximum<T>(const TensorT<T>&, const TensorT<T>&);                 \
  template TensorT<T> minimum<T>(const TensorT<T>&, const TensorT<T>&);                 \
  template TensorT<T> lt<T>(const TensorT<T>&, const TensorT<T>&);                      \
  template TensorT<T> le<T>(const TensorT<T>&, const TensorT<T>&);                      \
  template TensorT<T> gt<T>(const TensorT<T>&, const TensorT<T>&);                      \
  template TensorT<T> ge<T>(const TensorT<T>&, const TensorT<T>&);                      \
  template TensorT<T> eq<T>(const TensorT<T>&, const TensorT<T>&);                      \
  template TensorT<T> where<T>(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
