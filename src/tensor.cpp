// The tensor handle, grad mode and op results (the backward walks: src/backward.cpp and
// src/autograd_graph.cpp; creation: src/creation.cpp).
#include "slope/tensor.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>

#include "op_support.hpp"
#include "shard_sink.hpp"

namespace slope {

namespace {
thread_local bool g_grad_enabled = true;
thread_local bool g_anomaly = false;
thread_local const char* g_op_name = nullptr;      // the composite the user called, while it runs
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }
bool anomaly_enabled() { return g_anomaly; }
AnomalyGuard::AnomalyGuard() : previous_(g_anomaly) { g_anomaly = true; }
AnomalyGuard::~AnomalyGuard() { g_anomaly = previous_; }

namespace detail {

template <class T>
Node<T>::~Node() {
  // Destroying a long chain of nodes recursively could overflow the stack;
  // take over inputs that only this node holds and release them one by one.
  EdgeList<T> pending = std::move(inputs);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back().node);
    pending.pop_back();
    if (n && n.use_count() == 1) {
      for (auto& e : n->inputs) pending.push_back(std::move(e));
      n->inputs.clear();
    }
  }
}

ShardRows*& shard_rows() {
  thread_local ShardRows* rows = nullptr;
  return rows;
}

std::size_t normalize_axis(int axis, std::size_t ndim, const char* op, const Shape& shape) {
  const long a = axis < 0 ? axis + static_cast<long>(ndim) : axis;
  if (a < 0 || a >= static_cast<long>(ndim))
    throw ShapeError(fmt::format("{}: axis {} is out of range for shape {}", op, axis,
                                 to_string(shape)));
  return static_cast<std::size_t>(a);
}

template <class T>
void check_finite(const T* p, std::size_t n, const Shape& shape, const char* op, const char* what) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i]))
      throw NumericError(fmt::format("anomaly: {} of {} produced {} (entry {} of shape {})", what,
                                     op, std::isnan(p[i]) ? "NaN" : "Inf", i, to_string(shape)));
}

template <class T>
void check_finite(const Array<T>& a, const char* op, const char* what) {
  check_finite(a.data(), a.size(), shape_of(a), op, what);
}

// A result node for `op`; the inputs (any range of tensor pointers) and the
// backward step are kept only when grad mode is on and some input needs a
// gradient. The node's EdgeList comes from the pool, so a graph repeated step
// after step allocates nothing here after the first.
template <class T, class Range, class Get>
static TensorT<T> finish_result(const char* op, Array<T>&& value, const Range& inputs, Get tensor,
                                Backward<T> backward, Saved<T>&& saved) {
  if (g_op_name) op = g_op_name;  // the name the user called (sqrt, not pow)
  if (g_anomaly) {
    try {
      check_finite(value, op, "forward");
    } catch (const NumericError& e) {
      // Name the inputs the user named, so the report says where it happened.
      std::string named;
      for (const auto& t : inputs)
        if (!tensor(t).name().empty()) named += (named.empty() ? "" : ", ") + ("'" + tensor(t).name() + "'");
      if (named.empty()) throw;
      throw NumericError(fmt::format("{} (inputs {})", e.what(), named));
    }
  }
  auto node = new_node<T>(std::move(value));
  node->op = op;
  const bool needs = g_grad_enabled && std::any_of(inputs.begin(), inputs.end(), [&](const auto& t) {
                       return tensor(t).requires_grad();
                     });
  if (needs) {
    node->requires_grad = true;
    node->inputs.reserve(inputs.size());
    for (const auto& t : inputs) node->inputs.push_back({tensor(t).node(), tensor(t).node()->version});
    node->backward = backward;
    node->saved = std::move(saved);
  }
  return TensorT<T>(std::move(node));
}

template <class T>
TensorT<T> make_result(const char* op, Array<T>&& value,
                       std::initializer_list<const TensorT<T>*> inputs, Backward<T> backward,
                       Saved<T>&& saved) {
  return finish_result<T>(op, std::move(value), inputs, [](const TensorT<T>* t) -> const TensorT<T>& { return *t; },
                          backward, std::move(saved));
}

template <class T>
TensorT<T> make_result(const char* op, Array<T>&& value, std::span<const TensorT<T>> inputs,
                       Backward<T> backward, Saved<T>&& saved) {
  return finish_result<T>(op, std::move(value), inputs, [](const TensorT<T>& t) -> const TensorT<T>& { return t; },
                          backward, std::move(saved));
}

template <class T>
TensorT<T> reads_no_inputs(TensorT<T> result) {
  for (auto& e : result.node()->inputs) e.version = kUnchecked;
  return result;
}

GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = previous_; }

OpName::OpName(const char* name) : previous_(g_op_name) {
  if (!g_op_name) g_op_name = name;  // the outermost composite names everything inside it
}
OpName::~OpName() { g_op_name = previous_; }

}  // namespace detail

// ---- TensorT --------------------------------------------------------------------

template <class T>
TensorT<T>::TensorT() : TensorT(Array(T(0))) {}

template <class T>
TensorT<T>::TensorT(Array value, bool requires_grad) : node_(detail::new_node<T>(std::move(value))) {
  node_->requires_grad = requires_grad;
}

template <class T>
TensorT<T>::TensorT(T value) : TensorT(Array(value)) {}

template <class T>
TensorT<T>::TensorT(std::shared_ptr<Node> node) : node_(std::move(node)) {
  if (!node_) throw Error("Tensor: null node");
}

template <class T>
Shape TensorT<T>::shape() const {
  return detail::shape_of(node_->value);
}

template <class T>
T TensorT<T>::item() const {
  if (size() != 1)
    throw ValueError(fmt::format("item: tensor of shape {} has {} entries, not 1",
                                 to_string(shape()), size()));
  return node_->value.data()[0];
}

template <class T>
const typename TensorT<T>::Array& TensorT<T>::grad() const {
  if (node_->has_grad) return node_->grad;
  const std::string who = fmt::format("tensor{} of shape {}", name().empty() ? "" : " '" + name() + "'",
                                      to_string(shape()));
  if (node_->op && !node_->retains_grad)
    throw Error(fmt::format("grad: {} is the result of {}, whose gradient is not kept; call "
                            "retain_grad() on it before backward()", who, op()));
  if (!node_->op && !node_->requires_grad)
    throw Error(fmt::format("grad: {} does not require a gradient; call set_requires_grad() on it "
                            "before computing with it", who));
  throw Error(fmt::format("grad: {} has no gradient yet (call backward first)", who));
}

template <class T>
typename TensorT<T>::Array& TensorT<T>::mutable_value() {
  ++node_->version;  // an op that read the old value must not back-propagate through it now
  return node_->value;
}

template <class T>
TensorT<T>& TensorT<T>::retain_grad() {
  node_->retains_grad = true;
  return *this;
}

template <class T>
typename TensorT<T>::Array& TensorT<T>::grad() {
  return const_cast<Array&>(std::as_const(*this).grad());
}

template <class T>
void TensorT<T>::zero_grad() {
  node_->grad_graph.reset();  // also breaks a leaf's cycle with its differentiable gradient
  if (node_->has_grad) std::fill(node_->grad.begin(), node_->grad.end(), T(0));
}

template <class T>
TensorT<T> TensorT<T>::grad_tensor() const {
  if (node_->grad_graph) return TensorT(node_->grad_graph);
  return TensorT(grad());  // a constant copy, or grad()'s error
}

template <class T>
TensorT<T>& TensorT<T>::set_requires_grad(bool on) {
  if (node_->backward || node_->op)
    throw Error(fmt::format("set_requires_grad: the result of {} is not a leaf; "
                            "detach() it first", op()));
  node_->requires_grad = on;
  return *this;
}

template <class T>
TensorT<T>& TensorT<T>::set_name(std::string name) {
  node_->name = std::move(name);
  return *this;
}

template <class T>
TensorT<T> TensorT<T>::detach() const {
  return TensorT(node_->value);
}

template <class T>
TensorT<T> TensorT<T>::clone() const {
  Array copy = node_->value;
  return detail::reads_no_inputs(detail::make_result<T>("clone", std::move(copy), {this}, {[](Node& out) {
    detail::accumulate_grad(detail::in(out, 0), static_cast<const Array&>(out.grad));
  }, [](detail::GraphGrad<T>& c) { c.add(0, c.g); }}));
}

template <class T>
void TensorT<T>::backward(bool retain_graph) const {
  if (size() != 1)
    throw Error(fmt::format("backward: the root has shape {}; a non-scalar root needs an "
                            "explicit seed of that shape", to_string(shape())));
  Array seed = detail::new_array<T>(node_->value.shape());
  seed.fill(T(1));
  detail::run_backward(node_, std::move(seed), retain_graph);
}

template <class T>
void TensorT<T>::backward(const BackwardOptions& options) const {
  if (size() != 1)
    throw Error(fmt::format("backward: the root has shape {}; a non-scalar root needs an "
                            "explicit seed of that shape", to_string(shape())));
  Array seed = detail::new_array<T>(node_->value.shape());
  seed.fill(T(1));
  backward(seed, options);
}

template <class T>
void TensorT<T>::backward(const Array& seed, const BackwardOptions& options) const {
  if (!detail::shapes_equal(seed, node_->value))
    throw ShapeError(fmt::format("backward: seed shape {} differs from the root's shape {}",
                                 to_string(detail::shape_of(seed)), to_string(shape())));
  if (!options.create_graph) return detail::run_backward(node_, Array(seed), options.retain_graph.value_or(false));
  // Recorded as ops (src/autograd_graph.cpp): the leaves' gradients get a graph.
  detail::graph_backward<T>({*this}, {TensorT(Array(seed))}, {}, GradOptions{.create_graph = true,
                                                                     .retain_graph = options.retain_graph});
}

template <class T>
std::string to_string(const TensorT<T>& t) {
  // Nested brackets like NumPy; at most 6 entries per dimension are shown.
  const auto& a = t.value();
  const Shape shape = t.shape();
  std::string out = "tensor(";
  std::vector<std::size_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  std::function<void(std::size_t, std::size_t)> emit = [&](std::size_t dim, std::size_t offset) {
    if (dim == shape.size()) {
      out += fmt::format("{:.6g}", a.data()[offset]);
      return;
    }
    out += '[';
    for (std::size_t i = 0; i < shape[dim]; ++i) {
      if (shape[dim] > 6 && i == 3) {
        out += "..., ";
        i = shape[dim] - 3;
      }
      emit(dim + 1, offset + i * strides[dim]);
      if (i + 1 < shape[dim]) out += ", ";
    }
    out += ']';
  };
  emit(0, 0);
  out += fmt::format(", shape={}", to_string(shape));
  if (t.requires_grad()) out += ", requires_grad";
  return out + ")";
}

#define SLOPE_INSTANTIATE(T)                                                                    \
  template class TensorT<T>;                                                                    \
  template struct detail::Node<T>;                                                              \
  template void detail::check_finite<T>(const Array<T>&, const char*, const char*);             \
  template void detail::check_finite<T>(const T*, std::size_t, const Shape&, const char*, const char*); \
  template TensorT<T> detail::reads_no_inputs<T>(TensorT<T>);                                  \
  template TensorT<T> detail::make_result<T>(const char*, Array<T>&&,                           \
                                             std::initializer_list<const TensorT<T>*>,          \
                                             detail::Backward<T>, detail::Saved<T>&&);          \
  template TensorT<T> detail::make_result<T>(const char*, Array<T>&&, std::span<const TensorT<T>>,  \
                                             detail::Backward<T>, detail::Saved<T>&&);          \
  template std::string to_string<T>(const TensorT<T>&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
