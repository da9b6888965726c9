#include "slope/nn.hpp"

#include <cmath>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope::nn {

double Init::std_for(std::size_t fan_in, std::size_t fan_out) const {
  switch (kind) {
    case Kind::he: return std::sqrt(2.0 / static_cast<double>(fan_in));
    case Kind::xavier: return std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
    case Kind::normal: return stddev;
  }
  return 0.0;
}

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, Rng& rng, Init init)
    : W(randn<T>({in, out}, rng, init.std_for(in, out), 0.0, true)),
      b(zeros<T>({out}, true)) {
  if (in == 0 || out == 0)
    throw ValueError(fmt::format("Linear: sizes must be positive, got in {} and out {}", in, out));
}

template <class T>
TensorT<T> Linear<T>::operator()(const TensorT<T>& x) const {
  return linear(x, W, b);  // x W + b in one gemm
}

template <class T>
MLP<T>::MLP(const std::vector<std::size_t>& sizes, Rng& rng, Init init) {
  if (sizes.size() < 2)
    throw ValueError(fmt::format("MLP: need at least an input and an output size, got {}",
                                 sizes.size()));
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    if (sizes[i] == 0 || sizes[i + 1] == 0)
      throw ValueError(fmt::format("MLP: layer sizes must be positive, got ({})",
                                   fmt::join(sizes, ", ")));
    layers_.emplace_back(sizes[i], sizes[i + 1], rng, init);
    layers_.back().W.set_name(fmt::format("W{}", i + 1));
    layers_.back().b.set_name(fmt::format("b{}", i + 1));
  }
}

template <class T>
TensorT<T> MLP<T>::operator()(const TensorT<T>& x) const {
  TensorT<T> h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i](h);
    if (i + 1 < layers_.size()) h = relu(h);
  }
  return h;
}

template <class T>
TensorT<T> MLP<T>::operator()(const TensorT<T>& x, double p, Rng& rng) const {
  if (p == 0.0) return (*this)(x);
  TensorT<T> h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i](h);
    if (i + 1 < layers_.size()) h = dropout(relu(h), p, rng);
  }
  return h;
}

template <class T>
std::vector<TensorT<T>> MLP<T>::parameters() const {
  std::vector<TensorT<T>> p;
  for (const auto& l : layers_) {
    p.push_back(l.W);
    p.push_back(l.b);
  }
  return p;
}

template <class T>
std::vector<TensorT<T>> MLP<T>::weights() const {
  std::vector<TensorT<T>> w;
  for (const auto& l : layers_) w.push_back(l.W);
  return w;
}

template <class T>
std::vector<std::size_t> MLP<T>::sizes() const {
  std::vector<std::size_t> s{layers_.front().in_features()};
  for (const auto& l : layers_) s.push_back(l.out_features());
  return s;
}

template <class T>
std::vector<std::int32_t> argmax_rows(const Array<T>& scores) {
  if (scores.dimension() != 2)
    throw ShapeError("argmax_rows: scores must be 2-D (N, C)");
  const std::size_t n = scores.shape()[0], c = scores.shape()[1];
  std::vector<std::int32_t> out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const T* row = scores.data() + i * c;
    std::size_t best = 0;
    for (std::size_t j = 1; j < c; ++j)
      if (row[j] > row[best]) best = j;
    out[i] = static_cast<std::int32_t>(best);
  }
  return out;
}

template <class T>
double accuracy(const Array<T>& scores, std::span<const std::int32_t> labels) {
  const auto pred = argmax_rows(scores);
  if (pred.size() != labels.size())
    throw ShapeError(fmt::format("accuracy: {} rows of scores for {} labels", pred.size(),
                                 labels.size()));
  if (pred.empty()) return 0.0;
  std::size_t hits = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) hits += pred[i] == labels[i];
  return static_cast<double>(hits) / static_cast<double>(pred.size());
}

template class Linear<float>;
template class Linear<double>;
template class MLP<float>;
template class MLP<double>;
template std::vector<std::int32_t> argmax_rows<float>(const Array<float>&);
template std::vector<std::int32_t> argmax_rows<double>(const Array<double>&);
template double accuracy<float>(const Array<float>&, std::span<const std::int32_t>);
template double accuracy<double>(const Array<double>&, std::span<const std::int32_t>);

}  // namespace slope::nn
