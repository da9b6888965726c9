// Whole-problem strategies from the lecture: random search (strategy #1),
// full-batch gradient descent with stopping criteria (strategy #2), and
// Newton's method with the exact Hessian for small problems (section 7).
//
// Gradient descent takes a closure over the current parameter values that
// zeroes the gradients, evaluates, runs backward and returns the loss (as for
// L-BFGS); random search's only evaluates. Newton's takes the loss as a
// tensor, which it differentiates twice.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <type_traits>
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

/// The loss as a tensor with its graph (no backward): what the second-order
/// methods differentiate, twice.
template <class T>
using LossClosure = std::function<TensorT<std::type_identity_t<T>>()>;

/// Where Newton's Hessian comes from.
enum class NewtonHessian {
  exact,              // autograd: row j = d(g . e_j)/dw through the gradient's own graph
  finite_difference,  // column j = (g(w + h e_j) - g(w - h e_j)) / 2h, symmetrised
};

struct NewtonOptions {
  int max_iter = 20;
  double tolerance_grad = 1e-10;  // stop when ||g||_2 <= this
  NewtonHessian hessian = NewtonHessian::exact;
  double h = 1e-5;                // the finite-difference step (finite_difference only)
};

enum class NewtonStop { gradient_tolerance, max_iterations };
std::string_view to_string(NewtonStop stop);

struct NewtonResult {
  std::vector<double> losses;          // at each iterate, from the start
  std::vector<double> gradient_norms;  // ||g||_2 at each iterate: quadratic convergence shows here
  int iterations = 0;
  // Backward passes: a gradient, or (exact) a Hessian row, a backward through
  // the gradient's graph; per iteration 1 + n exact, 1 + 2n by differences.
  int backward_passes = 0;
  NewtonStop stop = NewtonStop::max_iterations;
};

/// Newton's method, no learning rate: fit the quadratic model
///   f(w + s) ~ f(w) + g.s + s.H s / 2
/// and jump to its minimum, s = -H^{-1} g. `loss` returns the loss tensor
/// (no backward: Newton differentiates it itself). The exact Hessian is the
/// Jacobian of the gradient, one row per backward through the gradient's
/// graph (create_graph); the finite-difference one is the lecture's
/// approximation. Either way n rows and an O(n^3) solve per iteration: small
/// problems only. NumericError if H is singular. On a non-convex problem the
/// jump goes to the nearest stationary point of the model, which may be a saddle.
template <class T>
NewtonResult newton(const std::vector<TensorT<T>>& params, const LossClosure<T>& loss,
                    const NewtonOptions& options = {});

/// The n x n Hessian of loss() at the parameters (flattened in order, row-major,
/// symmetrised), as newton() builds it: exact (n backward passes through the
/// gradient's graph) or by centred differences with options.h (2n gradients).
template <class T>
std::vector<double> dense_hessian(const std::vector<TensorT<T>>& params, const LossClosure<T>& loss,
                                  const NewtonOptions& options = {});

/// Solves A x = b for a dense n x n row-major A by Gaussian elimination with
/// partial pivoting; NumericError if A is singular. (A helper for newton().)
std::vector<double> solve_dense(std::vector<double> a, std::vector<double> b);

}  // namespace slope::optim
