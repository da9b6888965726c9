// Gradient checking: the analytic gradient from backward() against centred
// finite differences, in float64 (the lecture's core practice); and the same
// for second derivatives (gradgradcheck).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "slope/tensor.hpp"

namespace slope {

/// Centred differences: df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h, for every
/// entry of x. Costs two evaluations of f per entry.
xt::xarray<double> numerical_gradient(const std::function<double(const xt::xarray<double>&)>& f,
                                      xt::xarray<double> x, double h = 1e-6);

struct GradcheckOptions {
  double h = 1e-6;      // finite-difference step
  double atol = 1e-8;   // an entry passes when |a - n| <= atol + rtol * |n|
  double rtol = 1e-6;
  // Check at most this many entries of each input, drawn at random with `seed`
  // (the lecture's sparse check for large inputs); 0 checks every entry.
  std::size_t max_entries_per_input = 0;
  std::uint64_t seed = 0;
};

/// One checked entry.
struct GradEntry {
  std::size_t input = 0;   // position in the inputs list
  std::string name;        // the tensor's name, or "" if it has none
  Shape index;             // multi-index of the entry
  double analytic = 0.0;
  double numerical = 0.0;
  double rel_error = 0.0;  // |a - n| / max(|a|, |n|), 0 when both are 0
  bool ok = true;
};

struct GradcheckReport {
  bool ok = true;
  std::size_t checked = 0;           // entries compared over all inputs
  std::vector<GradEntry> worst;      // per input: the entry furthest over (or closest to) the criterion
  std::vector<GradEntry> failures;   // every failing entry, in order
  double max_rel_error() const;      // over `worst`
  /// "gradient mismatch for input 1 (w1) at (3, 7): numerical 0.1234, analytic
  /// 0.1299, relative error 5.0e-02", one line per failing input, or "ok ...".
  std::string message() const;
};

/// Checks d f(inputs) / d inputs[i] for every input that requires a gradient.
/// `f` must return a one-entry tensor and be deterministic. Inputs are perturbed
/// in place and restored; their gradients are left cleared.
GradcheckReport gradcheck(const std::function<Tensor64(const std::vector<Tensor64>&)>& f,
                          const std::vector<Tensor64>& inputs, const GradcheckOptions& options = {});

/// Checks second derivatives, in float64, as PyTorch's gradgradcheck does:
/// draws random grad_outputs v (N(0, 1), of f's output shape, seeded by
/// options.seed), forms the gradient function
///   G(inputs, v) = grad(f(inputs), inputs, v, create_graph)   (a vector-Jacobian product)
/// and gradchecks it with respect to the inputs and v: its analytic gradient
/// comes from a backward through the graph the first backward recorded, its
/// numerical one from centred differences of G (itself computed analytically).
/// G is reduced to a scalar with fixed random weights, so every entry of
/// every gradient counts. f may return any shape. The report has gradcheck's
/// per-entry format; the entry after the inputs is v, named "grad_output".
GradcheckReport gradgradcheck(const std::function<Tensor64(const std::vector<Tensor64>&)>& f,
                              const std::vector<Tensor64>& inputs, const GradcheckOptions& options = {});

}  // namespace slope
