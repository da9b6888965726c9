// The module contract: how a model made of parameters and submodules is
// written, named, switched between training and evaluation, and converted.
//
// A module is a handle, like a Tensor: it holds a shared state (its named
// parameters, its named submodules, its mode), and copying a module copies the
// handle, so the copy a parent registers and the member a user keeps are the
// same module. A user's model derives from Module<T>, registers what it owns
// once, and overrides forward():
//
//   template <class T>
//   struct ResidualNet : nn::Module<T> {
//     nn::Linear<T> in, mid, out;
//     explicit ResidualNet(Rng& rng)
//         : in(this->register_module("in", nn::Linear<T>(784, 256, rng))),
//           mid(this->register_module("mid", nn::Linear<T>(256, 256, rng))),
//           out(this->register_module("out", nn::Linear<T>(256, 10, rng))) {}
//     TensorT<T> forward(const TensorT<T>& x) const override {
//       TensorT<T> h = tanh(in(x));
//       h = relu(mid(h)) + h;  // the skip connection
//       return out(h);
//     }
//   };
//
// named_parameters() then gives "in.W", "in.b", "mid.W", ... (own parameters
// first, then each submodule's, in registration order; a tensor registered
// twice, as in weight tying, is listed once, under its first name), and the
// Trainer, checkpoints, state_dict files and gradcheck all work from that.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "slope/ops.hpp"
#include "slope/tensor.hpp"

namespace slope::nn {

template <class T>
class Module;

using slope::NamedTensor;  // a parameter with its dotted name ("layers.0.W")

namespace detail {
template <class T>
struct ModuleState {
  std::vector<NamedTensor<T>> params;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children;
  bool training = true;
};
}  // namespace detail

template <class T>
class Module {
 public:
  using Tensor = TensorT<T>;

  virtual ~Module() = default;
  Module(const Module&) = default;  // copies the handle: both name the same module
  Module& operator=(const Module&) = default;

  /// The module's function of one batch. Every built-in module overrides it;
  /// a user's model must too, to be trained by the Trainer (the default throws).
  virtual TensorT<T> forward(const TensorT<T>& x) const;
  TensorT<T> operator()(const TensorT<T>& x) const { return forward(x); }

  /// Every parameter with its dotted name: own parameters first, then each
  /// submodule's in registration order; each tensor once.
  std::vector<NamedTensor<T>> named_parameters() const;
  std::vector<TensorT<T>> parameters() const;
  /// The direct submodules with their names, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& children() const;

  /// Training mode (the default) or evaluation mode, for this module and every
  /// submodule. Dropout reads it: it drops units only while training.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return state_->training; }

  /// Zeroes every parameter's gradient (keeping its buffer).
  void zero_grad();

  /// The module's type, e.g. "Linear" (the C++ class name unless overridden).
  virtual std::string type_name() const;
  /// The architecture as text: "Sequential(0: Linear(784, 100, relu), 1: Linear(100, 10))".
  /// The default lists the submodules; leaf modules override it with their settings.
  virtual std::string describe() const;

 protected:
  Module();
  /// Registers a parameter (a tensor that requires a gradient) under `name`
  /// and returns it. ValueError if the name is empty, contains a '.', or is
  /// taken by another parameter or submodule of this module.
  TensorT<T> register_parameter(const std::string& name, TensorT<T> tensor);
  /// Registers a submodule under `name` and returns it (the same module: a
  /// handle), for initialising the member that keeps it. Same name rules.
  template <class M>
  M register_module(const std::string& name, M module) {
    check_name(name);
    state_->children.emplace_back(name, std::make_shared<M>(module));
    return module;
  }

 private:
  void check_name(const std::string& name) const;
  void collect(const std::string& prefix, std::vector<NamedTensor<T>>& out) const;
  std::shared_ptr<detail::ModuleState<T>> state_;
};

/// The parameters a weight penalty applies to: those with two or more
/// dimensions (weight matrices), not biases. The rule PyTorch users write by
/// hand as `p.ndim >= 2`.
template <class T>
std::vector<TensorT<T>> weights(const Module<T>& m);
template <class T>
std::vector<NamedTensor<T>> named_weights(const Module<T>& m);

/// Sets every parameter tensor's own name (Tensor::name) to its dotted name,
/// so reports and errors say "layers.0.W".
template <class T>
void name_parameters(const Module<T>& m);

/// Copies every parameter value of `from` into the parameter of the same name
/// of `to`, converting the element type (a float model's float64 twin for
/// gradcheck). ValueError naming the first parameter missing on either side,
/// ShapeError naming one whose shapes differ; nothing is changed then.
template <class T, class U>
void copy_parameters(const Module<T>& from, Module<U>& to);

extern template class Module<float>;
extern template class Module<double>;

}  // namespace slope::nn
