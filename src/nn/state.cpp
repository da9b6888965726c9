// state_dict in memory and in safetensors files.
#include "slope/nn/state.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope::nn {

template <class T>
io::TensorFile state_dict(const Module<T>& m, const std::map<std::string, std::string>& extra) {
  io::TensorFile f;
  for (const auto& [name, t] : m.named_parameters())
    f.tensors[name] = io::Array::from<T>(std::span(t.data(), t.size()), t.shape());
  f.metadata = extra;
  f.metadata["slope.architecture"] = m.describe();
  return f;
}

template <class T>
void load_state_dict(Module<T>& m, const io::TensorFile& file, const std::string& origin) {
  auto params = m.named_parameters();
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, t] : params)
    if (!file.tensors.count(name)) missing.push_back(name);
  for (const auto& entry : file.tensors)  // not a structured binding: clang 14 cannot capture one
    if (std::none_of(params.begin(), params.end(), [&](const auto& p) { return p.first == entry.first; }))
      unexpected.push_back(entry.first);
  if (!missing.empty() || !unexpected.empty())
    throw ValueError(fmt::format("{}: does not match {}: missing {}; unexpected {}", origin, m.type_name(),
                                 missing.empty() ? "none" : fmt::format("{}", fmt::join(missing, ", ")),
                                 unexpected.empty() ? "none" : fmt::format("{}", fmt::join(unexpected, ", "))));
  // Check everything before changing anything.
  std::vector<std::vector<T>> values;
  for (const auto& [name, t] : params) {
    const io::Array& a = file.tensors.at(name);
    if (a.shape != t.shape())
      throw ShapeError(fmt::format("{}: '{}' has shape {} in the file, the model's is {}", origin, name,
                                   to_string(a.shape), to_string(t.shape())));
    std::vector<T> v;
    if (a.dtype == io::DType::f32) {
      for (float x : a.to_vector<float>()) v.push_back(static_cast<T>(x));
    } else if (a.dtype == io::DType::f64) {
      for (double x : a.to_vector<double>()) v.push_back(static_cast<T>(x));
    } else {
      throw ValueError(fmt::format("{}: '{}' is {}; parameters are f32 or f64", origin, name,
                                   io::dtype_name(a.dtype)));
    }
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw NumericError(fmt::format("{}: '{}' holds {} at entry {}", origin, name,
                                       std::isnan(v[i]) ? "NaN" : "Inf", i));
    values.push_back(std::move(v));
  }
  for (std::size_t k = 0; k < params.size(); ++k)
    std::copy(values[k].begin(), values[k].end(), params[k].second.mutable_value().data());
}

template <class T>
void save(const Module<T>& m, const std::filesystem::path& path, const std::map<std::string, std::string>& extra) {
  io::save_safetensors(path, state_dict(m, extra));
}

template <class T>
std::map<std::string, std::string> load(Module<T>& m, const std::filesystem::path& path) {
  const io::TensorFile f = io::load_safetensors(path);
  load_state_dict(m, f, path.string());
  return f.metadata;
}

#define SLOPE_STATE(T)                                                                                 \
  template io::TensorFile state_dict(const Module<T>&, const std::map<std::string, std::string>&);     \
  template void load_state_dict(Module<T>&, const io::TensorFile&, const std::string&);                \
  template void save(const Module<T>&, const std::filesystem::path&,                                   \
                     const std::map<std::string, std::string>&);                                       \
  template std::map<std::string, std::string> load(Module<T>&, const std::filesystem::path&);
SLOPE_STATE(float)
SLOPE_STATE(double)
#undef SLOPE_STATE

}  // namespace slope::nn
