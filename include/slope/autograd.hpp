// Gradients as tensors: grad() returns d outputs / d inputs instead of
// accumulating into the inputs' .grad, and with create_graph the result is
// itself differentiable, to any order (Hessians, Hessian-vector products,
// double backpropagation). The functionals built on it (jacobian, hessian,
// hvp, vhp) are in include/slope/functional.hpp.
#pragma once

#include <optional>
#include <vector>

#include "slope/tensor.hpp"

namespace slope {

struct GradOptions {
  /// Record the backward pass as differentiable ops: the gradients returned
  /// have a graph down to the inputs (and to grad_outputs that require one).
  bool create_graph = false;
  /// Keep the graph below the outputs for another backward; defaults to
  /// create_graph (as in PyTorch).
  std::optional<bool> retain_graph = std::nullopt;
  /// An input the outputs do not depend on gets zeros; otherwise an Error.
  bool allow_unused = false;
};

/// The gradients of sum_k <outputs[k], grad_outputs[k]> with respect to each
/// of `inputs` (leaves or intermediate results), as tensors of the inputs'
/// shapes: a vector-Jacobian product. grad_outputs default to ones for
/// one-entry outputs (a non-scalar output needs one of its shape). Nothing
/// is written into any tensor's .grad. Every primitive's backward has a
/// differentiable form, so with create_graph the results can be
/// differentiated again; an op without one would throw
/// "<op>: its backward is not differentiable (second derivative not supported)".
/// One overload per element type, so braced lists work: grad({y}, {x}, {v}, {...}).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, const GradOptions& options = {});
std::vector<Tensor64> grad(const std::vector<Tensor64>& outputs, const std::vector<Tensor64>& inputs,
                           const std::vector<Tensor64>& grad_outputs = {}, const GradOptions& options = {});
/// The same for one output (a scalar, seeded with 1): grad(loss, {W, b}).
template <class T>
std::vector<TensorT<T>> grad(const TensorT<T>& output, const std::vector<TensorT<T>>& inputs,
                             const GradOptions& options = {}) {
  return grad(std::vector<TensorT<T>>{output}, inputs, {}, options);
}

}  // namespace slope
