// Internal helpers shared by the op implementations (not installed).
#pragma once

#include <functional>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "slope/tensor.hpp"

namespace slope::detail {

/// Throws NumericError if `a` holds NaN or Inf: "anomaly: <what> of <op> produced NaN".
template <class T>
void check_finite(const xt::xarray<T>& a, const char* op, const char* what);

/// Wraps a freshly computed value as the result of `op`. The node records its
/// inputs and backward closure only when grad mode is on and some input needs
/// a gradient; otherwise it is a plain constant and the closure is dropped.
template <class T>
TensorT<T> make_result(const char* op, xt::xarray<T>&& value,
                       std::initializer_list<const TensorT<T>*> inputs,
                       std::function<void(Node<T>&)> backward);

/// Input i of an op's node, for use inside backward closures.
template <class T>
inline Node<T>& in(Node<T>& out, std::size_t i) {
  return *out.inputs[i];
}

/// Shape of an xtensor array as a slope::Shape.
template <class A>
inline Shape shape_of(const A& a) {
  return Shape(a.shape().begin(), a.shape().end());
}

/// Normalises a possibly negative axis; ShapeError if out of range.
std::size_t normalize_axis(int axis, std::size_t ndim, const char* op, const Shape& shape);

}  // namespace slope::detail

// Explicit instantiation for the two supported element types.
#define SLOPE_FOR_EACH_DTYPE(X) X(float) X(double)
