// Second-derivative checking: a gradcheck of the gradient function.
#include <fmt/format.h>

#include "gradcheck_support.hpp"
#include "slope/autograd.hpp"
#include "slope/ops.hpp"

namespace slope {

GradcheckReport gradgradcheck(const std::function<Tensor64(const std::vector<Tensor64>&)>& f,
                              const std::vector<Tensor64>& inputs, const GradcheckOptions& options) {
  const Tensor64 y = f(inputs);
  if (!y.requires_grad())
    throw Error("gradgradcheck: no input requires a gradient, so there is nothing to check");
  // The grad_outputs and the weights that reduce G to a scalar, drawn once.
  Rng rng(options.seed ^ 0x5eedu);
  std::vector<Tensor64> checked = inputs;
  checked.push_back(randn<double>(y.shape(), rng, 1.0, 0.0, true).set_name("grad_output"));
  std::vector<Tensor64> weights;
  for (const Tensor64& x : inputs)
    if (x.requires_grad()) weights.push_back(randn<double>(x.shape(), rng));
  // S(inputs, v) = sum_k <G_k(inputs, v), w_k>. Its first call is the one
  // compare_with_differences backpropagates through: only it records G's graph.
  bool first = true;
  const auto S = [&](const std::vector<Tensor64>& all) {
    const std::vector<Tensor64> xs(all.begin(), all.end() - 1);
    std::vector<Tensor64> wrt;
    for (const Tensor64& x : xs)
      if (x.requires_grad()) wrt.push_back(x);
    const std::vector<Tensor64> g =
        grad({f(xs)}, wrt, {all.back()}, {.create_graph = first, .allow_unused = true});
    first = false;
    Tensor64 s = sum(g[0] * weights[0]);
    for (std::size_t k = 1; k < g.size(); ++k) s = s + sum(g[k] * weights[k]);
    return s;
  };
  return detail::compare_with_differences(S, checked, options, true);
}

}  // namespace slope
