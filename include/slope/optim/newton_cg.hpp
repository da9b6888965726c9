// Hessian-free (truncated) Newton: Newton-CG in the style of Martens (2010).
//
// Each iteration solves the damped Newton system (H + lambda I) d = -g by
// conjugate gradient, which needs H only through products H v. Each product
// is one backward through the gradient's own graph (create_graph, then
// grad(g, w, v)): about the cost of two gradients, with no N^2 matrix ever
// formed. CG stops early (truncated): at the forcing tolerance, at the
// iteration cap, or on negative curvature (p.(H + lambda I)p <= 0, where the
// quadratic model has no minimum along p). A backtracking line search
// (Armijo) picks the step length, and the Levenberg-Marquardt rule adapts
// lambda from how well the model predicted the loss: rho = actual / predicted
// reduction at the full step; rho < 1/4: lambda *= 3/2, rho > 3/4: lambda *= 2/3.
//
// Full batch and closure-based like L-BFGS, but the closure returns the loss
// as a tensor (with its graph) and does no backward itself:
//   auto closure = [&] { return softmax_cross_entropy(model(x), y) + lambda * l2(model.weights()); };
//   NewtonCGResult r = opt.step(closure);
// The parameters' .grad is never used.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "slope/tensor.hpp"

namespace slope::optim {

struct NewtonCGOptions {
  int max_iter = 20;              // Newton iterations per step() call
  int max_cg = 50;                // CG iterations, each one Hessian-vector product, per Newton iteration
  double cg_tolerance = 0.5;      // CG stops when ||r|| <= min(cg_tolerance, sqrt(||g||)) ||g||
  double damping = 1.0;           // the initial lambda of (H + lambda I)
  double damping_min = 1e-8;      // lambda never goes below this
  double tolerance_grad = 1e-7;   // stop when max |g_i| <= this
  double tolerance_change = 1e-9; // stop when the loss falls by less than this in an iteration
  int max_line_search = 20;       // step halvings before giving up (Armijo, c1 = 1e-4)
};

/// Why a step() returned.
enum class NewtonCGStop {
  gradient_tolerance,  // max |g_i| <= tolerance_grad (also when already optimal on entry)
  loss_tolerance,      // the loss fell by less than tolerance_change
  line_search_failed,  // no step length decreased the loss; the parameters were left as they were
  max_iterations,      // max_iter iterations done
};
std::string_view to_string(NewtonCGStop stop);

/// Why the last CG solve stopped.
enum class CGStop { converged, max_iterations, negative_curvature };
std::string_view to_string(CGStop stop);

struct NewtonCGResult {
  double initial_loss = 0.0;  // the loss at entry
  double loss = 0.0;          // at the parameters returned
  int iterations = 0;         // Newton iterations (accepted steps)
  int hvps = 0;               // Hessian-vector products (CG iterations)
  int gradients = 0;          // gradients with their graph: one per iteration, one more to stop on tolerance_grad
  int evaluations = 0;        // loss evaluations of the line search (forward passes, no graph)
  int negative_curvature = 0; // CG solves stopped by negative curvature
  CGStop cg_stop = CGStop::converged;  // of the last solve
  double damping = 0.0;       // lambda after the last iteration
  double step_length = 0.0;   // the line search's t in the last iteration
  NewtonCGStop stop = NewtonCGStop::max_iterations;
};

template <class T>
class NewtonCG {
 public:
  using Closure = std::function<TensorT<T>()>;

  explicit NewtonCG(std::vector<TensorT<T>> params, NewtonCGOptions options = {});

  NewtonCGResult step(const Closure& closure);

  const NewtonCGOptions& options() const { return options_; }
  const std::vector<TensorT<T>>& parameters() const { return params_; }
  /// The current lambda (it carries over from one step() call to the next).
  double damping() const { return damping_; }
  std::string_view name() const { return "NewtonCG"; }

 private:
  using Vec = std::vector<double>;
  Vec flat_params() const;
  void set_params(const Vec& x);

  std::vector<TensorT<T>> params_;
  NewtonCGOptions options_;
  std::size_t numel_ = 0;
  double damping_;
};

template <class T> NewtonCG(std::initializer_list<TensorT<T>>, NewtonCGOptions = {}) -> NewtonCG<T>;

extern template class NewtonCG<float>;
extern template class NewtonCG<double>;

}  // namespace slope::optim
