#include "slope/optim/sgd.hpp"

#include <cmath>

namespace slope::optim {

template <class T>
SGD<T>::SGD(Params<T> params, SGDOptions o) : Optimizer<T>("SGD", std::move(params), o.lr), options_(o) {
  check_option(o.momentum >= 0.0, "SGD", "momentum", ">= 0", o.momentum);
  check_option(o.dampening >= 0.0 && o.dampening <= 1.0, "SGD", "dampening", "in [0, 1]", o.dampening);
  this->check_decay(o.weight_decay);
  if (o.nesterov) {
    check_option(o.momentum > 0.0, "SGD", "momentum", "> 0 with nesterov", o.momentum);
    check_option(o.dampening == 0.0, "SGD", "dampening", "0 with nesterov", o.dampening);
  }
  if (o.momentum != 0.0)
    this->register_buffer(o.form == MomentumForm::velocity ? "momentum_buffer" : "v", &buffer_);
}

template <class T>
void SGD<T>::prepare() {
  // v = g (or -lr*g) when the buffer is new; a buffer loaded with the state is
  // used as it is, whatever the step count (torch: "momentum_buffer" present).
  first_ = this->ensure_buffers();
  ++this->step_;
}

template <class T>
void SGD<T>::apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) {
  const auto& o = options_;
  const bool first = first_;
  const T lr = static_cast<T>(this->lr_of(i)), wd = static_cast<T>(this->weight_decay(i, o.weight_decay));
  const T rho = static_cast<T>(o.momentum), keep = static_cast<T>(1.0 - o.dampening);
  if (o.momentum == 0.0) {
    for (std::size_t j = lo; j < hi; ++j) w[j] -= lr * (g[j] + wd * w[j]);  // w -= lr * g
    return;
  }
  T* v = buffer_[i].data();
  if (o.form == MomentumForm::velocity) {
    for (std::size_t j = lo; j < hi; ++j) {
      const T gj = wd != T(0) ? g[j] + wd * w[j] : g[j];
      v[j] = first ? gj : rho * v[j] + keep * gj;  // v = rho*v + (1 - dampening)*g; v = g at first
      w[j] -= lr * (o.nesterov ? gj + rho * v[j] : v[j]);  // nesterov: look-ahead gradient
    }
  } else {
    for (std::size_t j = lo; j < hi; ++j) {
      const T gj = wd != T(0) ? g[j] + wd * w[j] : g[j];
      v[j] = first ? -lr * gj : rho * v[j] - lr * (keep * gj);  // v = rho*v - lr*g
      w[j] += o.nesterov ? rho * v[j] - lr * gj : v[j];          // w += v
    }
  }
}

template class SGD<float>;
template class SGD<double>;

}  // namespace slope::optim
