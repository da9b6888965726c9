// The layers: Linear, activations, Dropout, Sequential, Residual.
#include "slope/nn/layers.hpp"

#include <cmath>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope::nn {

double Init::std_for(std::size_t fan_in, std::size_t fan_out) const {
  switch (kind) {
    case Kind::he: return std::sqrt(2.0 / static_cast<double>(fan_in));
    case Kind::xavier: return std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
    case Kind::normal: return stddev;
  }
  return 0.0;
}

namespace {
std::size_t checked_size(std::size_t in, std::size_t out) {
  if (in == 0 || out == 0)
    throw ValueError(fmt::format("Linear: sizes must be positive, got in {} and out {}", in, out));
  return in;
}
}  // namespace

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, Rng& rng, Init init, Activation act)
    : W(this->register_parameter(
          "W", randn<T>({checked_size(in, out), out}, rng, init.std_for(in, out), 0.0, true))),
      b(this->register_parameter("b", zeros<T>({out}, true))),
      act_(act) {}

template <class T>
TensorT<T> Linear<T>::forward(const TensorT<T>& x) const {
  return linear(x, W, b, act_);  // act(x W + b) in one gemm and one pass
}

template <class T>
std::string Linear<T>::describe() const {
  return fmt::format("Linear({}, {}{})", in_features(), out_features(),
                     act_ == Activation::relu ? ", relu" : "");
}

template <class T>
Dropout<T>::Dropout(double p, Rng& rng) : p_(p), rng_(std::make_shared<Rng>(rng.next())) {
  if (!(p >= 0.0 && p < 1.0)) throw ValueError(fmt::format("Dropout: p must be in [0, 1): got {}", p));
}

template <class T>
TensorT<T> Dropout<T>::forward(const TensorT<T>& x) const {
  if (!this->is_training() || p_ == 0.0) return x;
  return dropout(x, p_, *rng_);
}

template <class T>
std::string Dropout<T>::describe() const {
  return fmt::format("Dropout({})", p_);
}

template <class T>
TensorT<T> Sequential<T>::forward(const TensorT<T>& x) const {
  TensorT<T> h = x;
  for (const auto& [name, layer] : this->children()) h = layer->forward(h);
  return h;
}

template <class T>
TensorT<T> Residual<T>::forward(const TensorT<T>& x) const {
  const TensorT<T> f = fn_->forward(x);
  if (f.shape() != x.shape())
    throw ShapeError(fmt::format("Residual: the block maps {} to {}; x + f(x) needs equal shapes",
                                 to_string(x.shape()), to_string(f.shape())));
  return x + f;
}

const std::vector<ActivationEntry>& activations() {
  static const std::vector<ActivationEntry> table = {
      {"relu", "ReLU", "max(0, x)", &relu<float>, &relu<double>},
      {"tanh", "Tanh", "tanh(x)", &tanh<float>, &tanh<double>},
      {"sigmoid", "Sigmoid", "1 / (1 + exp(-x))", &sigmoid<float>, &sigmoid<double>},
      {"gelu", "GELU", "x Phi(x), tanh form", &gelu<float>, &gelu<double>},
  };
  return table;
}

template <class T>
ActivationLayer<T> activation(const std::string& name) {
  for (const auto& e : activations())
    if (name == e.name) {
      if constexpr (std::is_same_v<T, float>) return ActivationLayer<T>(e.type, e.f32);
      else return ActivationLayer<T>(e.type, e.f64);
    }
  std::string known;
  for (const auto& e : activations()) known += (known.empty() ? "" : ", ") + std::string(e.name);
  throw ValueError(fmt::format("activation: unknown name '{}' ({})", name, known));
}

template class Linear<float>;
template class Linear<double>;
template class Dropout<float>;
template class Dropout<double>;
template class Sequential<float>;
template class Sequential<double>;
template class Residual<float>;
template class Residual<double>;
template ActivationLayer<float> activation<float>(const std::string&);
template ActivationLayer<double> activation<double>(const std::string&);

}  // namespace slope::nn
