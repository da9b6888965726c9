// Per-coordinate step sizes from the gradients' squares: AdaGrad and RMSProp,
// following torch.optim.Adagrad and torch.optim.RMSprop.
#pragma once

#include <initializer_list>

#include "slope/optim/optimizer.hpp"

namespace slope::optim {

struct AdaGradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;                  // lr_t = lr / (1 + (t - 1) * lr_decay)
  double weight_decay = 0.0;              // L2 through the gradient: g += weight_decay * w
  double initial_accumulator_value = 0.0; // starting value of sum_sq
  double eps = 1e-10;                     // added after the square root
};

/// AdaGrad (Duchi et al. 2011): accumulate the squared gradients and divide
/// the step by their root. With t the step number (from 1):
///   g <- g + weight_decay * w
///   sum_sq <- sum_sq + g^2
///   w <- w - lr_t * g / (sqrt(sum_sq) + eps),  lr_t = lr / (1 + (t - 1) * lr_decay)
/// State: "sum_sq" (torch: "sum").
template <class T>
class AdaGrad final : public Optimizer<T> {
 public:
  explicit AdaGrad(Params<T> params, AdaGradOptions options = {});
  std::string_view name() const override { return "AdaGrad"; }
  const AdaGradOptions& options() const { return options_; }

 private:
  void prepare() override;
  void apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) override;
  AdaGradOptions options_;
  double clr_ = 0;  // this step's decayed lr
  std::vector<xt::xarray<T>> sum_sq_;
};

struct RMSPropOptions {
  double lr = 1e-2;
  double alpha = 0.99;         // the lecture's decay rate of grad_sq
  double eps = 1e-8;           // added after the square root
  double weight_decay = 0.0;   // L2 through the gradient: g += weight_decay * w
  double momentum = 0.0;       // heavy-ball buffer on the scaled step (0: none)
  bool centered = false;       // divide by an estimate of the variance instead
};

/// RMSProp (Tieleman & Hinton 2012), as the lecture writes it and torch runs it:
///   g <- g + weight_decay * w
///   grad_sq <- alpha*grad_sq + (1 - alpha)*g^2
///   centered:  grad_avg <- alpha*grad_avg + (1 - alpha)*g;  d = sqrt(grad_sq - grad_avg^2) + eps
///   otherwise: d = sqrt(grad_sq) + eps
///   momentum:  buf <- momentum*buf + g/d;  w <- w - lr*buf
///   otherwise: w <- w - lr * g/d
/// State: "grad_sq" (torch: "square_avg"), "grad_avg", "momentum_buffer".
template <class T>
class RMSProp final : public Optimizer<T> {
 public:
  explicit RMSProp(Params<T> params, RMSPropOptions options = {});
  std::string_view name() const override { return "RMSProp"; }
  const RMSPropOptions& options() const { return options_; }

 private:
  void prepare() override;
  void apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) override;
  RMSPropOptions options_;
  std::vector<xt::xarray<T>> grad_sq_, grad_avg_, momentum_buffer_;
};

// Let `Adam opt({w, b}, {...})` deduce T from a braced list, as from a vector.
template <class T> AdaGrad(std::initializer_list<TensorT<T>>, AdaGradOptions = {}) -> AdaGrad<T>;
template <class T> AdaGrad(std::vector<TensorT<T>>, AdaGradOptions = {}) -> AdaGrad<T>;
template <class T> AdaGrad(std::vector<NamedTensor<T>>, AdaGradOptions = {}) -> AdaGrad<T>;
template <class T> AdaGrad(std::vector<ParamGroup<T>>, AdaGradOptions = {}) -> AdaGrad<T>;
template <class T> RMSProp(std::initializer_list<TensorT<T>>, RMSPropOptions = {}) -> RMSProp<T>;
template <class T> RMSProp(std::vector<TensorT<T>>, RMSPropOptions = {}) -> RMSProp<T>;
template <class T> RMSProp(std::vector<NamedTensor<T>>, RMSPropOptions = {}) -> RMSProp<T>;
template <class T> RMSProp(std::vector<ParamGroup<T>>, RMSPropOptions = {}) -> RMSProp<T>;

extern template class AdaGrad<float>;
extern template class AdaGrad<double>;
extern template class RMSProp<float>;
extern template class RMSProp<double>;

}  // namespace slope::optim
