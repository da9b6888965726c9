// The optimizers by name: one table that the Trainer's configuration, the
// command line's --optimizer and its help, and the landscapes all read.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "slope/optim/optimizer.hpp"
#include "slope/registry.hpp"

namespace slope::optim {

/// The settings the table's optimizers read; each uses the ones that apply
/// (Entry::uses lists them). Values are checked by the optimizers themselves.
struct Settings {
  double lr = 1e-3;
  double momentum = 0.9;   // momentum, nesterov
  double beta1 = 0.9;      // adam, adamw
  double beta2 = 0.999;    // adam, adamw
  double eps = 1e-8;       // adam, adamw, rmsprop, adagrad
  double alpha = 0.99;     // rmsprop: decay of grad_sq
  double weight_decay = 0.0;  // adamw: decoupled; the others: added to the gradient
  bool bias_correction = true;  // adam: false is the lecture's "huge first steps" variant
};

template <class T>
using Factory = std::unique_ptr<Optimizer<T>> (*)(Params<T>, const Settings&);

struct Entry {
  const char* name;  // "adamw"
  const char* help;  // one line for --help
  const char* uses;  // the settings it reads
  Factory<float> f32;
  Factory<double> f64;
};

/// sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw.
const std::vector<Entry>& registry();

/// The optimizer `name` over `params` with `settings`; ValueError naming the
/// known names for an unknown one, or the bad setting.
template <class T>
std::unique_ptr<Optimizer<T>> make(std::string_view name, Params<T> params, const Settings& settings);

}  // namespace slope::optim
