#include "slope/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "../parallel.hpp"

namespace slope::optim {

double OptimizerState::scalar(const std::string& name) const {
  auto it = scalars.find(name);
  if (it == scalars.end())
    throw ValueError(fmt::format("load_state: {} state has no scalar '{}'", kind, name));
  return it->second;
}

void check_option(bool ok, std::string_view who, std::string_view option, std::string_view what,
                  double value) {
  if (!ok || !std::isfinite(value))
    throw ValueError(fmt::format("{}: {} must be {}: got {}", who, option, what, value));
}

template <class T>
Params<T>::Params(std::vector<TensorT<T>> tensors) {
  ParamGroup<T> g;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    g.params.emplace_back(tensors[i].name().empty() ? std::to_string(i) : tensors[i].name(), tensors[i]);
  groups.push_back(std::move(g));
}
template <class T>
Params<T>::Params(std::initializer_list<TensorT<T>> tensors) : Params(std::vector<TensorT<T>>(tensors)) {}
template <class T>
Params<T>::Params(std::vector<NamedTensor<T>> named) {
  groups.push_back(ParamGroup<T>{std::move(named), std::nullopt, 1.0});
}
template <class T>
Params<T>::Params(std::vector<ParamGroup<T>> g) : groups(std::move(g)) {}

template <class T>
Optimizer<T>::Optimizer(std::string_view who, Params<T> params, double lr) : lr_(lr), who_(who) {
  check_option(lr >= 0.0, who, "lr", ">= 0", lr);
  std::set<std::string> names;
  std::set<const void*> nodes;
  for (std::size_t k = 0; k < params.groups.size(); ++k) {
    const ParamGroup<T>& g = params.groups[k];
    if (g.weight_decay) check_option(*g.weight_decay >= 0.0, who, fmt::format("group {} weight_decay", k), ">= 0", *g.weight_decay);
    check_option(g.lr_scale >= 0.0, who, fmt::format("group {} lr_scale", k), ">= 0", g.lr_scale);
    for (const auto& [name, t] : g.params) {
      const std::string label = name.empty() ? "unnamed" : name;
      if (!t.requires_grad())
        throw ValueError(fmt::format("{}: parameter '{}' does not require a gradient", who, label));
      if (name.empty()) throw ValueError(fmt::format("{}: a parameter has an empty name", who));
      if (!names.insert(name).second)
        throw ValueError(fmt::format("{}: two parameters are named '{}' (state is kept by name; "
                                     "pass a module's named_parameters())", who, name));
      if (!nodes.insert(t.node().get()).second)
        throw ValueError(fmt::format("{}: parameter '{}' is listed twice", who, name));
      params_.push_back(t);
      names_.push_back(name);
      decay_.push_back(g.weight_decay);
      scale_.push_back(g.lr_scale);
    }
  }
  if (params_.empty()) throw ValueError(fmt::format("{}: the parameter list is empty", who));
  std::size_t at = 0;
  for (const auto& p : params_) {
    starts_.push_back(at);
    at += p.size();
  }
  starts_.push_back(at);
}

template <class T>
void Optimizer<T>::check_decay(double weight_decay) const {
  check_option(weight_decay >= 0.0, who_, "weight_decay", ">= 0", weight_decay);
}

template <class T>
double Optimizer<T>::weight_decay(std::size_t i, double fallback) const {
  return decay_[i].value_or(fallback);
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
  // The update writes every parameter with a gradient in place: a graph that
  // used the old values must not be back-propagated any more.
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (grads_[i]) ++params_[i].node()->version;
  prepare();
}

template <class T>
void Optimizer<T>::update(std::size_t i, std::size_t lo, std::size_t hi) {
  if (!grads_[i]) return;
  // Straight into the node: begin_step() moved every version on once (this
  // runs per slice, from several threads).
  apply(i, params_[i].node()->value.data(), grads_[i], lo, std::min(hi, params_[i].size()));
}

template <class T>
void Optimizer<T>::step() {
  begin_step();
  // The entries of all parameters in a row, cut into parts for the threads;
  // each part updates the slices of the parameters it covers.
  const std::size_t total = starts_.back();
  detail::parallel_for(total, std::size_t{1} << 16, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const std::size_t a = std::max(lo, starts_[i]), b = std::min(hi, starts_[i + 1]);
      if (a < b) update(i, a - starts_[i], b - starts_[i]);
    }
  });
}

template <class T>
const T* Optimizer<T>::grad_or_null(std::size_t i) {
  TensorT<T>& p = params_[i];
  if (!p.has_grad()) return nullptr;
  const auto& g = p.grad();
  if (g.size() != p.value().size())
    throw ShapeError(fmt::format("{}: gradient of parameter '{}' has shape {}, value has {}", name(),
                                 names_[i], to_string(Shape(g.shape().begin(), g.shape().end())),
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
    for (std::size_t i = 0; i < params_.size(); ++i)
      s.params[names_[i]][b.name] = xt::xarray<double>(xt::cast<double>((*b.buffers)[i]));
  }
  return s;
}

template <class T>
void Optimizer<T>::load_state(const OptimizerState& s) {
  const std::string who(name());
  if (s.kind != name())
    throw ValueError(fmt::format("{}: load_state: the state is of a {} optimizer", who, s.kind));
  const double lr = s.scalar("lr");
  const double step = s.scalar("step");
  check_option(lr >= 0.0, who, "lr", ">= 0", lr);
  check_option(step >= 0.0 && step == std::floor(step) && step <= 9007199254740992.0, who, "step",
               "a count", step);
  std::set<std::string> known;
  for (const auto& b : buffers_) known.insert(b.name);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < names_.size(); ++i) index[names_[i]] = i;
  std::map<std::string, std::size_t> holders;  // buffer name -> parameters that have it
  for (const auto& [pname, bufs] : s.params) {
    const auto at = index.find(pname);
    if (at == index.end())
      throw ValueError(fmt::format("{}: load_state: the state has buffers for '{}', which is not one "
                                   "of this optimizer's parameters", who, pname));
    const Shape want = params_[at->second].shape();
    for (const auto& [bname, a] : bufs) {
      if (!known.count(bname))
        throw ValueError(fmt::format("{}: load_state: unexpected buffer '{}' of '{}' (other options?)",
                                     who, bname, pname));
      const Shape got(a.shape().begin(), a.shape().end());
      if (got != want)
        throw ShapeError(fmt::format("{}: load_state: buffer '{}' of '{}' is {}, the parameter is {}",
                                     who, bname, pname, to_string(got), to_string(want)));
      for (double v : a)
        if (!std::isfinite(v))
          throw NumericError(fmt::format("{}: load_state: buffer '{}' of '{}' holds {}", who, bname,
                                         pname, std::isnan(v) ? "NaN" : "Inf"));
      ++holders[bname];
    }
  }
  for (const auto& [bname, count] : holders)
    if (count != params_.size())
      throw ValueError(fmt::format("{}: load_state: buffer '{}' is given for {} of the {} parameters "
                                   "(all or none)", who, bname, count, params_.size()));
  // Everything checked: now change this optimizer.
  lr_ = lr;
  step_ = static_cast<std::int64_t>(step);
  for (auto& b : buffers_) {
    b.buffers->clear();
    if (!holders.count(b.name)) continue;  // not allocated yet: the next step allocates it
    for (std::size_t i = 0; i < params_.size(); ++i)
      b.buffers->push_back(xt::xarray<T>(xt::cast<T>(s.params.at(names_[i]).at(b.name))));
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

template struct Params<float>;
template struct Params<double>;
template class Optimizer<float>;
template class Optimizer<double>;
template double clip_grad_norm(const std::vector<TensorT<float>>&, double);
template double clip_grad_norm(const std::vector<TensorT<double>>&, double);

}  // namespace slope::optim
