// The tensor handle, creation functions, grad mode, and the backward engine.
#include "slope/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

#include "op_support.hpp"

namespace slope {

namespace {
thread_local bool g_grad_enabled = true;
thread_local bool g_anomaly = false;
thread_local const char* g_backward_op = nullptr;  // op whose backward is running
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
  std::vector<std::shared_ptr<Node>> pending = std::move(inputs);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    if (n && n.use_count() == 1) {
      for (auto& child : n->inputs) pending.push_back(std::move(child));
      n->inputs.clear();
    }
  }
}

std::size_t normalize_axis(int axis, std::size_t ndim, const char* op, const Shape& shape) {
  const long a = axis < 0 ? axis + static_cast<long>(ndim) : axis;
  if (a < 0 || a >= static_cast<long>(ndim))
    throw ShapeError(fmt::format("{}: axis {} is out of range for shape {}", op, axis,
                                 to_string(shape)));
  return static_cast<std::size_t>(a);
}

template <class T>
void check_finite(const xt::xarray<T>& a, const char* op, const char* what) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const T x = a.data()[i];
    if (!std::isfinite(x))
      throw NumericError(fmt::format("anomaly: {} of {} produced {} (entry {} of shape {})", what,
                                     op, std::isnan(x) ? "NaN" : "Inf", i,
                                     to_string(shape_of(a))));
  }
}

template <class T>
TensorT<T> make_result(const char* op, xt::xarray<T>&& value,
                       std::initializer_list<const TensorT<T>*> inputs,
                       std::function<void(Node<T>&)> backward) {
  if (g_anomaly) check_finite(value, op, "forward");
  auto node = std::make_shared<Node<T>>();
  node->value = std::move(value);
  node->op = op;
  const bool needs =
      g_grad_enabled && std::any_of(inputs.begin(), inputs.end(),
                                    [](const TensorT<T>* t) { return t->requires_grad(); });
  if (needs) {
    node->requires_grad = true;
    node->inputs.reserve(inputs.size());
    for (const TensorT<T>* t : inputs) node->inputs.push_back(t->node());
    node->backward = std::move(backward);
  }
  return TensorT<T>(std::move(node));
}

// Sums g over the dimensions along which a value of `target` shape was
// broadcast: leading extra dimensions, and dimensions where target has 1.
template <class T>
static xt::xarray<T> unbroadcast(const xt::xarray<T>& g, const Shape& target, const char* op) {
  const Shape gs = shape_of(g);
  const auto fail = [&] {
    return ShapeError(fmt::format("backward of {}: gradient of shape {} does not reduce to {}",
                                  op ? op : "?", to_string(gs), to_string(target)));
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
  xt::xarray<T> r = xt::zeros<T>(target);
  std::vector<std::size_t> index(gs.size(), 0);
  std::size_t offset = 0;
  for (std::size_t flat = 0; flat < g.size(); ++flat) {
    r.data()[offset] += g.data()[flat];
    // Advance the multi-index like an odometer, keeping the result offset in step.
    for (std::size_t d = gs.size(); d-- > 0;) {
      offset += stride[d];
      if (++index[d] < gs[d]) break;
      offset -= stride[d] * gs[d];
      index[d] = 0;
    }
  }
  return r;
}

template <class T>
static bool same_shape(const xt::xarray<T>& a, const xt::xarray<T>& b) {
  return std::equal(a.shape().begin(), a.shape().end(), b.shape().begin(), b.shape().end());
}

template <class T>
void accumulate_grad(Node<T>& node, xt::xarray<T>&& g) {
  if (!node.has_grad && same_shape(g, node.value)) {
    if (g_anomaly) check_finite(g, g_backward_op ? g_backward_op : "backward", "backward");
    node.grad = std::move(g);
    node.has_grad = true;
    return;
  }
  accumulate_grad(node, static_cast<const xt::xarray<T>&>(g));
}

template <class T>
void accumulate_grad(Node<T>& node, const xt::xarray<T>& g) {
  if (g_anomaly) check_finite(g, g_backward_op ? g_backward_op : "backward", "backward");
  if (!same_shape(g, node.value)) {
    xt::xarray<T> reduced = unbroadcast(g, shape_of(node.value), g_backward_op);
    return accumulate_grad(node, std::move(reduced));
  }
  if (!node.has_grad) {
    node.grad = g;
    node.has_grad = true;
    return;
  }
  // A tensor used twice gets both contributions.
  T* dst = node.grad.data();
  const T* src = g.data();
  for (std::size_t i = 0, n = g.size(); i < n; ++i) dst[i] += src[i];
}

template <class T>
static void run_backward(const std::shared_ptr<Node<T>>& root, xt::xarray<T>&& seed, bool retain) {
  if (!root->requires_grad)
    throw Error("backward: this tensor does not require a gradient (no input of the graph does)");
  // Iterative depth-first post-order over nodes that need a gradient: every
  // node comes after all of its inputs. Inputs are visited in argument order,
  // so the order (and the floating-point summation order) is deterministic.
  std::vector<std::shared_ptr<Node<T>>> order;
  std::unordered_set<const Node<T>*> seen{root.get()};
  std::vector<std::pair<std::shared_ptr<Node<T>>, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      const std::shared_ptr<Node<T>>& child = n->inputs[next++];
      if (child->requires_grad && seen.insert(child.get()).second) stack.emplace_back(child, 0);
      continue;
    }
    if (n->released)
      throw Error(fmt::format(
          "backward: the graph through {} was freed by an earlier backward(); "
          "pass retain_graph = true to the first call to go through it twice",
          n->op ? n->op : "a tensor"));
    order.push_back(std::move(n));
    stack.pop_back();
  }
  g_backward_op = root->op;
  accumulate_grad(*root, std::move(seed));
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node<T>& n = **it;
    if (!n.backward || !n.has_grad) continue;  // a leaf, or nothing reached it
    g_backward_op = n.op;
    n.backward(n);
    // Interior gradients are not kept; leaves keep theirs.
    n.grad = xt::xarray<T>();
    n.has_grad = false;
    if (!retain) {
      n.backward = nullptr;
      n.inputs.clear();
      n.released = true;
    }
  }
  g_backward_op = nullptr;
}

}  // namespace detail

// ---- TensorT --------------------------------------------------------------------

template <class T>
TensorT<T>::TensorT() : TensorT(xt::xarray<T>(T(0))) {}

template <class T>
TensorT<T>::TensorT(Array value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

template <class T>
TensorT<T>::TensorT(xt::nested_initializer_list_t<T, 1> values) : TensorT(Array(values)) {}
template <class T>
TensorT<T>::TensorT(xt::nested_initializer_list_t<T, 2> values) : TensorT(Array(values)) {}

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
  if (!node_->has_grad)
    throw Error(fmt::format("grad: tensor{} of shape {} has no gradient (call backward first)",
                            name().empty() ? "" : " '" + name() + "'", to_string(shape())));
  return node_->grad;
}

template <class T>
typename TensorT<T>::Array& TensorT<T>::grad() {
  return const_cast<Array&>(std::as_const(*this).grad());
}

template <class T>
void TensorT<T>::zero_grad() {
  if (node_->has_grad) std::fill(node_->grad.begin(), node_->grad.end(), T(0));
}

template <class T>
TensorT<T>& TensorT<T>::set_requires_grad(bool on) {
  if (node_->backward)
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
  return detail::make_result<T>("clone", std::move(copy), {this}, [](Node& out) {
    detail::accumulate_grad(detail::in(out, 0), Array(out.grad));
  });
}

template <class T>
void TensorT<T>::backward(bool retain_graph) const {
  if (size() != 1)
    throw Error(fmt::format("backward: the root has shape {}; a non-scalar root needs an "
                            "explicit seed of that shape", to_string(shape())));
  Array seed = xt::ones<T>(node_->value.shape());
  detail::run_backward(node_, std::move(seed), retain_graph);
}

template <class T>
void TensorT<T>::backward(const Array& seed, bool retain_graph) const {
  if (detail::shape_of(seed) != shape())
    throw ShapeError(fmt::format("backward: seed shape {} differs from the root's shape {}",
                                 to_string(detail::shape_of(seed)), to_string(shape())));
  detail::run_backward(node_, Array(seed), retain_graph);
}

// ---- creation ----------------------------------------------------------------------

template <class T>
TensorT<T> full(const Shape& shape, T value, bool requires_grad) {
  xt::xarray<T> a(shape);
  a.fill(value);
  return TensorT<T>(std::move(a), requires_grad);
}
template <class T>
TensorT<T> zeros(const Shape& shape, bool requires_grad) {
  return full<T>(shape, T(0), requires_grad);
}
template <class T>
TensorT<T> ones(const Shape& shape, bool requires_grad) {
  return full<T>(shape, T(1), requires_grad);
}
template <class T>
TensorT<T> scalar(T value, bool requires_grad) {
  return TensorT<T>(xt::xarray<T>(value), requires_grad);
}
template <class T>
TensorT<T> randn(const Shape& shape, Rng& rng, double stddev, double mean, bool requires_grad) {
  xt::xarray<T> a(shape);
  for (auto& x : a) x = static_cast<T>(mean + stddev * rng.normal());
  return TensorT<T>(std::move(a), requires_grad);
}
template <class T>
TensorT<T> uniform(const Shape& shape, double lo, double hi, Rng& rng, bool requires_grad) {
  xt::xarray<T> a(shape);
  for (auto& x : a) x = static_cast<T>(rng.uniform(lo, hi));
  return TensorT<T>(std::move(a), requires_grad);
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
  template void detail::accumulate_grad<T>(detail::Node<T>&, xt::xarray<T>&&);                  \
  template void detail::accumulate_grad<T>(detail::Node<T>&, const xt::xarray<T>&);             \
  template void detail::check_finite<T>(const xt::xarray<T>&, const char*, const char*);        \
  template TensorT<T> detail::make_result<T>(const char*, xt::xarray<T>&&,                      \
                                             std::initializer_list<const TensorT<T>*>,          \
                                             std::function<void(detail::Node<T>&)>);            \
  template TensorT<T> full<T>(const Shape&, T, bool);                                           \
  template TensorT<T> zeros<T>(const Shape&, bool);                                             \
  template TensorT<T> ones<T>(const Shape&, bool);                                              \
  template TensorT<T> scalar<T>(T, bool);                                                       \
  template TensorT<T> randn<T>(const Shape&, Rng&, double, double, bool);                       \
  template TensorT<T> uniform<T>(const Shape&, double, double, Rng&, bool);                     \
  template std::string to_string<T>(const TensorT<T>&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
