// Whole-problem strategies from the lecture: random search (strategy #1),
// full-batch gradient descent with stopping criteria (strategy #2), and
// Newton's method with the exact Hessian for small problems (section 7).
//
// Each takes a closure over the current parameter values. For gradient
// descent and Newton it must zero the gradients, evaluate, run backward and
// return the loss (as for L-BFGS); for random search it only evaluates.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "slope/optim/optimizer.hpp"
#include "slope/rng.hpp"

namespace slope::optim {

using Closure = std::function<double()>;

// ---- full-batch gradient descent ---------------------------------------------------

struct GradientDescentOptions {
  double lr = 1e-1;          // the lecture's step_size: w <- w - lr * grad
  int max_iter = 1000;       // stop after this many updates
  double tolerance = 1e-8;   // ... or when loss_{k-1} - loss_k < tolerance (including a rise)
};

enum class DescentStop { max_iterations, loss_tolerance };
std::string_view to_string(DescentStop stop);

struct DescentResult {
  std::vector<double> losses;  // losses[k] is the loss before update k (last: at the final point)
  int iterations = 0;          // updates applied
  DescentStop stop = DescentStop::max_iterations;
  double loss() const { return losses.empty() ? 0.0 : losses.back(); }
};

/// Repeats { loss = closure(); if improvement < tolerance: stop; opt.step() } with
/// any first-order optimizer, so "full batch" plus Adam works as well.
template <class T>
DescentResult minimize(Optimizer<T>& opt, const Closure& closure, int max_iter, double tolerance);

/// Plain gradient descent, w <- w - lr * grad, over the full batch.
template <class T>
DescentResult gradient_descent(const std::vector<TensorT<T>>& params, const Closure& closure,
                               const GradientDescentOptions& options = {});

// ---- random search ---------------------------------------------------------------

struct RandomSearchOptions {
  int trials = 1000;       // weight draws
  double stddev = 1e-3;    // each entry ~ N(0, stddev^2), like randn(...) * 0.001
};

struct RandomSearchResult {
  double best_loss = 0.0;
  int best_trial = -1;       // index of the winning draw
  std::vector<double> losses;  // every trial's loss, in order
};

/// The lecture's strategy #1: draw every parameter at random `trials` times,
/// evaluate `loss` (no backward needed), keep the best. The parameters hold the
/// best draw on return.
template <class T>
RandomSearchResult random_search(const std::vector<TensorT<T>>& params, const Closure& loss,
                                 Rng& rng, const RandomSearchOptions& options = {});

// ---- Newton's method -------------------------------------------------------------------

struct NewtonOptions {
  int max_iter = 20;
  double tolerance_grad = 1e-10;  // stop when ||g||_2 <= this
  double h = 1e-5;                // finite-difference step for the Hessian columns
};

enum class NewtonStop { gradient_tolerance, max_iterations };
std::string_view to_string(NewtonStop stop);

struct NewtonResult {
  std::vector<double> losses;          // at each iterate, from the start
  std::vector<double> gradient_norms;  // ||g||_2 at each iterate: quadratic convergence shows here
  int iterations = 0;
  NewtonStop stop = NewtonStop::max_iterations;
};

/// Newton's method, no learning rate: fit the quadratic model
///   f(w + s) ~ f(w) + g.s + s.H s / 2
/// and jump to its minimum, s = -H^{-1} g. The Hessian is exact up to the
/// finite differences of the analytic gradient, column by column:
///   H[:, j] = (g(w + h e_j) - g(w - h e_j)) / 2h, then symmetrised.
/// Costs 2n closure calls and an O(n^3) solve per iteration: small problems
/// only. NumericError if H is singular. On a non-convex problem the jump goes
/// to the nearest stationary point of the model, which may be a saddle.
template <class T>
NewtonResult newton(const std::vector<TensorT<T>>& params, const Closure& closure,
                    const NewtonOptions& options = {});

/// Solves A x = b for a dense n x n row-major A by Gaussian elimination with
/// partial pivoting; NumericError if A is singular. (A helper for newton().)
std::vector<double> solve_dense(std::vector<double> a, std::vector<double> b);

}  // namespace slope::optim
