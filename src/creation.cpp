// Creation: leaves filled with a value, from a vector, a range, the
// identity, random draws; and the _like forms.
#include <algorithm>
#include <cmath>

#include "op_support.hpp"
#include "slope/tensor.hpp"

namespace slope {

template <class T>
TensorT<T> full(const Shape& shape, T value, bool requires_grad) {
  Array<T> a = detail::new_array<T>(shape);
  a.fill(value);
  return TensorT<T>(std::move(a), requires_grad);
}
template <class T>
TensorT<T> zeros(const Shape& shape, bool requires_grad) {
  return full<T>(shape, T(0), requires_grad);
}
template <class T>
TensorT<T> ones(const Shape& shape, bool requires_grad) {
  return full<T>(shape, T(1), requires_grad);
}
template <class T>
TensorT<T> scalar(T value, bool requires_grad) {
  return TensorT<T>(Array<T>(value), requires_grad);
}
template <class T>
TensorT<T> from_vector(const std::vector<T>& values, const Shape& shape, bool requires_grad) {
  if (values.size() != numel(shape))
    throw ValueError(fmt::format("from_vector: {} values for shape {} ({} entries)", values.size(),
                                 to_string(shape), numel(shape)));
  Array<T> a = detail::new_array<T>(shape);
  std::copy(values.begin(), values.end(), a.data());
  return TensorT<T>(std::move(a), requires_grad);
}
template <class T>
TensorT<T> arange(std::type_identity_t<T> start, std::type_identity_t<T> stop, std::type_identity_t<T> step,
                  bool requires_grad) {
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw ValueError(fmt::format("arange: start, stop and step must be finite: got {}, {}, {}", start, stop, step));
  if (step == T(0)) throw ValueError("arange: step must be nonzero");
  const double count = std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step));
  const std::size_t n = count > 0.0 ? static_cast<std::size_t>(count) : 0;
  Array<T> a = detail::new_array<T>(Shape{n});
  for (std::size_t i = 0; i < n; ++i)  // start + i step, not a running sum: no drift
    a.data()[i] = static_cast<T>(static_cast<double>(start) + static_cast<double>(i) * static_cast<double>(step));
  return TensorT<T>(std::move(a), requires_grad);
}
template <class T>
TensorT<T> eye(std::size_t n, bool requires_grad) {
  Array<T> a = detail::new_array<T>(Shape{n, n});
  a.fill(T(0));
  for (std::size_t i = 0; i < n; ++i) a.data()[i * n + i] = T(1);
  return TensorT<T>(std::move(a), requires_grad);
}
template <class T>
TensorT<T> full_like(const TensorT<T>& x, std::type_identity_t<T> value, bool requires_grad) {
  return full<T>(x.shape(), value, requires_grad);
}
template <class T>
TensorT<T> zeros_like(const TensorT<T>& x, bool requires_grad) {
  return full<T>(x.shape(), T(0), requires_grad);
}
template <class T>
TensorT<T> ones_like(const TensorT<T>& x, bool requires_grad) {
  return full<T>(x.shape(), T(1), requires_grad);
}
template <class T>
TensorT<T> randn(const Shape& shape, Rng& rng, double stddev, double mean, bool requires_grad) {
  Array<T> a = detail::new_array<T>(shape);
  for (auto& x : a) x = static_cast<T>(mean + stddev * rng.normal());
  return TensorT<T>(std::move(a), requires_grad);
}
template <class T>
TensorT<T> uniform(const Shape& shape, double lo, double hi, Rng& rng, bool requires_grad) {
  Array<T> a = detail::new_array<T>(shape);
  for (auto& x : a) x = static_cast<T>(rng.uniform(lo, hi));
  return TensorT<T>(std::move(a), requires_grad);
}

#define SLOPE_INSTANTIATE(T)                                                                    \
  template TensorT<T> full<T>(const Shape&, T, bool);                                           \
  template TensorT<T> zeros<T>(const Shape&, bool);                                             \
  template TensorT<T> ones<T>(const Shape&, bool);                                              \
  template TensorT<T> scalar<T>(T, bool);                                                       \
  template TensorT<T> from_vector<T>(const std::vector<T>&, const Shape&, bool);                \
  template TensorT<T> arange<T>(T, T, T, bool);                                                 \
  template TensorT<T> eye<T>(std::size_t, bool);                                                \
  template TensorT<T> full_like<T>(const TensorT<T>&, T, bool);                                 \
  template TensorT<T> zeros_like<T>(const TensorT<T>&, bool);                                   \
  template TensorT<T> ones_like<T>(const TensorT<T>&, bool);                                    \
  template TensorT<T> randn<T>(const Shape&, Rng&, double, double, bool);                       \
  template TensorT<T> uniform<T>(const Shape&, double, double, Rng&, bool);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
