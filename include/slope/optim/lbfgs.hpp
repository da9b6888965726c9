// L-BFGS with an optional strong-Wolfe line search, following
// torch.optim.LBFGS (itself modelled on minFunc) step for step.
//
// Quasi-Newton: the inverse Hessian is approximated from the last
// `history_size` pairs s = w_{k+1} - w_k, y = g_{k+1} - g_k by the two-loop
// recursion, scaled by H_diag = s.y / y.y. Good for full-batch, deterministic
// problems and small models; poor with minibatch noise (lecture section 7).
#pragma once

#include <initializer_list>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "slope/optim/optimizer.hpp"

namespace slope::optim {

enum class LineSearch { none, strong_wolfe };

struct LBFGSOptions {
  double lr = 1.0;                 // initial step length t (the first iteration ever uses min(1, 1/|g|_1)*lr)
  int max_iter = 20;               // iterations per step() call
  int max_eval = 0;                // closure evaluations per step(); 0 means max_iter * 5 / 4
  double tolerance_grad = 1e-7;    // stop when max |g_i| <= this
  double tolerance_change = 1e-9;  // stop when the loss or the step changes less than this
  int history_size = 100;          // pairs (s, y) kept
  LineSearch line_search = LineSearch::strong_wolfe;  // torch's default is none
};

/// Why a step() returned.
enum class LBFGSStop {
  gradient_tolerance,  // max |g_i| <= tolerance_grad (also when already optimal on entry)
  step_tolerance,      // max |t*d_i| <= tolerance_change
  loss_tolerance,      // |loss - previous loss| < tolerance_change
  no_descent,          // directional derivative g.d > -tolerance_change
  max_iterations,      // max_iter iterations done
  max_evaluations,     // max_eval closure evaluations done
};

/// "gradient_tolerance", ... for reports.
std::string_view to_string(LBFGSStop stop);

struct LBFGSResult {
  double initial_loss = 0.0;  // the loss at entry (what torch's step returns)
  double loss = 0.0;          // the last loss evaluated at the accepted point
  int iterations = 0;
  int evaluations = 0;        // closure calls in this step()
  LBFGSStop stop = LBFGSStop::max_iterations;
};

/// Closure-based: the closure zeroes the gradients, evaluates the loss, runs
/// backward and returns the loss; step() calls it many times.
///   auto closure = [&] { opt.zero_grad(); auto loss = f(); loss.backward(); return loss.item(); };
///   LBFGSResult r = opt.step(closure);
/// State ("LBFGS"): scalars "lr", "step" (iterations over all calls), "func_evals",
/// "t", "H_diag", "prev_loss"; tensors "d", "prev_flat_grad", "old_dirs" (the y's),
/// "old_stps" (the s's), "ro" (1/(y.s) each), all flat over the parameters.
template <class T>
class LBFGS {
 public:
  using Closure = std::function<double()>;

  explicit LBFGS(std::vector<TensorT<T>> params, LBFGSOptions options = {});

  LBFGSResult step(const Closure& closure);
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr);
  const LBFGSOptions& options() const { return options_; }
  const std::vector<TensorT<T>>& parameters() const { return params_; }
  std::string_view name() const { return "LBFGS"; }

  OptimizerState state() const;
  void load_state(const OptimizerState& state);

 private:
  using Vec = std::vector<double>;
  Vec flat_grad() const;
  Vec flat_params() const;
  void set_params(const Vec& x);
  void add_to_params(double t, const Vec& d);
  /// Loss and flat gradient at x + t*d; the parameters are restored to x after.
  std::pair<double, Vec> evaluate_at(const Closure& closure, const Vec& x, double t, const Vec& d);
  struct Search { double loss; Vec grad; double t; int evals; };
  Search strong_wolfe(const Closure& closure, const Vec& x, double t, const Vec& d, double f,
                      const Vec& g, double gtd);

  std::vector<TensorT<T>> params_;
  LBFGSOptions options_;
  std::size_t numel_ = 0;
  // State, named as in torch.optim.LBFGS.
  std::int64_t n_iter_ = 0;
  std::int64_t func_evals_ = 0;
  Vec d_, prev_flat_grad_;
  double t_ = 0.0, h_diag_ = 1.0, prev_loss_ = 0.0;
  std::vector<Vec> old_dirs_, old_stps_;
  Vec ro_;
};

// Let `Adam opt({w, b}, {...})` deduce T from a braced list, as from a vector.
template <class T> LBFGS(std::initializer_list<TensorT<T>>, LBFGSOptions = {}) -> LBFGS<T>;

extern template class LBFGS<float>;
extern template class LBFGS<double>;

}  // namespace slope::optim
