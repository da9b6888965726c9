// jacobian, hessian, hvp and vhp: grad() with create_graph, applied as
// torch.autograd.functional applies torch.autograd.grad.
#include "slope/functional.hpp"

#include <fmt/format.h>

#include "op_support.hpp"
#include "slope/autograd.hpp"
#include "slope/ops.hpp"

namespace slope {

namespace {

// The point f is evaluated at: a differentiable copy of x (create_graph, x
// requiring a gradient) or a fresh leaf with x's value.
template <class T>
TensorT<T> point(const TensorT<T>& x, const FunctionalOptions& o) {
  if (o.create_graph && x.requires_grad()) return x.clone();
  return x.detach().set_requires_grad();
}

template <class T>
TensorT<T> one_entry(const char* op, const TensorFunction<T>& f, const TensorT<T>& x) {
  TensorT<T> y = f(x);
  if (y.size() != 1)
    throw ShapeError(fmt::format("{}: f must return one entry, got shape {}", op, to_string(y.shape())));
  return y;
}

template <class T>
TensorT<T> result_value(const TensorT<T>& y, const FunctionalOptions& o) {
  return o.create_graph ? y : y.detach();
}

// The rows d<y, e_i>/dx for every entry i of y, as one tensor of shape
// y.shape + x.shape: one backward per row through y's graph (kept), each seeded
// with a one-hot grad_output. Zeros if y does not depend on x.
template <class T>
TensorT<T> rows_of(const TensorT<T>& y, const TensorT<T>& x, const FunctionalOptions& o) {
  Shape shape = y.shape();
  for (std::size_t d : x.shape()) shape.push_back(d);
  if (!y.requires_grad()) return zeros<T>(shape);
  std::vector<TensorT<T>> rows;
  for (std::size_t i = 0; i < y.size(); ++i) {
    TensorT<T> e = zeros_like(y);
    e.mutable_value().data()[i] = T(1);
    rows.push_back(grad({y}, {x}, {e}, {.create_graph = o.create_graph, .retain_graph = true, .allow_unused = true})[0]);
  }
  if (o.create_graph) return reshape(stack(rows), shape);
  Array<T> out = detail::new_array<T>(shape);
  for (std::size_t i = 0; i < rows.size(); ++i) std::copy_n(rows[i].data(), x.size(), out.data() + i * x.size());
  return TensorT<T>(std::move(out));
}

template <class T>
void check_v(const char* op, const TensorT<T>& x, const TensorT<T>& v) {
  if (v.shape() != x.shape())
    throw ShapeError(fmt::format("{}: v must have x's shape: x is {}, v is {}", op, to_string(x.shape()),
                                 to_string(v.shape())));
}

}  // namespace

template <class T>
TensorT<T> jacobian(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x,
                    const FunctionalOptions& o) {
  const TensorT<T> at = point(x, o);
  return rows_of(f(at), at, o);
}

template <class T>
TensorT<T> hessian(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x,
                   const FunctionalOptions& o) {
  const TensorT<T> at = point(x, o);
  const TensorT<T> y = one_entry("hessian", f, at);
  Shape shape = x.shape();
  for (std::size_t d : x.shape()) shape.push_back(d);
  if (!y.requires_grad()) return zeros<T>(shape);
  // The gradient with its graph; the Hessian is its Jacobian.
  const TensorT<T> g = grad(y, {at}, {.create_graph = true, .allow_unused = true})[0];
  return reshape(rows_of(g, at, o), shape);
}

template <class T>
HessianProduct<T> vhp(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x, const TensorT<T>& v,
                      const FunctionalOptions& o) {
  check_v("vhp", x, v);
  const TensorT<T> at = point(x, o);
  const TensorT<T> y = one_entry("vhp", f, at);
  if (!y.requires_grad()) return {result_value(y, o), zeros_like(x)};
  const TensorT<T> g = grad(y, {at}, {.create_graph = true, .allow_unused = true})[0];
  if (!g.requires_grad()) return {result_value(y, o), zeros_like(x)};  // f is linear in x: H = 0
  // v^T H: the vector-Jacobian product of the gradient with v.
  const TensorT<T> product = grad({g}, {at}, {v}, {.create_graph = o.create_graph, .allow_unused = true})[0];
  return {result_value(y, o), product};
}

template <class T>
HessianProduct<T> hvp(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x, const TensorT<T>& v,
                      const FunctionalOptions& o) {
  check_v("hvp", x, v);
  const TensorT<T> at = point(x, o);
  const TensorT<T> y = one_entry("hvp", f, at);
  if (!y.requires_grad()) return {result_value(y, o), zeros_like(x)};
  const TensorT<T> g = grad(y, {at}, {.create_graph = true, .allow_unused = true})[0];
  if (!g.requires_grad()) return {result_value(y, o), zeros_like(x)};
  // w(u) = u^T H = grad(g, x, u) is linear in a dummy u; d<w(u), v>/du = H v.
  const TensorT<T> u = zeros_like(x, true);
  const TensorT<T> w = grad({g}, {at}, {u}, {.create_graph = true, .allow_unused = true})[0];
  if (!w.requires_grad()) return {result_value(y, o), zeros_like(x)};
  const TensorT<T> product = grad({w}, {u}, {v}, {.create_graph = o.create_graph, .allow_unused = true})[0];
  return {result_value(y, o), product};
}

#define SLOPE_INSTANTIATE(T)                                                                                  \
  template TensorT<T> jacobian<T>(const TensorFunction<T>&, const TensorT<T>&, const FunctionalOptions&);    \
  template TensorT<T> hessian<T>(const TensorFunction<T>&, const TensorT<T>&, const FunctionalOptions&);     \
  template HessianProduct<T> hvp<T>(const TensorFunction<T>&, const TensorT<T>&, const TensorT<T>&,          \
                                    const FunctionalOptions&);                                              \
  template HessianProduct<T> vhp<T>(const TensorFunction<T>&, const TensorT<T>&, const TensorT<T>&,          \
                                    const FunctionalOptions&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
