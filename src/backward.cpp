// The fast backward walk: each node's first backward step writes raw shares
// into its inputs' gradient buffers; accumulate_grad and grad_target are the
// one place those buffers are reached (broadcasting undone, data-parallel
// shards redirected). The walk that records the backward pass as ops is in
// src/autograd_graph.cpp.
#include <algorithm>
#include <atomic>

#include "op_support.hpp"
#include "shard_sink.hpp"

namespace slope::detail {

namespace {
thread_local const char* g_backward_op = nullptr;  // op whose backward is running
std::atomic<std::uint64_t> g_walks{0};             // numbers every backward walk
}  // namespace

template <class T>
GradSink<T>*& grad_sink() {
  thread_local GradSink<T>* sink = nullptr;
  return sink;
}

// The shard buffer of a parameter inside a data-parallel shard, or nullptr.
template <class T>
std::pair<GradSink<T>*, std::size_t> sink_slot(const Node<T>& node) {
  GradSink<T>* sink = grad_sink<T>();
  if (!sink || node.backward) return {nullptr, 0};  // interior nodes belong to the shard
  for (std::size_t i = 0; i < sink->nodes.size(); ++i)
    if (sink->nodes[i] == &node) return {sink, i};
  throw Error(fmt::format(
      "data-parallel step: tensor{} of shape {} needs a gradient but is not one of the step's "
      "parameters (shards would write it at the same time)",
      node.name.empty() ? "" : " '" + node.name + "'", to_string(shape_of(node.value))));
}

template <class T>
bool defer_product(Node<T>& node, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k,
                   const std::shared_ptr<Node<T>>& a, Array<T>& b) {
  GradSink<T>* sink = grad_sink<T>();
  if (!sink || !sink->deferred || anomaly_enabled()) return false;
  const auto [found, i] = sink_slot(node);
  if (!found) return false;
  DeferredProduct<T>& d = sink->deferred->emplace_back();  // capacity kept from step to step
  d.slot = i;
  d.ta = ta;
  d.tb = tb;
  d.m = m;
  d.n = n;
  d.k = k;
  d.a = a;
  d.b = std::move(b);
  return true;
}

template <class T>
GradTarget<T> grad_target(Node<T>& node) {
  if (auto [sink, i] = sink_slot(node); sink) {
    const bool fresh = !sink->written[i];
    sink->written[i] = 1;
    return {sink->grads[i]->data(), fresh};
  }
  if (node.has_grad) {
    if (node.grad_graph) node.grad_graph.reset();  // the array changes: no longer the graph's value
    return {node.grad.data(), false};
  }
  if (node.grad.size() != node.value.size()) node.grad = new_array<T>(node.value.shape());
  else if (!shapes_equal(node.grad, node.value)) node.grad.reshape(node.value.shape());
  node.has_grad = true;
  return {node.grad.data(), true};
}

// Sums g over the dimensions along which a value of `target` shape was
// broadcast (leading extra dimensions, and dimensions where target has 1),
// straight into the node's gradient.
template <class T>
static void accumulate_broadcast(Node<T>& node, const Array<T>& g) {
  const Shape gs = shape_of(g), target = shape_of(node.value);
  const auto fail = [&] {
    return ShapeError(fmt::format("backward of {}: gradient of shape {} does not reduce to {}",
                                  g_backward_op ? g_backward_op : "?", to_string(gs),
                                  to_string(target)));
  };
  if (gs.size() < target.size()) throw fail();
  const std::size_t lead = gs.size() - target.size();
  // Stride of each dimension of g into the result; 0 where the value was broadcast.
  std::vector<std::size_t> stride(gs.size(), 0);
  std::size_t step = 1;
  for (std::size_t i = target.size(); i-- > 0;) {
    if (target[i] == gs[lead + i]) stride[lead + i] = step;
    else if (target[i] != 1) throw fail();
    step *= target[i];
  }
  const GradTarget<T> t = grad_target(node);
  if (t.fresh) std::fill(t.data, t.data + node.value.size(), T(0));
  // A bias row against a batch: plain row sums.
  const std::size_t inner = node.value.size();
  if (lead + target.size() == gs.size() && inner > 0 && g.size() % inner == 0 &&
      std::equal(target.begin(), target.end(), gs.begin() + lead)) {
    for (std::size_t r = 0, rows = g.size() / inner; r < rows; ++r) {
      const T* src = g.data() + r * inner;
      for (std::size_t j = 0; j < inner; ++j) t.data[j] += src[j];
    }
    return;
  }
  std::vector<std::size_t> index(gs.size(), 0);
  std::size_t offset = 0;
  for (std::size_t flat = 0; flat < g.size(); ++flat) {
    t.data[offset] += g.data()[flat];
    // Advance the multi-index like an odometer, keeping the result offset in step.
    for (std::size_t d = gs.size(); d-- > 0;) {
      offset += stride[d];
      if (++index[d] < gs[d]) break;
      offset -= stride[d] * gs[d];
      index[d] = 0;
    }
  }
}

template <class T>
void accumulate_grad(Node<T>& node, Array<T>&& g) {
  // The first share of a gradient is moved in, not copied (not into a shard buffer).
  if (!node.has_grad && shapes_equal(g, node.value) && !sink_slot(node).first) {
    if (anomaly_enabled()) check_finite(g, g_backward_op ? g_backward_op : "backward", "backward");
    node.grad = std::move(g);
    node.has_grad = true;
    return;
  }
  accumulate_grad(node, static_cast<const Array<T>&>(g));
}

template <class T>
void accumulate_grad(Node<T>& node, const Array<T>& g) {
  if (anomaly_enabled()) check_finite(g, g_backward_op ? g_backward_op : "backward", "backward");
  if (!shapes_equal(g, node.value)) return accumulate_broadcast(node, g);
  const T* src = g.data();
  write_share(grad_target(node), g.size(), [src](std::size_t i) { return src[i]; });
}

// An op's backward reads the values its inputs had when it ran (and its own
// output): if one was written in place since (its version moved on), the
// gradient would be computed from the wrong numbers. PyTorch's rule for
// in-place operations; inputs an op does not read are not checked.
template <class T>
void check_versions(const Node<T>& n) {
  const auto label = [](const Node<T>& x) {
    return x.name.empty() ? fmt::format("a tensor of shape {}", to_string(shape_of(x.value)))
                          : fmt::format("'{}' (shape {})", x.name, to_string(shape_of(x.value)));
  };
  for (std::size_t k = 0; k < n.inputs.size(); ++k) {
    const Edge<T>& e = n.inputs[k];
    if (e.version == kUnchecked || e.node->version == e.version) continue;
    throw Error(fmt::format(
        "backward of {}: input {}, {}, was modified in place after {} used it (it is at version {}, "
        "the op saw version {}); compute the graph again after changing it",
        n.op, k, label(*e.node), n.op, e.node->version, e.version));
  }
  if (n.version != 0)
    throw Error(fmt::format("backward of {}: its result, {}, was modified in place after it was computed",
                            n.op, label(n)));
}

// The gradient an input holds now (its shard buffer inside a shard).
template <class T>
static const T* current_grad(Node<T>& node) {
  if (auto [sink, i] = sink_slot(node); sink) return sink->written[i] ? sink->grads[i]->data() : nullptr;
  return node.has_grad ? node.grad.data() : nullptr;
}

template <class T>
void run_backward(const std::shared_ptr<Node<T>>& root, Array<T>&& seed, bool retain) {
  if (!root->requires_grad)
    throw Error("backward: this tensor does not require a gradient (no input of the graph does)");
  const auto freed = [](const Node<T>& n) {
    return Error(fmt::format(
        "backward: the graph through {} was freed by an earlier backward(); "
        "pass retain_graph = true to the first call to go through it twice",
        n.op ? n.op : "a tensor"));
  };
  if (root->released) throw freed(*root);
  if (!root->backward) {  // a leaf: nothing to walk
    accumulate_grad(*root, std::move(seed));
    return;
  }
  // Iterative depth-first post-order over the interior nodes that need a
  // gradient: every node comes after all of its inputs. Inputs are visited in
  // argument order, so the order (and the floating-point summation order) is
  // the same on every run. Leaves are not walked: their consumers write their
  // gradients. The work lists are per thread and keep their capacity, so a
  // steady-state step allocates nothing here.
  thread_local std::vector<std::shared_ptr<Node<T>>> order;
  thread_local std::vector<std::pair<Node<T>*, std::size_t>> stack;
  struct Clear {
    ~Clear() {
      order.clear();
      stack.clear();
      g_backward_op = nullptr;
    }
  } clear;
  const std::uint64_t walk = g_walks.fetch_add(1, std::memory_order_relaxed) + 1;
  root->visit = walk;
  stack.emplace_back(root.get(), 0);
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      const std::shared_ptr<Node<T>>& child = n->inputs[next++].node;
      if (!child->requires_grad) continue;
      if (child->released) throw freed(*child);
      if (child->backward && child->visit != walk) {
        child->visit = walk;
        stack.emplace_back(child.get(), 0);
      }
      continue;
    }
    stack.pop_back();
    // The owning pointer of the finished node: its parent's edge, or the root.
    if (stack.empty()) order.push_back(root);
    else order.push_back(stack.back().first->inputs[stack.back().second - 1].node);
  }
  g_backward_op = root->op;
  accumulate_grad(*root, std::move(seed));
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node<T>& n = **it;
    if (!n.has_grad) continue;  // nothing reached it
    g_backward_op = n.op;
    check_versions(n);
    n.backward(n);
    if (anomaly_enabled())
      for (auto& e : n.inputs)
        if (e.node->requires_grad)
          if (const T* g = current_grad(*e.node))
            check_finite(g, e.node->value.size(), shape_of(e.node->value), n.op, "backward");
    // Interior gradients are not kept (unless retain_grad() asked); leaves keep theirs.
    if (!n.retains_grad) {
      n.grad = empty_array<T>();
      n.has_grad = false;
    }
  }
  if (retain) return;
  // Release the graph from the inputs up: a node's inputs come before it in
  // `order`, so clearing a node's edges only ever frees nodes already done.
  for (auto& p : order) {
    p->backward = Backward<T>();
    p->inputs.clear();
    p->saved = Saved<T>();
    p->released = true;
  }
}

#define SLOPE_INSTANTIATE(T)                                                                     \
  template GradSink<T>*& grad_sink<T>();                                                          \
  template GradTarget<T> grad_target<T>(Node<T>&);                                                \
  template bool defer_product<T>(Node<T>&, bool, bool, std::size_t, std::size_t, std::size_t,          \
                                 const std::shared_ptr<Node<T>>&, Array<T>&);                      \
  template void accumulate_grad<T>(Node<T>&, Array<T>&&);                                         \
  template void accumulate_grad<T>(Node<T>&, const Array<T>&);                                    \
  template void check_versions<T>(const Node<T>&);                                                \
  template void run_backward<T>(const std::shared_ptr<Node<T>>&, Array<T>&&, bool);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope::detail
