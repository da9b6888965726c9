// Stochastic gradient descent, with momentum (both of the lecture's
// formulations) and Nesterov momentum, following torch.optim.SGD.
#pragma once

#include <initializer_list>

#include "slope/optim/optimizer.hpp"

namespace slope::optim {

/// How the momentum buffer is kept. At a constant learning rate the two give
/// the same iterates: the second buffer is -lr times the first.
enum class MomentumForm {
  /// v = rho*v + g;  w -= lr*v     (the lecture's first form; torch's; state "momentum_buffer")
  velocity,
  /// v = rho*v - lr*g;  w += v     (the lecture's second form; state "v" holds the step itself)
  step,
};

struct SGDOptions {
  double lr = 1e-2;             // step size; torch makes it required, 0.01 is a common start
  double momentum = 0.0;        // rho; 0 is plain SGD, 0.9 or 0.99 typical
  double dampening = 0.0;       // v = rho*v + (1 - dampening)*g after the first step
  double weight_decay = 0.0;    // L2 through the gradient: g += weight_decay * w
  bool nesterov = false;        // gradient at the look-ahead point (needs momentum > 0, dampening 0)
  MomentumForm form = MomentumForm::velocity;
};

/// Per step, for each parameter w with gradient g (torch.optim.SGD):
///   g <- g + weight_decay * w
///   plain:     w <- w - lr * g
///   momentum:  v <- g on the first step, else v <- rho*v + (1 - dampening)*g
///              w <- w - lr * v                          (nesterov: w <- w - lr*(g + rho*v))
///   form step: u <- -lr*g first, else u <- rho*u - lr*(1 - dampening)*g
///              w <- w + u                               (nesterov: w <- w + rho*u - lr*g)
template <class T>
class SGD final : public Optimizer<T> {
 public:
  explicit SGD(Params<T> params, SGDOptions options = {});
  std::string_view name() const override { return "SGD"; }
  const SGDOptions& options() const { return options_; }

 private:
  void prepare() override;
  void apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) override;
  SGDOptions options_;
  bool first_ = false;  // this step fills the momentum buffer instead of decaying it
  std::vector<xt::xarray<T>> buffer_;  // v (velocity form) or u (step form)
};

// Let `Adam opt({w, b}, {...})` deduce T from a braced list, as from a vector.
template <class T> SGD(std::initializer_list<TensorT<T>>, SGDOptions = {}) -> SGD<T>;
template <class T> SGD(std::vector<TensorT<T>>, SGDOptions = {}) -> SGD<T>;
template <class T> SGD(std::vector<NamedTensor<T>>, SGDOptions = {}) -> SGD<T>;
template <class T> SGD(std::vector<ParamGroup<T>>, SGDOptions = {}) -> SGD<T>;

extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace slope::optim
