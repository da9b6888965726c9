// The module contract: registration, names, modes and conversion.
#include "slope/nn/module.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <typeinfo>
#include <unordered_set>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope::nn {

template <class T>
Module<T>::Module() : state_(std::make_shared<detail::ModuleState<T>>()) {}

template <class T>
TensorT<T> Module<T>::forward(const TensorT<T>&) const {
  throw Error(fmt::format("{}: forward(x) is not defined; override it to call the module "
                          "(and to train it with the Trainer)", type_name()));
}

template <class T>
void Module<T>::check_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(fmt::format("{}: a parameter or submodule name must be non-empty and "
                                 "without '.': got '{}'", type_name(), name));
  const auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  if (taken(state_->params) || taken(state_->children))
    throw ValueError(fmt::format("{}: the name '{}' is already registered", type_name(), name));
}

template <class T>
TensorT<T> Module<T>::register_parameter(const std::string& name, TensorT<T> tensor) {
  check_name(name);
  if (!tensor.requires_grad())
    throw ValueError(fmt::format("{}: parameter '{}' does not require a gradient", type_name(), name));
  if (tensor.name().empty()) tensor.set_name(name);  // until name_parameters() gives the full path
  state_->params.emplace_back(name, tensor);
  return tensor;
}

template <class T>
void Module<T>::collect(const std::string& prefix, std::vector<NamedTensor<T>>& out) const {
  for (const auto& [name, t] : state_->params) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : state_->children) child->collect(prefix + name + ".", out);
}

template <class T>
std::vector<NamedTensor<T>> Module<T>::named_parameters() const {
  std::vector<NamedTensor<T>> all, unique;
  collect("", all);
  std::unordered_set<const void*> seen;
  for (auto& e : all)
    if (seen.insert(e.second.node().get()).second) unique.push_back(std::move(e));
  return unique;
}

template <class T>
std::vector<TensorT<T>> Module<T>::parameters() const {
  std::vector<TensorT<T>> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

template <class T>
const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& Module<T>::children() const {
  return state_->children;
}

template <class T>
void Module<T>::train(bool on) {
  state_->training = on;
  for (auto& [name, child] : state_->children) child->train(on);
}

template <class T>
void Module<T>::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

template <class T>
std::string Module<T>::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* text = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && text ? text : mangled;
  std::free(text);
  // "slope::nn::Linear<float>" -> "Linear"; "ResidualNet<float>" -> "ResidualNet".
  if (const auto lt = name.find('<'); lt != std::string::npos) name.erase(lt);
  if (const auto colon = name.rfind("::"); colon != std::string::npos) name.erase(0, colon + 2);
  return name;
}

template <class T>
std::string Module<T>::describe() const {
  std::string out = type_name() + "(";
  bool first = true;
  for (const auto& [name, t] : state_->params) {
    out += fmt::format("{}{}: {}", first ? "" : ", ", name, to_string(t.shape()));
    first = false;
  }
  for (const auto& [name, child] : state_->children) {
    out += fmt::format("{}{}: {}", first ? "" : ", ", name, child->describe());
    first = false;
  }
  return out + ")";
}

template <class T>
std::vector<NamedTensor<T>> named_weights(const Module<T>& m) {
  std::vector<NamedTensor<T>> out;
  for (auto& e : m.named_parameters())
    if (e.second.dim() >= 2) out.push_back(std::move(e));
  return out;
}

template <class T>
std::vector<TensorT<T>> weights(const Module<T>& m) {
  std::vector<TensorT<T>> out;
  for (auto& [name, t] : named_weights(m)) out.push_back(t);
  return out;
}

template <class T>
void name_parameters(const Module<T>& m) {
  for (auto [name, t] : m.named_parameters()) t.set_name(name);
}

template <class T, class U>
void copy_parameters(const Module<T>& from, Module<U>& to) {
  const auto src = from.named_parameters();
  auto dst = to.named_parameters();
  const auto find = [](const auto& list, const std::string& name) {
    return std::find_if(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  for (const auto& [name, t] : src)
    if (find(dst, name) == dst.end())
      throw ValueError(fmt::format("copy_parameters: '{}' of {} has no counterpart in {}", name,
                                   from.type_name(), to.type_name()));
  for (const auto& [name, t] : dst) {
    const auto it = find(src, name);
    if (it == src.end())
      throw ValueError(fmt::format("copy_parameters: '{}' of {} has no counterpart in {}", name,
                                   to.type_name(), from.type_name()));
    if (it->second.shape() != t.shape())
      throw ShapeError(fmt::format("copy_parameters: '{}' is {} in {} but {} in {}", name,
                                   to_string(it->second.shape()), from.type_name(),
                                   to_string(t.shape()), to.type_name()));
  }
  for (auto& [name, t] : dst) {
    const TensorT<T>& s = find(src, name)->second;
    U* out = t.mutable_value().data();
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = static_cast<U>(s.data()[i]);
  }
}

template class Module<float>;
template class Module<double>;
template std::vector<NamedTensor<float>> named_weights(const Module<float>&);
template std::vector<NamedTensor<double>> named_weights(const Module<double>&);
template std::vector<TensorT<float>> weights(const Module<float>&);
template std::vector<TensorT<double>> weights(const Module<double>&);
template void name_parameters(const Module<float>&);
template void name_parameters(const Module<double>&);
template void copy_parameters(const Module<float>&, Module<double>&);
template void copy_parameters(const Module<double>&, Module<float>&);
template void copy_parameters(const Module<float>&, Module<float>&);
template void copy_parameters(const Module<double>&, Module<double>&);

}  // namespace slope::nn
