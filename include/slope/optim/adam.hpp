// Adam and AdamW, following torch.optim.Adam and torch.optim.AdamW.
//
// They are separate types on purpose (the lecture's comparison):
//   Adam  + L2 in the loss:   the penalty's gradient lambda*w enters m and v,
//       loss = data_loss + lambda * l2(weights);  Adam opt(params, {.lr = 1e-3});
//     or equivalently Adam's own weight_decay = 2*lambda (added to g, so also through m and v).
//   AdamW (decoupled):        m and v see only the data-loss gradient; the weights
//       shrink directly: w <- w * (1 - lr*weight_decay);  AdamW opt(params, {.weight_decay = 1e-2});
#pragma once

#include <initializer_list>

#include "slope/optim/optimizer.hpp"

namespace slope::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;           // decay of the first moment m
  double beta2 = 0.999;         // decay of the second moment v
  double eps = 1e-8;            // added after sqrt(v_hat)
  double weight_decay = 0.0;    // L2 THROUGH THE GRADIENT: g += weight_decay * w (enters m and v)
  bool amsgrad = false;         // divide by the running maximum of v (Reddi et al. 2018)
  bool bias_correction = true;  // false: the lecture's "huge first step" variant
};

/// Adam (Kingma & Ba 2015). With t the step number (from 1):
///   g <- g + weight_decay * w
///   m <- beta1*m + (1 - beta1)*g
///   v <- beta2*v + (1 - beta2)*g^2
///   (amsgrad: v_max <- max(v_max, v), used below in place of v)
///   w <- w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
///   without bias correction: w <- w - lr * m / (sqrt(v) + eps)
/// State: "m" (torch: exp_avg), "v" (exp_avg_sq), "v_max" (max_exp_avg_sq), scalar "step".
template <class T>
class Adam final : public Optimizer<T> {
 public:
  explicit Adam(Params<T> params, AdamOptions options = {});
  std::string_view name() const override { return "Adam"; }
  const AdamOptions& options() const { return options_; }

 private:
  void prepare() override;
  void apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) override;
  AdamOptions options_;
  double step_size_ = 0.0, bc2_sqrt_ = 1.0;  // this step's bias corrections
  std::vector<xt::xarray<T>> m_, v_, v_max_;
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;   // DECOUPLED: w <- w * (1 - lr*weight_decay) before the Adam step
  bool amsgrad = false;
};

/// AdamW (Loshchilov & Hutter 2019), as torch runs it: the decay is applied to
/// the weights first, then the moments are updated from the data gradient alone:
///   w <- w * (1 - lr*weight_decay)
///   m, v (and v_max) and the step exactly as Adam with weight_decay = 0.
/// State: "m", "v", "v_max", scalar "step".
template <class T>
class AdamW final : public Optimizer<T> {
 public:
  explicit AdamW(Params<T> params, AdamWOptions options = {});
  std::string_view name() const override { return "AdamW"; }
  const AdamWOptions& options() const { return options_; }

 private:
  void prepare() override;
  void apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) override;
  AdamWOptions options_;
  double step_size_ = 0.0, bc2_sqrt_ = 1.0;
  std::vector<xt::xarray<T>> m_, v_, v_max_;
};

// Let `Adam opt({w, b}, {...})` deduce T from a braced list, as from a vector.
template <class T> Adam(std::initializer_list<TensorT<T>>, AdamOptions = {}) -> Adam<T>;
template <class T> Adam(std::vector<TensorT<T>>, AdamOptions = {}) -> Adam<T>;
template <class T> Adam(std::vector<NamedTensor<T>>, AdamOptions = {}) -> Adam<T>;
template <class T> Adam(std::vector<ParamGroup<T>>, AdamOptions = {}) -> Adam<T>;
template <class T> AdamW(std::initializer_list<TensorT<T>>, AdamWOptions = {}) -> AdamW<T>;
template <class T> AdamW(std::vector<TensorT<T>>, AdamWOptions = {}) -> AdamW<T>;
template <class T> AdamW(std::vector<NamedTensor<T>>, AdamWOptions = {}) -> AdamW<T>;
template <class T> AdamW(std::vector<ParamGroup<T>>, AdamWOptions = {}) -> AdamW<T>;

extern template class Adam<float>;
extern template class Adam<double>;
extern template class AdamW<float>;
extern template class AdamW<double>;

}  // namespace slope::optim
