// The building blocks: a fully connected layer, activations, dropout, a
// sequence of modules and a residual block. Each is a Module (module.hpp).
//
// Orientation: rows are examples, so a layer computes x W + b with W of shape
// (in, out). The lecture's W (out x in, one row per class) is our W transposed:
// its class templates are the columns of W here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "slope/nn/module.hpp"
#include "slope/rng.hpp"

namespace slope::nn {

/// How a layer's weights are drawn (biases start at 0).
struct Init {
  enum class Kind { he, xavier, normal };
  Kind kind = Kind::he;
  double stddev = 0.0;  // used by Kind::normal only

  static Init he() { return {Kind::he, 0.0}; }          // N(0, 2 / fan_in): for ReLU layers
  static Init xavier() { return {Kind::xavier, 0.0}; }  // N(0, 2 / (fan_in + fan_out))
  static Init normal(double stddev) { return {Kind::normal, stddev}; }
  /// The standard deviation this rule gives a layer of the given fan-in and fan-out.
  double std_for(std::size_t fan_in, std::size_t fan_out) const;
};

/// y = act(x W + b), W of shape (in, out), b of shape (out,): one fused
/// linear() op (ops.hpp). act is none or relu (the fused epilogue).
/// Parameters "W" and "b".
template <class T>
class Linear : public Module<T> {
 public:
  Linear(std::size_t in, std::size_t out, Rng& rng, Init init = Init::he(),
         Activation act = Activation::none);
  TensorT<T> forward(const TensorT<T>& x) const override;
  std::string describe() const override;
  std::size_t in_features() const { return W.shape()[0]; }
  std::size_t out_features() const { return W.shape()[1]; }
  Activation activation() const { return act_; }

  TensorT<T> W;
  TensorT<T> b;

 private:
  Activation act_;
};

/// An activation function as a module (no parameters).
template <class T>
class ActivationLayer : public Module<T> {
 public:
  using Fn = TensorT<T> (*)(const TensorT<T>&);
  ActivationLayer(std::string name, Fn fn) : name_(std::move(name)), fn_(fn) {}
  TensorT<T> forward(const TensorT<T>& x) const override { return fn_(x); }
  std::string type_name() const override { return name_; }
  std::string describe() const override { return name_ + "()"; }

 private:
  std::string name_;
  Fn fn_;
};

template <class T> struct ReLU : ActivationLayer<T> { ReLU() : ActivationLayer<T>("ReLU", &slope::relu<T>) {} };
template <class T> struct Tanh : ActivationLayer<T> { Tanh() : ActivationLayer<T>("Tanh", &slope::tanh<T>) {} };
template <class T> struct Sigmoid : ActivationLayer<T> { Sigmoid() : ActivationLayer<T>("Sigmoid", &slope::sigmoid<T>) {} };
template <class T> struct GELU : ActivationLayer<T> { GELU() : ActivationLayer<T>("GELU", &slope::gelu<T>) {} };

/// Inverted dropout with probability p while training; the identity in
/// evaluation mode. Masks come from its own Rng (seeded at construction), or,
/// inside a data-parallel step, from the step (see ops.hpp's dropout).
template <class T>
class Dropout : public Module<T> {
 public:
  Dropout(double p, Rng& rng);
  TensorT<T> forward(const TensorT<T>& x) const override;
  std::string describe() const override;
  double p() const { return p_; }

 private:
  double p_;
  std::shared_ptr<Rng> rng_;  // shared by the handles of this module
};

/// Modules applied in order; submodules are named "0", "1", ... The layers
/// are the registered submodules themselves, so a module appended through one
/// handle of a Sequential runs in every handle's forward.
template <class T>
class Sequential : public Module<T> {
 public:
  Sequential() = default;
  /// Appends a module (any Module<T> with a forward) and returns it.
  template <class M>
  M add(M module) {
    return this->register_module(std::to_string(size()), std::move(module));
  }
  TensorT<T> forward(const TensorT<T>& x) const override;
  std::size_t size() const { return this->children().size(); }
};

/// y = x + f(x) (He et al. 2016), f any module whose output has x's shape;
/// submodule "fn".
template <class T>
class Residual : public Module<T> {
 public:
  template <class M>
  explicit Residual(M fn) : fn_(std::make_shared<M>(this->register_module("fn", std::move(fn)))) {}
  TensorT<T> forward(const TensorT<T>& x) const override;

 private:
  std::shared_ptr<Module<T>> fn_;
};

/// The activations by name: the one table that model options, the command
/// line's --activation and its help read.
struct ActivationEntry {
  const char* name;     // "relu"
  const char* type;     // the module's type name, "ReLU"
  const char* help;
  TensorT<float> (*f32)(const TensorT<float>&);
  TensorT<double> (*f64)(const TensorT<double>&);
};
const std::vector<ActivationEntry>& activations();
/// The activation module for a name in activations(); ValueError naming the
/// known ones otherwise.
template <class T>
ActivationLayer<T> activation(const std::string& name);

extern template class Linear<float>;
extern template class Linear<double>;
extern template class Dropout<float>;
extern template class Dropout<double>;
extern template class Sequential<float>;
extern template class Sequential<double>;
extern template class Residual<float>;
extern template class Residual<double>;

}  // namespace slope::nn
