// The optimizer table.
#include "slope/optim/registry.hpp"

#include "slope/optim/adam.hpp"
#include "slope/optim/adaptive.hpp"
#include "slope/optim/sgd.hpp"

namespace slope::optim {

namespace {

template <class T>
std::unique_ptr<Optimizer<T>> sgd(Params<T> p, const Settings& s) {
  return std::make_unique<SGD<T>>(std::move(p), SGDOptions{.lr = s.lr, .weight_decay = s.weight_decay});
}
template <class T>
std::unique_ptr<Optimizer<T>> momentum(Params<T> p, const Settings& s) {
  return std::make_unique<SGD<T>>(std::move(p), SGDOptions{.lr = s.lr, .momentum = s.momentum,
                                                           .weight_decay = s.weight_decay});
}
template <class T>
std::unique_ptr<Optimizer<T>> nesterov(Params<T> p, const Settings& s) {
  return std::make_unique<SGD<T>>(std::move(p), SGDOptions{.lr = s.lr, .momentum = s.momentum,
                                                           .weight_decay = s.weight_decay, .nesterov = true});
}
template <class T>
std::unique_ptr<Optimizer<T>> adagrad(Params<T> p, const Settings& s) {
  return std::make_unique<AdaGrad<T>>(std::move(p), AdaGradOptions{.lr = s.lr, .weight_decay = s.weight_decay,
                                                                   .eps = s.eps});
}
template <class T>
std::unique_ptr<Optimizer<T>> rmsprop(Params<T> p, const Settings& s) {
  return std::make_unique<RMSProp<T>>(std::move(p), RMSPropOptions{.lr = s.lr, .alpha = s.alpha, .eps = s.eps,
                                                                   .weight_decay = s.weight_decay});
}
template <class T>
std::unique_ptr<Optimizer<T>> adam(Params<T> p, const Settings& s) {
  return std::make_unique<Adam<T>>(std::move(p), AdamOptions{.lr = s.lr, .beta1 = s.beta1, .beta2 = s.beta2,
                                                             .eps = s.eps, .weight_decay = s.weight_decay,
                                                             .bias_correction = s.bias_correction});
}
template <class T>
std::unique_ptr<Optimizer<T>> adamw(Params<T> p, const Settings& s) {
  return std::make_unique<AdamW<T>>(std::move(p), AdamWOptions{.lr = s.lr, .beta1 = s.beta1, .beta2 = s.beta2,
                                                               .eps = s.eps, .weight_decay = s.weight_decay});
}

}  // namespace

const std::vector<Entry>& registry() {
  static const std::vector<Entry> table = {
      {"sgd", "plain stochastic gradient descent: w -= lr g", "lr, weight_decay", &sgd<float>, &sgd<double>},
      {"momentum", "SGD with momentum: v = rho v + g; w -= lr v", "lr, momentum, weight_decay",
       &momentum<float>, &momentum<double>},
      {"nesterov", "Nesterov momentum: the gradient at the look-ahead point", "lr, momentum, weight_decay",
       &nesterov<float>, &nesterov<double>},
      {"adagrad", "AdaGrad: divide by the root of the summed squared gradients", "lr, eps, weight_decay",
       &adagrad<float>, &adagrad<double>},
      {"rmsprop", "RMSProp: divide by the root of a running mean of squared gradients",
       "lr, alpha, eps, weight_decay", &rmsprop<float>, &rmsprop<double>},
      {"adam", "Adam: momentum + RMSProp with bias correction; L2 through the gradient",
       "lr, beta1, beta2, eps, weight_decay", &adam<float>, &adam<double>},
      {"adamw", "AdamW: Adam with decoupled weight decay", "lr, beta1, beta2, eps, weight_decay",
       &adamw<float>, &adamw<double>},
  };
  return table;
}

template <class T>
std::unique_ptr<Optimizer<T>> make(std::string_view name, Params<T> params, const Settings& settings) {
  const Entry& e = entry(registry(), name, "optimizer");
  if constexpr (std::is_same_v<T, float>) return e.f32(std::move(params), settings);
  else return e.f64(std::move(params), settings);
}

template std::unique_ptr<Optimizer<float>> make(std::string_view, Params<float>, const Settings&);
template std::unique_ptr<Optimizer<double>> make(std::string_view, Params<double>, const Settings&);

}  // namespace slope::optim
