// The optimizer interface, its saveable state, and gradient clipping.
//
// An optimizer holds handles to the parameters (TensorT shares nodes, so the
// model sees every update) and changes their values outside the graph:
// it reads p.grad() and writes p.value() in plain loops over raw pointers.
// State buffers are allocated on the first step(); later steps allocate nothing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xarray.hpp>

#include "slope/error.hpp"
#include "slope/tensor.hpp"

namespace slope::optim {

/// Everything an optimizer needs to continue exactly where it stopped, as plain
/// data a checkpoint writer can serialise without knowing the optimizer:
///  - `kind`     the optimizer's name ("Adam"); load_state() checks it;
///  - `scalars`  named numbers: always "lr" and "step" (steps taken so far), plus
///               per-optimizer extras (L-BFGS: "t", "H_diag", "prev_loss", ...);
///  - `tensors`  named lists of arrays in float64 (float values round-trip
///               exactly): for the per-parameter buffers one array per parameter,
///               in parameter order ("m", "v", "v_max", "momentum_buffer", ...).
///               A buffer not yet allocated (before the first step) is absent.
struct OptimizerState {
  std::string kind;
  std::map<std::string, double> scalars;
  std::map<std::string, std::vector<xt::xarray<double>>> tensors;

  /// The scalar `name`; ValueError naming it (and `kind`) if absent.
  double scalar(const std::string& name) const;
  friend bool operator==(const OptimizerState&, const OptimizerState&) = default;
};

/// The interface of every first-order optimizer (SGD, AdaGrad, RMSProp, Adam, AdamW).
/// Typical use, once per minibatch:
///   opt.zero_grad(); loss.backward(); opt.set_lr(lr_at(step)); opt.step();
template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that has a gradient; parameters without one
  /// (not reached by backward) are skipped and their state is left as it was.
  void step();
  /// The same update in pieces, for callers that spread it over threads:
  /// begin_step() once (checks the gradients, allocates the state on the first
  /// call, advances the step count), then update(i, lo, hi) on entries [lo, hi)
  /// of parameter i until every entry is covered exactly once, in any order and
  /// from any thread (every rule here is entry by entry, so pieces never touch
  /// the same memory). step() is begin_step() then update(i, 0, size) for all i.
  void begin_step();
  void update(std::size_t i, std::size_t lo, std::size_t hi);
  /// Zeroes every parameter's gradient (keeping its buffer).
  void zero_grad();

  double lr() const { return lr_; }
  /// ValueError if lr is negative or NaN. A schedule calls this before step().
  void set_lr(double lr);
  /// Number of step() calls so far (the `t` of bias corrections).
  std::int64_t steps() const { return step_; }

  const std::vector<TensorT<T>>& parameters() const { return params_; }
  /// "SGD", "Adam", ...: the kind recorded in the state.
  virtual std::string_view name() const = 0;

  /// A copy of the optimizer's state (see OptimizerState).
  OptimizerState state() const;
  /// Restores a state from state() of an optimizer of the same kind over
  /// parameters of the same shapes; ValueError or ShapeError otherwise.
  void load_state(const OptimizerState& state);

 protected:
  /// Checks the list (non-empty, every entry requires a gradient) and lr;
  /// `who` names the optimizer in the errors.
  Optimizer(std::string_view who, std::vector<TensorT<T>> params, double lr);

  /// The per-parameter buffers, by state name. Subclasses register them once in
  /// their constructor; they are allocated (zeros, one per parameter) by
  /// ensure_buffers() on the first step, filled with `init`.
  void register_buffer(std::string name, std::vector<xt::xarray<T>>* buffers, double init = 0.0);
  /// Allocates every registered buffer that is still empty; true if it did.
  bool ensure_buffers();
  /// The gradient of parameter i, or nullptr if it has none; ShapeError if its
  /// size differs from the value's.
  const T* grad_or_null(std::size_t i);
  /// A subclass's per-step set-up: allocate state (ensure_buffers), advance
  /// step_, compute the step's constants (bias corrections, decayed lr).
  virtual void prepare() = 0;
  /// The update rule on entries [lo, hi) of parameter i; w and g point at entry 0.
  virtual void apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) = 0;

  std::vector<TensorT<T>> params_;
  double lr_;
  std::int64_t step_ = 0;
  struct Buffer {
    std::string name;
    std::vector<xt::xarray<T>>* buffers;
    double init;
  };
  std::vector<Buffer> buffers_;
  std::vector<const T*> grads_;  // this step's gradients, from begin_step (nullptr: none)
};

/// Rescales all gradients together so that their global L2 norm
/// ||g|| = sqrt(sum over every entry of every gradient of g^2) is at most
/// max_norm (torch.nn.utils.clip_grad_norm_): if ||g|| > max_norm, every
/// gradient is multiplied by max_norm / (||g|| + 1e-6). Returns ||g|| before
/// clipping. Parameters without a gradient are ignored. ValueError if max_norm < 0.
template <class T>
double clip_grad_norm(const std::vector<TensorT<T>>& params, double max_norm);

/// Throws ValueError "<who>: <option> must be <what>: got <value>" unless ok.
void check_option(bool ok, std::string_view who, std::string_view option, std::string_view what,
                  double value);

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace slope::optim
