// Tensor: a cheap handle to a shared node of the autograd graph.
//
// A node holds a concrete, contiguous array (never a lazy expression), an
// optional gradient of the same shape and, for results of ops, the input nodes
// and a backward step. Copying a Tensor copies the handle, not the data.
// Values, gradients and nodes come from slope's caching pool (memory.hpp), so
// a training loop that repeats one graph allocates nothing after its first step.
//
// The element type is a template parameter: `Tensor` (float) is for training,
// `Tensor64` (double) for gradient checks. Model code written against TensorT<T>
// runs in both. Only float and double are instantiated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <xtensor/xarray.hpp>

#include "slope/error.hpp"
#include "slope/memory.hpp"
#include "slope/rng.hpp"
#include "slope/shape.hpp"
#include "slope/tensor_literal.hpp"

namespace slope {

namespace detail {

template <class T>
struct Node;

template <class T>
struct GraphGrad;

/// An op's backward step: callables stored inside the node (no allocation).
/// The first is the fast path: it reads the node's gradient array and writes
/// raw shares into its inputs' gradient buffers. The optional second is the
/// same derivative written with differentiable ops, run when a backward is
/// asked to create a graph (src/autograd_graph.cpp): it receives the
/// gradient as a tensor and returns each input's share as a tensor, so the
/// gradient can be differentiated again. Each callable may capture at most a
/// few plain values (a scalar, an axis, a count); arrays it needs go into
/// Node::saved, and everything else is read from the node it is called with.
template <class T>
class Backward {
 public:
  Backward() = default;
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, Backward> && std::is_invocable_v<const F&, Node<T>&>)
  Backward(F fast) {  // NOLINT: converts from any lambda, like std::function
    store(fast_, fast);
    call_ = [](const unsigned char* self, Node<T>& node) {
      (*std::launder(reinterpret_cast<const F*>(self)))(node);
    };
  }
  /// A fast step and its differentiable form.
  template <class F, class G>
    requires(std::is_invocable_v<const F&, Node<T>&> && std::is_invocable_v<const G&, GraphGrad<T>&>)
  Backward(F fast, G graph) : Backward(fast) {
    store(graph_, graph);
    graph_call_ = [](const unsigned char* self, GraphGrad<T>& context) {
      (*std::launder(reinterpret_cast<const G*>(self)))(context);
    };
  }
  explicit operator bool() const { return call_ != nullptr; }
  void operator()(Node<T>& node) const { call_(fast_, node); }
  /// Whether the step has a differentiable form (graph() may be called).
  bool differentiable() const { return graph_call_ != nullptr; }
  void graph(GraphGrad<T>& context) const { graph_call_(graph_, context); }

 private:
  static constexpr std::size_t kBytes = 32;
  template <class F>
  static void store(unsigned char* storage, const F& f) {
    static_assert(sizeof(F) <= kBytes && alignof(F) <= alignof(std::max_align_t),
                  "a backward closure captures at most 32 bytes; keep arrays in Node::saved");
    static_assert(std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>,
                  "a backward closure captures plain values only (no arrays, strings or vectors)");
    ::new (static_cast<void*>(storage)) F(f);
  }
  alignas(std::max_align_t) unsigned char fast_[kBytes] = {};
  alignas(std::max_align_t) unsigned char graph_[kBytes] = {};
  void (*call_)(const unsigned char*, Node<T>&) = nullptr;
  void (*graph_call_)(const unsigned char*, GraphGrad<T>&) = nullptr;
};

/// An edge's version when the op does not read the input's value in backward.
inline constexpr std::uint32_t kUnchecked = 0xffffffffu;

/// An input of an op: the node, and its version when the op read it
/// (kUnchecked for inputs whose values the op's backward does not read).
template <class T>
struct Edge {
  std::shared_ptr<Node<T>> node;
  std::uint32_t version = 0;
};

template <class T>
using EdgeList = std::vector<Edge<T>, PoolAllocator<Edge<T>>>;

/// A zero-size array (no storage at all): the state of an absent gradient.
template <class U>
Array<U> empty_array() {
  return Array<U>::from_shape({0});
}

/// What a backward step needs beyond the node's inputs, value and gradient.
template <class T>
struct Saved {
  Array<T> values = empty_array<T>();                   // e.g. a dropout mask
  Array<double> wide = empty_array<double>();           // e.g. row log-sum-exps, in double
  Array<std::int32_t> index = empty_array<std::int32_t>();  // e.g. labels, argmax positions
};

template <class T>
struct Node {
  Array<T> value;
  Array<T> grad = empty_array<T>();  // meaningful only when has_grad
  // After a backward that created a graph: the gradient as a differentiable
  // tensor (its value equals grad). Reset whenever grad changes otherwise.
  std::shared_ptr<Node> grad_graph;
  bool has_grad = false;
  bool requires_grad = false;  // leaves: set by the user; results: any input requires it
  bool released = false;       // backward already ran and freed the graph below
  bool retains_grad = false;   // an interior node whose gradient backward keeps (retain_grad())
  std::uint32_t version = 0;   // bumped by every in-place write of value
  std::uint64_t visit = 0;     // the last backward walk that reached this node
  const char* op = nullptr;    // name of the op that made this node; nullptr for leaves
  std::string name;            // optional user label ("W1"), used in reports
  EdgeList<T> inputs;
  // Reads this node's grad, value, inputs and saved arrays; adds each input's
  // share to its gradient. Set only when the node requires a gradient.
  Backward<T> backward;
  Saved<T> saved;

  explicit Node(Array<T>&& v) : value(std::move(v)) {}  // moved once: an array move is not free
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // releases long input chains iteratively (no deep recursion)
};

/// A new node from slope's pool (the node and its control block in one block).
template <class T>
std::shared_ptr<Node<T>> new_node(Array<T>&& value) {
  return std::allocate_shared<Node<T>>(PoolAllocator<Node<T>>(), std::move(value));
}

/// Adds `g` to `node`'s gradient, first summing away the dimensions along which
/// the node's value was broadcast. This is the one place broadcasting is undone.
template <class T>
void accumulate_grad(Node<T>& node, Array<T>&& g);
template <class T>
void accumulate_grad(Node<T>& node, const Array<T>& g);

/// Where a backward step writes its share of `node`'s gradient (same shape as
/// the value): `fresh` means the buffer holds nothing yet and must be
/// overwritten entirely; otherwise the share is added. This is how ops write
/// gradients without a temporary array; accumulate_grad is built on it.
template <class T>
struct GradTarget {
  T* data;
  bool fresh;
};
template <class T>
GradTarget<T> grad_target(Node<T>& node);

}  // namespace detail

/// How backward() runs. `create_graph` records the backward pass itself as
/// differentiable ops, so the gradients it leaves (grad_tensor()) can be
/// differentiated again; `retain_graph` keeps the graph for another
/// backward and defaults to create_graph (as in PyTorch).
struct BackwardOptions {
  bool create_graph = false;
  std::optional<bool> retain_graph = std::nullopt;
};

template <class T>
class TensorT {
 public:
  using value_type = T;
  using Array = slope::Array<T>;
  using Node = detail::Node<T>;

  /// A 0-d tensor holding 0.
  TensorT();
  /// A leaf holding `value` (any shape, copied or moved in).
  explicit TensorT(Array value, bool requires_grad = false);
  /// A 0-d leaf: Tensor64 s = 2.5;
  TensorT(T value);
  /// Leaves from literals of 1 to 4 levels: Tensor64 x = {1.0, 2.0};
  /// Tensor64 w = {{1, 2}, {3, 4}}; Tensor64 c = {{1.0}, {2.0}} (a column);
  /// Tensor64 t = {{{1, 2}}, {{3, 4}}}. A list of one type resolves to
  /// exactly its depth; numbers of mixed types are welcome too, except in a
  /// literal whose innermost lists all have one entry ({{1.0}, {2}} is
  /// ambiguous: write {{1.0}, {2.0}}). Ragged lists are a ValueError.
  TensorT(detail::literal_list<T, 1> values) : TensorT(detail::literal_array<T>(values)) {}
  TensorT(detail::literal_list<T, 2> values) : TensorT(detail::literal_array<T>(values)) {}
  TensorT(detail::literal_list<T, 3> values) : TensorT(detail::literal_array<T>(values)) {}
  TensorT(detail::literal_list<T, 4> values) : TensorT(detail::literal_array<T>(values)) {}
  template <class E>
    requires std::is_arithmetic_v<E>
  TensorT(detail::exact_list2<E> values) : TensorT(detail::literal_array<T>(values)) {}
  template <class E>
    requires std::is_arithmetic_v<E>
  TensorT(detail::exact_list3<E> values) : TensorT(detail::literal_array<T>(values)) {}
  template <class E>
    requires std::is_arithmetic_v<E>
  TensorT(detail::exact_list4<E> values) : TensorT(detail::literal_array<T>(values)) {}
  /// Wraps an existing node (op implementations use this).
  explicit TensorT(std::shared_ptr<Node> node);

  Shape shape() const;
  std::size_t dim() const { return node_->value.dimension(); }
  std::size_t size() const { return node_->value.size(); }
  /// The single value of a one-entry tensor; ValueError otherwise.
  T item() const;

  /// The data, read-only.
  const Array& value() const { return node_->value; }
  /// The data, for writing in place outside the graph (optimizers,
  /// initialisers, finite differences). It moves the tensor's version on: a
  /// backward through an op that read the old value then throws, naming the
  /// op and the tensor (PyTorch's rule for in-place writes).
  Array& mutable_value();
  const T* data() const { return node_->value.data(); }

  bool has_grad() const { return node_->has_grad; }
  /// The accumulated gradient; Error saying why there is none: a leaf that does
  /// not require one, an intermediate result without retain_grad(), or no
  /// backward yet.
  const Array& grad() const;
  Array& grad();
  /// The gradient as a tensor: after backward({.create_graph = true}) it is
  /// differentiable (x.grad_tensor() depends on x through the graph); after
  /// a plain backward, a constant copy. The same errors as grad() when there
  /// is none. A leaf's differentiable gradient refers to the graph that
  /// refers to the leaf: zero_grad() (or a plain backward) breaks that cycle,
  /// as PyTorch asks of .grad after backward(create_graph=True); grad()
  /// (include/slope/autograd.hpp) returns gradients without it.
  TensorT grad_tensor() const;
  /// Keeps this intermediate result's gradient through backward (results of
  /// ops otherwise free theirs as soon as it has been passed on).
  TensorT& retain_grad();
  /// Sets the gradient to zeros (keeping its buffer) if there is one; a
  /// differentiable gradient becomes a constant again.
  void zero_grad();

  bool requires_grad() const { return node_->requires_grad; }
  /// Marks a leaf as a parameter; Error on the result of an op.
  TensorT& set_requires_grad(bool on = true);
  const std::string& name() const { return node_->name; }
  TensorT& set_name(std::string name);
  /// Name of the op that produced this tensor, or "" for a leaf.
  const char* op() const { return node_->op ? node_->op : ""; }

  /// A new leaf with a copy of the value, outside any graph.
  TensorT detach() const;
  /// A differentiable copy (gradient flows back unchanged).
  TensorT clone() const;

  /// Reverse-mode differentiation from this scalar (seed 1). The graph below
  /// is released afterwards unless retain_graph.
  void backward(bool retain_graph = false) const;
  /// Same with an explicit seed of this tensor's shape (needed when non-scalar).
  template <class A>
    requires(std::is_convertible_v<const A&, Array> && !std::is_same_v<std::decay_t<A>, BackwardOptions>)
  void backward(const A& seed, bool retain_graph = false) const {
    backward(Array(seed), BackwardOptions{.retain_graph = retain_graph});
  }
  /// With options: backward({.create_graph = true}) records the backward pass
  /// as ops (every primitive's backward is differentiable), so the leaves'
  /// grad_tensor() can be differentiated again, to any order.
  void backward(const BackwardOptions& options) const;
  void backward(const Array& seed, const BackwardOptions& options) const;

  const std::shared_ptr<Node>& node() const { return node_; }
  bool is_same(const TensorT& other) const { return node_ == other.node_; }

 private:
  std::shared_ptr<Node> node_;
};

using Tensor = TensorT<float>;
using Tensor64 = TensorT<double>;

/// A tensor with a name: a model's parameter ("layers.0.W"), an optimizer's key.
template <class T>
using NamedTensor = std::pair<std::string, TensorT<T>>;

// ---- creation -------------------------------------------------------------

template <class T> TensorT<T> zeros(const Shape& shape, bool requires_grad = false);
template <class T> TensorT<T> ones(const Shape& shape, bool requires_grad = false);
template <class T> TensorT<T> full(const Shape& shape, T value, bool requires_grad = false);
template <class T> TensorT<T> scalar(T value, bool requires_grad = false);
/// A tensor of `shape` holding `values` in row-major order (any rank);
/// ValueError when the counts differ.
template <class T>
TensorT<T> from_vector(const std::vector<T>& values, const Shape& shape, bool requires_grad = false);
/// start, start + step, ... while below stop (above it for a negative step),
/// like NumPy's arange: ceil((stop - start) / step) entries, none when the
/// range is empty. step must be nonzero and all three finite (ValueError).
template <class T>
TensorT<T> arange(std::type_identity_t<T> start, std::type_identity_t<T> stop, std::type_identity_t<T> step = 1,
                  bool requires_grad = false);
/// The n x n identity matrix.
template <class T> TensorT<T> eye(std::size_t n, bool requires_grad = false);
/// Leaves of x's shape (and element type): filled with `value`, zeros, ones.
/// They are new leaves, outside x's graph.
template <class T>
TensorT<T> full_like(const TensorT<T>& x, std::type_identity_t<T> value, bool requires_grad = false);
template <class T> TensorT<T> zeros_like(const TensorT<T>& x, bool requires_grad = false);
template <class T> TensorT<T> ones_like(const TensorT<T>& x, bool requires_grad = false);
/// Entries drawn from N(mean, stddev^2) with `rng`.
template <class T>
TensorT<T> randn(const Shape& shape, Rng& rng, double stddev = 1.0, double mean = 0.0,
                 bool requires_grad = false);
/// Entries drawn uniformly from [lo, hi) with `rng`.
template <class T>
TensorT<T> uniform(const Shape& shape, double lo, double hi, Rng& rng, bool requires_grad = false);

// ---- grad mode and anomaly detection ----------------------------------------

/// True unless a NoGradGuard is alive on this thread.
bool grad_enabled();

/// While alive, ops on this thread record no graph (evaluation, parameter updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// True while an AnomalyGuard is alive on this thread.
bool anomaly_enabled();

/// While alive, every op checks its forward result and every backward its
/// gradient contributions, and throws NumericError naming the first op that
/// produced NaN or Inf. Costs a pass over each array; off by default.
class AnomalyGuard {
 public:
  AnomalyGuard();
  ~AnomalyGuard();
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;

 private:
  bool previous_;
};

/// Text like "tensor([[1, 2], [3, 4]], shape=(2, 2))"; long tensors are elided.
template <class T> std::string to_string(const TensorT<T>& t);

extern template class TensorT<float>;
extern template class TensorT<double>;

}  // namespace slope

template <class T>
struct fmt::formatter<slope::TensorT<T>> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const slope::TensorT<T>& t, Ctx& ctx) const {
    std::string s = slope::to_string(t);
    return fmt::formatter<std::string_view>::format(s, ctx);
  }
};
