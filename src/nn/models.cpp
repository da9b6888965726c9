// The MLP (and with it the linear classifier and the two-layer net).
#include "slope/nn/models.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "slope/error.hpp"

namespace slope::nn {

template <class T>
MLP<T>::MLP(const std::vector<std::size_t>& sizes, Rng& rng, Init init)
    : MLP(sizes, rng, [&] {
        MLPOptions o;
        o.init = init;
        return o;
      }()) {}

template <class T>
MLP<T>::MLP(const std::vector<std::size_t>& sizes, Rng& rng, MLPOptions o) : options_(std::move(o)) {
  if (sizes.size() < 2)
    throw ValueError(fmt::format("MLP: need at least an input and an output size, got {}", sizes.size()));
  for (std::size_t s : sizes)
    if (s == 0) throw ValueError(fmt::format("MLP: layer sizes must be positive, got ({})", fmt::join(sizes, ", ")));
  const std::size_t layers = sizes.size() - 1, hidden = layers - 1;
  const auto& drop = options_.dropout;
  if (!drop.empty() && drop.size() != 1 && drop.size() != hidden)
    throw ValueError(fmt::format("MLP: {} dropout values for {} hidden layers (give none, one, or one per layer)",
                                 drop.size(), hidden));
  for (double p : drop)
    if (!(p >= 0.0 && p < 1.0)) throw ValueError(fmt::format("MLP: dropout must be in [0, 1): got {}", p));
  const ActivationLayer<T> act = activation<T>(options_.activation);  // checks the name
  const bool fused = options_.activation == activations().front().name;  // relu: Linear's epilogue
  // Every layer's weights first, in order (so the initialisation does not
  // depend on the dropout settings), then the dropout modules' seeds.
  for (std::size_t l = 0; l < layers; ++l)
    linears_.emplace_back(sizes[l], sizes[l + 1], rng, options_.init,
                          l + 1 < layers && fused ? Activation::relu : Activation::none);
  Sequential<T> seq;
  for (std::size_t l = 0; l < layers; ++l) {
    if (l + 1 == layers) {
      seq.add(linears_[l]);
      break;
    }
    const bool residual = options_.residual && sizes[l] == sizes[l + 1];
    if (fused && !residual) seq.add(linears_[l]);
    else if (fused) seq.add(Residual<T>(linears_[l]));
    else {
      Sequential<T> block;
      block.add(linears_[l]);
      block.add(act);
      if (residual) seq.add(Residual<T>(block));
      else seq.add(block);
    }
    const double p = drop.empty() ? 0.0 : drop.size() == 1 ? drop[0] : drop[l];
    if (p > 0.0) seq.add(Dropout<T>(p, rng));
  }
  net_ = this->register_module("layers", seq);
  name_parameters(*this);  // "layers.0.W", ... in reports (a parent model renames them)
}

template <class T>
TensorT<T> MLP<T>::forward(const TensorT<T>& x) const {
  return net_.forward(x);
}

template <class T>
std::vector<std::size_t> MLP<T>::sizes() const {
  std::vector<std::size_t> s{linears_.front().in_features()};
  for (const auto& l : linears_) s.push_back(l.out_features());
  return s;
}

template <class T>
std::vector<std::int32_t> argmax_rows(const Array<T>& scores) {
  if (scores.dimension() != 2) throw ShapeError("argmax_rows: scores must be 2-D (N, C)");
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
    throw ShapeError(fmt::format("accuracy: {} rows of scores for {} labels", pred.size(), labels.size()));
  if (pred.empty()) return 0.0;
  std::size_t hits = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) hits += pred[i] == labels[i];
  return static_cast<double>(hits) / static_cast<double>(pred.size());
}

template class MLP<float>;
template class MLP<double>;
template std::vector<std::int32_t> argmax_rows<float>(const Array<float>&);
template std::vector<std::int32_t> argmax_rows<double>(const Array<double>&);
template double accuracy<float>(const Array<float>&, std::span<const std::int32_t>);
template double accuracy<double>(const Array<double>&, std::span<const std::int32_t>);

}  // namespace slope::nn
