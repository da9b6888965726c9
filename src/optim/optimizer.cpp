#include "slope/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace slope::optim {

double OptimizerState::scalar(const std::string& name) const {
  auto it = scalars.find(name);
  if (it == scalars.end())
    throw ValueError(fmt::format("load_state: {} state has no scalar '{}'", kind, name));
  return it->second;
}

void check_option(bool ok, std::string_view who, std::string_view option, std::string_view what,
                  double value) {
  if (!ok) throw ValueError(fmt::format("{}: {} must be {}: got {}", who, option, what, value));
}

template <class T>
Optimizer<T>::Optimizer(std::string_view who, std::vector<TensorT<T>> params, double lr)
    : params_(std::move(params)), lr_(lr) {
  check_option(lr >= 0.0, who, "lr", ">= 0", lr);
  if (params_.empty()) throw ValueError(fmt::format("{}: the parameter list is empty", who));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].requires_grad())
      throw ValueError(fmt::format("{}: parameter {} ({}) does not require a gradient", who, i,
                                   params_[i].name().empty() ? "unnamed" : params_[i].name()));
  }
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

template <class T>
void Optimizer<T>::set_lr(double lr) {
  check_option(lr >= 0.0, name(), "lr", ">= 0", lr);
  lr_ = lr;
}

template <class T>
void Optimizer<T>::register_buffer(std::string name, std::vector<xt::xarray<T>>* buffers, double init) {
  buffers_.push_back({std::move(name), buffers, init});
}

template <class T>
bool Optimizer<T>::ensure_buffers() {
  bool allocated = false;
  for (auto& b : buffers_) {
    if (!b.buffers->empty()) continue;
    b.buffers->reserve(params_.size());
    for (const auto& p : params_) {
      xt::xarray<T> a = xt::xarray<T>::from_shape(p.value().shape());
      a.fill(static_cast<T>(b.init));
      b.buffers->push_back(std::move(a));
    }
    allocated = true;
  }
  return allocated;
}

template <class T>
void Optimizer<T>::begin_step() {
  grads_.resize(params_.size());  // allocates on the first step only
  for (std::size_t i = 0; i < params_.size(); ++i) grads_[i] = grad_or_null(i);
  prepare();
}

template <class T>
void Optimizer<T>::update(std::size_t i, std::size_t lo, std::size_t hi) {
  if (!grads_[i]) return;
  apply(i, params_[i].value().data(), grads_[i], lo, std::min(hi, params_[i].size()));
}

template <class T>
void Optimizer<T>::step() {
  begin_step();
  for (std::size_t i = 0; i < params_.size(); ++i) update(i, 0, params_[i].size());
}

template <class T>
const T* Optimizer<T>::grad_or_null(std::size_t i) {
  TensorT<T>& p = params_[i];
  if (!p.has_grad()) return nullptr;
  const auto& g = p.grad();
  if (g.size() != p.value().size())
    throw ShapeError(fmt::format("{}: gradient of parameter {} has shape {}, value has {}", name(), i,
                                 to_string(Shape(g.shape().begin(), g.shape().end())),
                                 to_string(p.shape())));
  return g.data();
}

template <class T>
OptimizerState Optimizer<T>::state() const {
  OptimizerState s;
  s.kind = std::string(name());
  s.scalars["lr"] = lr_;
  s.scalars["step"] = static_cast<double>(step_);
  for (const auto& b : buffers_) {
    if (b.buffers->empty()) continue;
    auto& out = s.tensors[b.name];
    for (const auto& a : *b.buffers) out.push_back(xt::xarray<double>(xt::cast<double>(a)));
  }
  return s;
}

template <class T>
void Optimizer<T>::load_state(const OptimizerState& s) {
  if (s.kind != name())
    throw ValueError(fmt::format("{}: load_state: the state is of a {} optimizer", name(), s.kind));
  const double lr = s.scalar("lr");
  const double step = s.scalar("step");
  check_option(lr >= 0.0, name(), "lr", ">= 0", lr);
  check_option(step >= 0.0 && step == std::floor(step), name(), "step", "a count", step);
  std::set<std::string> known;
  for (const auto& b : buffers_) known.insert(b.name);
  for (const auto& [key, arrays] : s.tensors) {
    if (!known.count(key))
      throw ValueError(fmt::format("{}: load_state: unexpected buffer '{}' (other options?)", name(), key));
    if (arrays.size() != params_.size())
      throw ValueError(fmt::format("{}: load_state: buffer '{}' has {} entries for {} parameters", name(),
                                   key, arrays.size(), params_.size()));
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      Shape want = params_[i].shape();
      Shape got(arrays[i].shape().begin(), arrays[i].shape().end());
      if (want != got)
        throw ShapeError(fmt::format("{}: load_state: buffer '{}' entry {} is {}, parameter is {}", name(),
                                     key, i, to_string(got), to_string(want)));
    }
  }
  // Everything checked: now change this optimizer.
  lr_ = lr;
  step_ = static_cast<std::int64_t>(step);
  for (auto& b : buffers_) {
    b.buffers->clear();
    auto it = s.tensors.find(b.name);
    if (it == s.tensors.end()) continue;  // not allocated yet: the next step allocates it
    for (const auto& a : it->second) b.buffers->push_back(xt::xarray<T>(xt::cast<T>(a)));
  }
}

template <class T>
double clip_grad_norm(const std::vector<TensorT<T>>& params, double max_norm) {
  check_option(max_norm >= 0.0, "clip_grad_norm", "max_norm", ">= 0", max_norm);
  double sq = 0.0;
  for (const auto& p : params) {
    if (!p.has_grad()) continue;
    const auto& g = p.grad();
    const T* gp = g.data();
    for (std::size_t j = 0, n = g.size(); j < n; ++j) sq += static_cast<double>(gp[j]) * gp[j];
  }
  const double norm = std::sqrt(sq);
  const double coef = max_norm / (norm + 1e-6);  // torch's 1e-6 keeps a zero norm finite
  if (coef < 1.0) {
    for (auto p : params) {  // a handle copy: grad() of the shared node is mutable
      if (!p.has_grad()) continue;
      auto& g = p.grad();
      T* gp = g.data();
      for (std::size_t j = 0, n = g.size(); j < n; ++j) gp[j] = static_cast<T>(gp[j] * coef);
    }
  }
  return norm;
}

template class Optimizer<float>;
template class Optimizer<double>;
template double clip_grad_norm(const std::vector<TensorT<float>>&, double);
template double clip_grad_norm(const std::vector<TensorT<double>>&, double);

}  // namespace slope::optim
