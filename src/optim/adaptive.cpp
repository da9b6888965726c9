#include "slope/optim/adaptive.hpp"

#include <cmath>

namespace slope::optim {

// ---- AdaGrad ---------------------------------------------------------------------

template <class T>
AdaGrad<T>::AdaGrad(Params<T> params, AdaGradOptions o)
    : Optimizer<T>("AdaGrad", std::move(params), o.lr), options_(o) {
  check_option(o.lr_decay >= 0.0, "AdaGrad", "lr_decay", ">= 0", o.lr_decay);
  this->check_decay(o.weight_decay);
  check_option(o.initial_accumulator_value >= 0.0, "AdaGrad", "initial_accumulator_value", ">= 0",
               o.initial_accumulator_value);
  check_option(o.eps >= 0.0, "AdaGrad", "eps", ">= 0", o.eps);
  this->register_buffer("sum_sq", &sum_sq_, o.initial_accumulator_value);
}

template <class T>
void AdaGrad<T>::prepare() {
  this->ensure_buffers();
  ++this->step_;
  // lr_t = lr / (1 + (t - 1) * lr_decay)
  clr_ = this->lr_ / (1.0 + static_cast<double>(this->step_ - 1) * options_.lr_decay);
}

template <class T>
void AdaGrad<T>::apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) {
  const T clr = static_cast<T>(clr_ * this->scale_[i]);
  const T wd = static_cast<T>(this->weight_decay(i, options_.weight_decay)), eps = static_cast<T>(options_.eps);
  T* s = sum_sq_[i].data();
  for (std::size_t j = lo; j < hi; ++j) {
    const T gj = g[j] + wd * w[j];
    s[j] += gj * gj;                               // sum_sq += g^2
    w[j] -= clr * (gj / (std::sqrt(s[j]) + eps));  // w -= lr_t * g / (sqrt(sum_sq) + eps)
  }
}

// ---- RMSProp ---------------------------------------------------------------------

template <class T>
RMSProp<T>::RMSProp(Params<T> params, RMSPropOptions o)
    : Optimizer<T>("RMSProp", std::move(params), o.lr), options_(o) {
  check_option(o.alpha >= 0.0 && o.alpha <= 1.0, "RMSProp", "alpha", "in [0, 1]", o.alpha);
  check_option(o.eps >= 0.0, "RMSProp", "eps", ">= 0", o.eps);
  this->check_decay(o.weight_decay);
  check_option(o.momentum >= 0.0, "RMSProp", "momentum", ">= 0", o.momentum);
  this->register_buffer("grad_sq", &grad_sq_);
  if (o.centered) this->register_buffer("grad_avg", &grad_avg_);
  if (o.momentum > 0.0) this->register_buffer("momentum_buffer", &momentum_buffer_);
}

template <class T>
void RMSProp<T>::prepare() {
  this->ensure_buffers();
  ++this->step_;
}

template <class T>
void RMSProp<T>::apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) {
  const auto& o = options_;
  const T lr = static_cast<T>(this->lr_of(i)), a = static_cast<T>(o.alpha), one_a = static_cast<T>(1.0 - o.alpha);
  const T wd = static_cast<T>(this->weight_decay(i, o.weight_decay)), eps = static_cast<T>(o.eps), mu = static_cast<T>(o.momentum);
  T* sq = grad_sq_[i].data();
  T* avg = o.centered ? grad_avg_[i].data() : nullptr;
  T* buf = o.momentum > 0.0 ? momentum_buffer_[i].data() : nullptr;
  for (std::size_t j = lo; j < hi; ++j) {
    const T gj = g[j] + wd * w[j];
    sq[j] = a * sq[j] + one_a * (gj * gj);  // grad_sq = alpha*grad_sq + (1 - alpha)*g^2
    T d;
    if (avg) {
      avg[j] = a * avg[j] + one_a * gj;              // grad_avg = alpha*grad_avg + (1 - alpha)*g
      d = std::sqrt(sq[j] - avg[j] * avg[j]) + eps;  // sqrt of the variance estimate, + eps
    } else {
      d = std::sqrt(sq[j]) + eps;                    // eps after the square root (torch)
    }
    if (buf) {
      buf[j] = mu * buf[j] + gj / d;                 // buf = momentum*buf + g/d
      w[j] -= lr * buf[j];
    } else {
      w[j] -= lr * (gj / d);                         // w -= lr * g / (sqrt(grad_sq) + eps)
    }
  }
}

template class AdaGrad<float>;
template class AdaGrad<double>;
template class RMSProp<float>;
template class RMSProp<double>;

}  // namespace slope::optim
