// The backward walk that records the backward pass as ops, and grad().
//
// The fast walk (run_backward in src/tensor.cpp) runs each node's first
// backward step, which writes raw shares into gradient buffers. This walk
// runs each node's differentiable form instead (Backward::graph): it receives
// the node's gradient as a tensor and returns its inputs' shares as tensors,
// computed with ops. Under create_graph grad mode is on, so those ops record
// a graph of their own, down to the original inputs: the gradient can be
// differentiated again, to any order. Without it (grad() of first order) the
// same forms run with grad mode off. Gradients accumulate as sums of tensor
// shares; a share in a broadcast shape is summed down with a differentiable
// reduction (sum_to), the engine's one place for broadcasting here too.
#include <algorithm>
#include <unordered_map>

#include "op_support.hpp"
#include "shard_sink.hpp"

namespace slope {

namespace detail {

namespace {

// g summed over the dimensions along which a value of `target` shape was
// broadcast (leading extra ones, and those where target has 1), with ops.
template <class T>
TensorT<T> sum_to(const TensorT<T>& g, const Shape& target, const char* op) {
  const Shape gs = g.shape();
  if (gs == target) return g;
  const auto fail = [&] {
    return ShapeError(fmt::format("backward of {}: gradient of shape {} does not reduce to {}", op, to_string(gs),
                                  to_string(target)));
  };
  if (gs.size() < target.size()) throw fail();
  const std::size_t lead = gs.size() - target.size();
  std::vector<int> axes;
  for (std::size_t d = 0; d < lead; ++d) axes.push_back(static_cast<int>(d));
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == gs[lead + i]) continue;
    if (target[i] != 1) throw fail();
    axes.push_back(static_cast<int>(lead + i));
  }
  return reshape(sum(g, axes, true), target);
}

// Stores a finished gradient G in a node that keeps one (a leaf, or an
// interior node asked to retain_grad()): the value into grad, added to what
// it holds; under create_graph, the tensor as grad_graph (again a sum).
template <class T>
void store_grad(Node<T>& node, const TensorT<T>& G, bool create_graph) {
  if (grad_sink<T>())
    throw Error("data-parallel step: create_graph is not supported inside a shard's backward");
  if (node.has_grad) {
    if (create_graph)
      node.grad_graph = add(node.grad_graph ? TensorT<T>(node.grad_graph) : TensorT<T>(node.grad), G).node();
    else
      node.grad_graph.reset();
    T* dst = node.grad.data();
    const T* src = G.data();
    for (std::size_t i = 0; i < node.grad.size(); ++i) dst[i] += src[i];
    return;
  }
  node.grad = new_array<T>(node.value.shape());
  std::copy_n(G.data(), G.size(), node.grad.data());
  node.has_grad = true;
  node.grad_graph = create_graph ? G.node() : nullptr;
}

template <class T>
Error freed(const Node<T>& n) {
  return Error(fmt::format("backward: the graph through {} was freed by an earlier backward(); pass retain_graph = "
                           "true to the first call to go through it twice",
                           n.op ? n.op : "a tensor"));
}

}  // namespace

template <class T>
std::vector<TensorT<T>> graph_backward(const std::vector<TensorT<T>>& roots, const std::vector<TensorT<T>>& seeds,
                                       const std::vector<TensorT<T>>& targets, const GradOptions& options) {
  using NodePtr = std::shared_ptr<Node<T>>;
  const bool all_leaves = targets.empty();  // backward(): every leaf gets its gradient
  std::unordered_map<const Node<T>*, std::size_t> target_of;
  for (std::size_t k = 0; k < targets.size(); ++k) target_of.emplace(targets[k].node().get(), k);
  const auto wanted_leaf = [&](const Node<T>* n) { return all_leaves || target_of.count(n) > 0; };

  // 1. Iterative depth-first post-order over the interior nodes that need a
  // gradient, inputs in argument order (so sums are in a fixed order), as in
  // run_backward. A node is `needed` when a target is it or lies below it.
  std::vector<NodePtr> order;
  std::unordered_map<const Node<T>*, bool> needed;  // also marks nodes reached
  std::vector<std::pair<NodePtr, std::size_t>> stack;
  for (const TensorT<T>& r : roots) {
    const NodePtr& root = r.node();
    if (root->released) throw freed(*root);
    if (!root->backward || needed.count(root.get())) continue;
    needed[root.get()] = false;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next < n->inputs.size()) {
        const NodePtr child = n->inputs[next++].node;
        if (!child->requires_grad) continue;
        if (child->released) throw freed(*child);
        if (child->backward && !needed.count(child.get())) {
          needed[child.get()] = false;
          stack.emplace_back(child, 0);
        }
        continue;
      }
      bool need = all_leaves || target_of.count(n.get()) > 0;
      for (const Edge<T>& e : n->inputs)
        if (e.node->requires_grad)
          need = need || (e.node->backward ? needed[e.node.get()] : wanted_leaf(e.node.get()));
      needed[n.get()] = need;
      order.push_back(n);
      stack.pop_back();
    }
  }

  // 2. Seed the roots, then visit the nodes from the roots down, each after
  // every node that uses it, so its gradient is complete when its step runs.
  const bool create_graph = options.create_graph;
  const GradModeGuard mode(create_graph);
  std::unordered_map<const Node<T>*, TensorT<T>> grads;
  std::vector<NodePtr> leaves;  // leaves reached, in the order first reached
  const auto accumulate = [&](const NodePtr& node, const TensorT<T>& share) {
    auto [it, fresh] = grads.try_emplace(node.get(), share);
    if (!fresh) it->second = add(it->second, share);
    else if (!node->backward) leaves.push_back(node);
  };
  for (std::size_t k = 0; k < roots.size(); ++k) accumulate(roots[k].node(), seeds[k]);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const NodePtr& n = *it;
    if (!needed[n.get()]) continue;
    const auto found = grads.find(n.get());
    if (found == grads.end()) continue;  // nothing reached it
    const TensorT<T> g = found->second;
    check_versions(*n);
    if (!n->backward.differentiable())
      throw Error(fmt::format("{}: its backward is not differentiable (second derivative not supported)", n->op));
    std::vector<std::optional<TensorT<T>>> shares(n->inputs.size());
    GraphGrad<T> context{*n, n, g, shares};
    n->backward.graph(context);
    for (std::size_t i = 0; i < shares.size(); ++i) {
      if (!shares[i]) continue;
      const NodePtr& child = n->inputs[i].node;
      if (child->backward ? !needed[child.get()] : !wanted_leaf(child.get())) continue;
      const TensorT<T> share = sum_to(*shares[i], shape_of(child->value), n->op);
      if (anomaly_enabled()) check_finite(share.value(), n->op, "backward");
      accumulate(child, share);
    }
    if (all_leaves && n->retains_grad) store_grad(*n, g, create_graph);
    if (!target_of.count(n.get())) grads.erase(n.get());  // interior gradients are not kept
  }

  std::vector<TensorT<T>> result;
  if (all_leaves) {
    for (const NodePtr& leaf : leaves) store_grad(*leaf, grads.at(leaf.get()), create_graph);
  } else {
    for (std::size_t k = 0; k < targets.size(); ++k) {
      const auto found = grads.find(targets[k].node().get());
      if (found != grads.end()) {
        result.push_back(found->second);
      } else if (options.allow_unused) {
        result.push_back(zeros_like(targets[k]));
      } else {
        throw Error(fmt::format("grad: input {}{} (shape {}) is not reachable from the outputs; pass allow_unused "
                                "= true to get zeros for it",
                                k, targets[k].name().empty() ? "" : " '" + targets[k].name() + "'",
                                to_string(targets[k].shape())));
      }
    }
  }
  // 3. Release the graph from the inputs up, unless asked to keep it (by
  // default when a graph was created: the gradients' own graph goes through it).
  if (!options.retain_graph.value_or(create_graph))
    for (const NodePtr& p : order) {
      p->backward = Backward<T>();
      p->inputs.clear();
      p->saved = Saved<T>();
      p->released = true;
    }
  return result;
}

}  // namespace detail

namespace {

template <class T>
std::vector<TensorT<T>> checked_grad(const std::vector<TensorT<T>>& outputs, const std::vector<TensorT<T>>& inputs,
                                     const std::vector<TensorT<T>>& grad_outputs, const GradOptions& options) {
  if (outputs.empty()) throw ValueError("grad: needs at least one output");
  if (inputs.empty()) throw ValueError("grad: needs at least one input");
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw ValueError(fmt::format("grad: {} grad_outputs for {} outputs", grad_outputs.size(), outputs.size()));
  std::vector<TensorT<T>> seeds;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const TensorT<T>& y = outputs[k];
    if (!y.requires_grad())
      throw Error(fmt::format("grad: output {} does not require a gradient (no input of its graph does)", k));
    if (!grad_outputs.empty()) {
      if (grad_outputs[k].shape() != y.shape())
        throw ShapeError(fmt::format("grad: grad_output {} has shape {}, its output {}", k,
                                     to_string(grad_outputs[k].shape()), to_string(y.shape())));
      seeds.push_back(grad_outputs[k]);
    } else if (y.size() == 1) {
      seeds.push_back(ones_like(y));
    } else {
      throw Error(fmt::format("grad: output {} has shape {}; a non-scalar output needs a grad_output of its shape",
                              k, to_string(y.shape())));
    }
  }
  for (std::size_t k = 0; k < inputs.size(); ++k)
    if (!inputs[k].requires_grad())
      throw Error(fmt::format("grad: input {}{} does not require a gradient", k,
                              inputs[k].name().empty() ? "" : " '" + inputs[k].name() + "'"));
  return detail::graph_backward(outputs, seeds, inputs, options);
}

}  // namespace

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, const GradOptions& options) {
  return checked_grad(outputs, inputs, grad_outputs, options);
}
std::vector<Tensor64> grad(const std::vector<Tensor64>& outputs, const std::vector<Tensor64>& inputs,
                           const std::vector<Tensor64>& grad_outputs, const GradOptions& options) {
  return checked_grad(outputs, inputs, grad_outputs, options);
}

#define SLOPE_INSTANTIATE(T)                                                                                   \
  template std::vector<TensorT<T>> detail::graph_backward<T>(const std::vector<TensorT<T>>&,                   \
                                                             const std::vector<TensorT<T>>&,                   \
                                                             const std::vector<TensorT<T>>&, const GradOptions&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
