// The optimizer interface, its saveable state, and gradient clipping.
//
// An optimizer holds handles to the parameters (TensorT shares nodes, so the
// model sees every update) and changes their values outside the graph:
// it reads p.grad() and writes p.value() in plain loops over raw pointers.
// State buffers are allocated on the first step(); later steps allocate nothing.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
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
///  - `params`   the per-parameter buffers, keyed by the PARAMETER'S NAME, then
///               by the buffer's state name ("m", "v", "momentum_buffer", ...),
///               in float64 (float values round-trip exactly). Buffers not yet
///               allocated (before the first step) are absent;
///  - `tensors`  optimizer-wide arrays (L-BFGS's history over all parameters).
/// Keyed by name, a state loads into an optimizer whose parameters come in
/// another order, and a state naming a parameter the optimizer lacks is refused.
struct OptimizerState {
  std::string kind;
  std::map<std::string, double> scalars;
  std::map<std::string, std::map<std::string, xt::xarray<double>>> params;
  std::map<std::string, std::vector<xt::xarray<double>>> tensors;

  /// The scalar `name`; ValueError naming it (and `kind`) if absent.
  double scalar(const std::string& name) const;
  friend bool operator==(const OptimizerState&, const OptimizerState&) = default;
};

/// Parameters that share options: each group may override the optimizer's
/// weight decay and scale its learning rate (torch's param_groups, for the
/// options that matter most: no decay on biases, per-layer learning rates).
template <class T>
struct ParamGroup {
  std::vector<NamedTensor<T>> params;
  std::optional<double> weight_decay;  // the optimizer's own when absent
  double lr_scale = 1.0;               // this group steps with lr * lr_scale
};

/// What an optimizer is given: plain tensors (named by their own names, or
/// "0", "1", ... by position when they have none), named tensors (a module's
/// named_parameters()), or parameter groups.
template <class T>
struct Params {
  Params(std::vector<TensorT<T>> tensors);            // NOLINT: implicit by design
  Params(std::initializer_list<TensorT<T>> tensors);  // NOLINT
  Params(std::vector<NamedTensor<T>> named);          // NOLINT
  Params(std::vector<ParamGroup<T>> groups);          // NOLINT
  std::vector<ParamGroup<T>> groups;
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
  /// Large updates are split over slope's threads (every rule is entry by
  /// entry, so the result is the same bits on any number of threads).
  void step();
  /// The same update in pieces, for callers that spread it over threads:
  /// begin_step() once (checks the gradients, allocates the state on the first
  /// call, advances the step count), then update(i, lo, hi) on entries [lo, hi)
  /// of parameter i until every entry is covered exactly once, in any order and
  /// from any thread. step() is begin_step() then update(i, 0, size) for all i.
  void begin_step();
  void update(std::size_t i, std::size_t lo, std::size_t hi);
  /// Zeroes every parameter's gradient (keeping its buffer).
  void zero_grad();

  double lr() const { return lr_; }
  /// ValueError unless lr is finite and >= 0. A schedule calls this before step().
  void set_lr(double lr);
  /// Number of step() calls so far (the `t` of bias corrections).
  std::int64_t steps() const { return step_; }

  const std::vector<TensorT<T>>& parameters() const { return params_; }
  /// The parameters' names, in the order of parameters(): the state's keys.
  const std::vector<std::string>& names() const { return names_; }
  /// "SGD", "Adam", ...: the kind recorded in the state.
  virtual std::string_view name() const = 0;

  /// A copy of the optimizer's state (see OptimizerState).
  OptimizerState state() const;
  /// Restores a state from state() of an optimizer of the same kind over
  /// parameters of the same names and shapes (in any order). Everything is
  /// checked first (kind, scalars finite, step a count, every parameter name
  /// known, every buffer known and of the parameter's shape and finite, each
  /// buffer present for all parameters or none); ValueError, ShapeError or
  /// NumericError otherwise, and the optimizer is unchanged.
  void load_state(const OptimizerState& state);

 protected:
  /// Checks the parameters (non-empty, each requires a gradient, no tensor
  /// twice, names unique) and lr; `who` names the optimizer in the errors.
  Optimizer(std::string_view who, Params<T> params, double lr);

  /// The per-parameter buffers, by state name. Subclasses register them once in
  /// their constructor; they are allocated (one per parameter, filled with
  /// `init`) by ensure_buffers() on the first step.
  void register_buffer(std::string name, std::vector<xt::xarray<T>>* buffers, double init = 0.0);
  /// Allocates every registered buffer that is still empty; true if it did.
  bool ensure_buffers();
  /// The gradient of parameter i, or nullptr if it has none; ShapeError if its
  /// size differs from the value's.
  const T* grad_or_null(std::size_t i);
  /// Parameter i's weight decay: its group's, else `fallback` (the options').
  double weight_decay(std::size_t i, double fallback) const;
  /// Parameter i's learning rate: lr() times its group's lr_scale.
  double lr_of(std::size_t i) const { return lr_ * scale_[i]; }
  /// A subclass's per-step set-up: allocate state (ensure_buffers), advance
  /// step_, compute the step's constants (bias corrections, decayed lr).
  virtual void prepare() = 0;
  /// The update rule on entries [lo, hi) of parameter i; w and g point at entry 0.
  virtual void apply(std::size_t i, T* w, const T* g, std::size_t lo, std::size_t hi) = 0;
  /// Checks an options struct's weight decay and a group's override of it.
  void check_decay(double weight_decay) const;

  std::vector<TensorT<T>> params_;
  std::vector<std::string> names_;
  std::vector<std::optional<double>> decay_;  // per parameter: its group's override
  std::vector<double> scale_;                 // per parameter: its group's lr_scale
  double lr_;
  std::int64_t step_ = 0;
  struct Buffer {
    std::string name;
    std::vector<xt::xarray<T>>* buffers;
    double init;
  };
  std::vector<Buffer> buffers_;
  std::vector<const T*> grads_;      // this step's gradients, from begin_step (nullptr: none)
  std::vector<std::size_t> starts_;  // where each parameter starts in the flattened entries

 private:
  std::string who_;
};

/// Rescales all gradients together so that their global L2 norm
/// ||g|| = sqrt(sum over every entry of every gradient of g^2) is at most
/// max_norm (torch.nn.utils.clip_grad_norm_): if ||g|| > max_norm, every
/// gradient is multiplied by max_norm / (||g|| + 1e-6). Returns ||g|| before
/// clipping. Parameters without a gradient are ignored. ValueError if max_norm < 0.
template <class T>
double clip_grad_norm(const std::vector<TensorT<T>>& params, double max_norm);

/// Throws ValueError "<who>: <option> must be <what>: got <value>" unless ok.
/// Every numeric option is also checked to be finite (NaN and Inf never pass).
void check_option(bool ok, std::string_view who, std::string_view option, std::string_view what,
                  double value);

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace slope::optim
