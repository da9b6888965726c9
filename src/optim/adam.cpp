#include "slope/optim/adam.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <type_traits>

namespace slope::optim {
namespace {

void check_adam(std::string_view who, double beta1, double beta2, double eps, double weight_decay) {
  check_option(beta1 >= 0.0 && beta1 < 1.0, who, "beta1", "in [0, 1)", beta1);
  check_option(beta2 >= 0.0 && beta2 < 1.0, who, "beta2", "in [0, 1)", beta2);
  check_option(eps >= 0.0, who, "eps", ">= 0", eps);
  check_option(weight_decay >= 0.0, who, "weight_decay", ">= 0", weight_decay);
}


// The Adam step shared by Adam and AdamW, for one parameter of n entries:
//   m = b1*m + (1 - b1)*g;  v = b2*v + (1 - b2)*g^2;  (amsgrad: v_max = max(v_max, v))
//   w -= step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t) (both 1 and lr
// without bias correction). `l2` adds l2*w to g first (Adam's coupled decay).
template <class T, bool kAmsgrad, bool kL2>
void adam_kernel(T* __restrict w, const T* __restrict g, T* __restrict m, T* __restrict v,
                 T* __restrict v_max, std::size_t n, T b1, T b2, T one_b1, T one_b2, T wd, T e,
                 T ss, T bc2) {
  for (std::size_t j = 0; j < n; ++j) {
    const T gj = kL2 ? g[j] + wd * w[j] : g[j];
    m[j] = b1 * m[j] + one_b1 * gj;
    v[j] = b2 * v[j] + one_b2 * (gj * gj);
    T second = v[j];
    if constexpr (kAmsgrad) second = v_max[j] = std::max(v_max[j], v[j]);
    const T denom = std::sqrt(second) / bc2 + e;  // eps after sqrt of the corrected v (torch)
    w[j] -= ss * (m[j] / denom);
  }
}

template <class T>
void adam_update(T* w, const T* g, T* m, T* v, T* v_max, std::size_t n, double beta1, double beta2,
                 double eps, double l2, double step_size, double bc2_sqrt) {
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T one_b1 = static_cast<T>(1.0 - beta1), one_b2 = static_cast<T>(1.0 - beta2);
  const T wd = static_cast<T>(l2), e = static_cast<T>(eps);
  const T ss = static_cast<T>(step_size), bc2 = static_cast<T>(bc2_sqrt);
  // One loop per variant, each free of branches and of possible aliasing, so
  // that the compiler vectorizes it (a runtime alias check against a null
  // v_max used to send every call down the scalar path).
  const auto run = [&](auto amsgrad, auto coupled) {
    adam_kernel<T, decltype(amsgrad)::value, decltype(coupled)::value>(
        w, g, m, v, v_max, n, b1, b2, one_b1, one_b2, wd, e, ss, bc2);
  };
  using yes = std::true_type;
  using no = std::false_type;
  if (v_max) wd != T(0) ? run(yes{}, yes{}) : run(yes{}, no{});
  else wd != T(0) ? run(no{}, yes{}) : run(no{}, no{});
}

// step_size and sqrt(1 - b2^t) for step t (from 1).
std::pair<double, double> corrections(double lr, double beta1, double beta2, std::int64_t t, bool on) {
  if (!on) return {lr, 1.0};
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(t));
  return {lr / bc1, std::sqrt(bc2)};
}

}  // namespace

// ---- Adam ------------------------------------------------------------------------

template <class T>
Adam<T>::Adam(Params<T> params, AdamOptions o)
    : Optimizer<T>("Adam", std::move(params), o.lr), options_(o) {
  check_adam("Adam", o.beta1, o.beta2, o.eps, o.weight_decay);
  this->register_buffer("m", &m_);
  this->register_buffer("v", &v_);
  if (o.amsgrad) this->register_buffer("v_max", &v_max_);
}

template <class T>
void Adam<T>::prepare() {
  this->ensure_buffers();
  ++this->step_;
  const auto& o = options_;
  std::tie(step_size_, bc2_sqrt_) = corrections(this->lr_, o.beta1, o.beta2, this->step_, o.bias_correction);
}

template <class T>
void Adam<T>::apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) {
  const auto& o = options_;
  adam_update(w + lo, g + lo, m_[i].data() + lo, v_[i].data() + lo,
              o.amsgrad ? v_max_[i].data() + lo : nullptr, hi - lo, o.beta1, o.beta2, o.eps,
              this->weight_decay(i, o.weight_decay), step_size_ * this->scale_[i], bc2_sqrt_);
}

// ---- AdamW -----------------------------------------------------------------------

template <class T>
AdamW<T>::AdamW(Params<T> params, AdamWOptions o)
    : Optimizer<T>("AdamW", std::move(params), o.lr), options_(o) {
  check_adam("AdamW", o.beta1, o.beta2, o.eps, o.weight_decay);
  this->register_buffer("m", &m_);
  this->register_buffer("v", &v_);
  if (o.amsgrad) this->register_buffer("v_max", &v_max_);
}

template <class T>
void AdamW<T>::prepare() {
  this->ensure_buffers();
  ++this->step_;
  std::tie(step_size_, bc2_sqrt_) = corrections(this->lr_, options_.beta1, options_.beta2, this->step_, true);
}

template <class T>
void AdamW<T>::apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) {
  const auto& o = options_;
  const T shrink = static_cast<T>(1.0 - this->lr_of(i) * this->weight_decay(i, o.weight_decay));
  for (std::size_t j = lo; j < hi; ++j) w[j] *= shrink;  // decoupled decay: w *= 1 - lr*wd, first
  adam_update(w + lo, g + lo, m_[i].data() + lo, v_[i].data() + lo,
              o.amsgrad ? v_max_[i].data() + lo : nullptr, hi - lo, o.beta1, o.beta2, o.eps, 0.0,
              step_size_ * this->scale_[i], bc2_sqrt_);
}

template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace slope::optim
