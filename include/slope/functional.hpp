// Derivatives of a function as tensors, following torch.autograd.functional
// for one input tensor x and one output: jacobian, hessian, and the
// Hessian-vector products hvp (H v) and vhp (v^T H), all built on grad()
// with create_graph (include/slope/autograd.hpp).
//
// x itself is not touched: f is evaluated at a copy that requires a
// gradient (a differentiable copy of x when create_graph and x requires one,
// so the results stay differentiable with respect to x, as in PyTorch). An
// output that does not depend on x gives zeros (PyTorch's strict=False).
#pragma once

#include <functional>
#include <type_traits>

#include "slope/tensor.hpp"

namespace slope {

template <class T>
using TensorFunction = std::function<TensorT<T>(const TensorT<T>&)>;

struct FunctionalOptions {
  /// Keep the results differentiable (their graph reaches x, if x requires a
  /// gradient, and v); otherwise they are constants.
  bool create_graph = false;
};

/// f(x) and a product with its Hessian at x.
template <class T>
struct HessianProduct {
  TensorT<T> value;    // f(x), a constant unless create_graph
  TensorT<T> product;  // of x's shape
};

/// df/dx, of shape f(x).shape + x.shape: row i is the gradient of output entry i
/// (one backward per output entry, through one forward).
template <class T>
TensorT<T> jacobian(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x,
                    const FunctionalOptions& options = {});
/// d^2 f / dx^2 for a one-entry f, of shape x.shape + x.shape: the Jacobian of
/// the gradient (one backward through the gradient's graph per entry of x).
/// Symmetric for a twice continuously differentiable f.
template <class T>
TensorT<T> hessian(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x,
                   const FunctionalOptions& options = {});
/// H v for a one-entry f and v of x's shape, without forming H: the
/// double-backward trick PyTorch uses. u^T H is the vector-Jacobian product of
/// the gradient with a dummy u; it is linear in u, and its gradient with
/// respect to u, taken along v, is H v. Costs about two backward passes more
/// than the gradient.
template <class T>
HessianProduct<T> hvp(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x, const TensorT<T>& v,
                      const FunctionalOptions& options = {});
/// v^T H for a one-entry f: the vector-Jacobian product of the gradient with
/// v (one backward through the gradient's graph). Equal to hvp's H v when H
/// is symmetric.
template <class T>
HessianProduct<T> vhp(const TensorFunction<std::type_identity_t<T>>& f, const TensorT<T>& x, const TensorT<T>& v,
                      const FunctionalOptions& options = {});

#define SLOPE_FUNCTIONAL_EXTERN(T)                                                                                 \
  extern template TensorT<T> jacobian<T>(const TensorFunction<T>&, const TensorT<T>&, const FunctionalOptions&);   \
  extern template TensorT<T> hessian<T>(const TensorFunction<T>&, const TensorT<T>&, const FunctionalOptions&);    \
  extern template HessianProduct<T> hvp<T>(const TensorFunction<T>&, const TensorT<T>&, const TensorT<T>&,         \
                                           const FunctionalOptions&);                                             \
  extern template HessianProduct<T> vhp<T>(const TensorFunction<T>&, const TensorT<T>&, const TensorT<T>&,         \
                                           const FunctionalOptions&);
SLOPE_FUNCTIONAL_EXTERN(float)
SLOPE_FUNCTIONAL_EXTERN(double)
#undef SLOPE_FUNCTIONAL_EXTERN

}  // namespace slope
