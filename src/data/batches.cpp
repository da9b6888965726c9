// Splits, preprocessing, gathering and the minibatch iterator.
#include <algorithm>
#include <charconv>
#include <numeric>

#include <fmt/format.h>

#include "slope/data.hpp"

namespace slope::data {

namespace {

void check_indices(const Dataset& data, std::span<const std::size_t> indices, const char* op) {
  for (std::size_t i : indices)
    if (i >= data.size())
      throw ValueError(fmt::format("{}: index {} is out of range for {} examples", op, i, data.size()));
}

}  // namespace

std::vector<std::size_t> all_indices(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::iota(v.begin(), v.end(), std::size_t{0});
  return v;
}

Dataset subset(const Dataset& data, std::span<const std::size_t> indices) {
  check_indices(data, indices, "subset");
  Dataset out;
  out.name = data.name;
  out.rows = data.rows;
  out.cols = data.cols;
  out.channels = data.channels;
  out.class_names = data.class_names;
  const std::size_t d = data.dim();
  for (std::size_t i : indices) {
    out.labels.push_back(data.labels[i]);
    if (data.has_pixels())
      out.pixels.insert(out.pixels.end(), data.pixels.begin() + i * d, data.pixels.begin() + (i + 1) * d);
    else
      out.features.insert(out.features.end(), data.features.begin() + i * d,
                          data.features.begin() + (i + 1) * d);
  }
  return out;
}

Split train_val_split(std::size_t n, std::size_t val_size, Rng& rng) {
  if (val_size > n)
    throw ValueError(fmt::format("train_val_split: validation size {} exceeds {} examples", val_size, n));
  std::vector<std::size_t> perm = all_indices(n);
  rng.shuffle(perm.begin(), perm.end());
  Split s;
  s.val.assign(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(val_size));
  s.train.assign(perm.begin() + static_cast<std::ptrdiff_t>(val_size), perm.end());
  // Sorted lists read memory in order and print reproducibly; the iterator shuffles anyway.
  std::sort(s.val.begin(), s.val.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

std::vector<double> mean_image(const Dataset& data, std::span<const std::size_t> indices) {
  if (indices.empty()) throw ValueError("mean_image: no examples");
  check_indices(data, indices, "mean_image");
  const std::size_t d = data.dim();
  std::vector<double> mean(d, 0.0);
  for (std::size_t i : indices) {
    if (data.has_pixels())
      for (std::size_t j = 0; j < d; ++j) mean[j] += data.pixels[i * d + j];
    else
      for (std::size_t j = 0; j < d; ++j) mean[j] += data.features[i * d + j];
  }
  // Pixels are averaged on the [0, 1] scale the model sees.
  const double scale = (data.has_pixels() ? 1.0 / 255.0 : 1.0) / static_cast<double>(indices.size());
  for (double& m : mean) m *= scale;
  return mean;
}

Preprocess fit_preprocess(const Dataset& data, std::span<const std::size_t> train_indices,
                          bool subtract_mean) {
  Preprocess p;
  p.scale = data.has_pixels() ? 1.0 / 255.0 : 1.0;
  if (subtract_mean) p.mean = mean_image(data, train_indices);
  return p;
}

template <class T>
void gather(const Dataset& data, std::span<const std::size_t> indices, const Preprocess& prep,
            std::span<T> xs, std::span<std::int32_t> ys) {
  const std::size_t d = data.dim();
  if (!prep.mean.empty() && prep.mean.size() != d)
    throw ValueError(fmt::format("gather: mean has {} entries, examples have {}", prep.mean.size(), d));
  if (d != 0 && indices.size() > xs.size() / d)
    throw ValueError(fmt::format("gather: {} examples of {} values need {} entries, the buffer has {}",
                                 indices.size(), d, indices.size() * d, xs.size()));
  if (xs.size() != indices.size() * d)
    throw ValueError(fmt::format("gather: {} examples of {} values need {} entries, the buffer has {}",
                                 indices.size(), d, indices.size() * d, xs.size()));
  if (!ys.empty() && ys.size() != indices.size())
    throw ValueError(fmt::format("gather: {} examples need {} labels, the label buffer has {}",
                                 indices.size(), indices.size(), ys.size()));
  check_indices(data, indices, "gather");
  T* x = xs.data();
  std::int32_t* y = ys.empty() ? nullptr : ys.data();
  // x = scale * raw - mean, in T: one branch-free loop per row that the
  // compiler vectorizes (uint8 -> T conversion included).
  const T s = static_cast<T>(prep.scale);
  const double* mean = prep.mean.empty() ? nullptr : prep.mean.data();
  const auto convert = [&](const auto* __restrict src, T* __restrict row) {
    if (mean)
      for (std::size_t j = 0; j < d; ++j) row[j] = s * static_cast<T>(src[j]) - static_cast<T>(mean[j]);
    else
      for (std::size_t j = 0; j < d; ++j) row[j] = s * static_cast<T>(src[j]);
  };
  for (std::size_t b = 0; b < indices.size(); ++b) {
    const std::size_t i = indices[b];
    if (data.has_pixels()) convert(data.pixels.data() + i * d, x + b * d);
    else convert(data.features.data() + i * d, x + b * d);
    if (y) y[b] = data.labels[i];
  }
}

template <class T>
Batch<T> batch(const Dataset& data, std::span<const std::size_t> indices, const Preprocess& prep) {
  if (data.dim() != 0 && indices.size() > kMaxExamples)
    throw ValueError(fmt::format("batch: {} examples exceed the cap of {}", indices.size(), kMaxExamples));
  Array<T> x = Array<T>::from_shape({indices.size(), data.dim()});
  Batch<T> b;
  b.y.resize(indices.size());
  gather<T>(data, indices, prep, std::span<T>(x.data(), x.size()), std::span<std::int32_t>(b.y));
  b.x = TensorT<T>(std::move(x));
  return b;
}

template void gather<float>(const Dataset&, std::span<const std::size_t>, const Preprocess&,
                            std::span<float>, std::span<std::int32_t>);
template void gather<double>(const Dataset&, std::span<const std::size_t>, const Preprocess&,
                             std::span<double>, std::span<std::int32_t>);
template Batch<float> batch<float>(const Dataset&, std::span<const std::size_t>, const Preprocess&);
template Batch<double> batch<double>(const Dataset&, std::span<const std::size_t>, const Preprocess&);

// ---- Minibatches -----------------------------------------------------------------

Minibatches::Minibatches(std::vector<std::size_t> indices, std::size_t batch_size, Rng rng)
    : indices_(std::move(indices)), batch_size_(batch_size), rng_(std::move(rng)) {
  if (indices_.empty()) throw ValueError("Minibatches: no examples");
  if (batch_size_ == 0) throw ValueError("Minibatches: batch size must be positive, got 0");
  order_ = indices_;
  rng_.shuffle(order_.begin(), order_.end());
}

std::span<const std::size_t> Minibatches::next() {
  if (!has_next())
    throw ValueError(fmt::format("Minibatches::next: epoch {} is exhausted", epoch_));
  std::size_t n = std::min(batch_size_, order_.size() - offset_);
  std::span<const std::size_t> batch(order_.data() + offset_, n);
  offset_ += n;
  return batch;
}

void Minibatches::next_epoch() {
  // Each epoch shuffles the original list afresh, so an epoch's order depends
  // only on the Rng state, which position() records.
  order_ = indices_;
  rng_.shuffle(order_.begin(), order_.end());
  ++epoch_;
  offset_ = 0;
}

BatchPosition Minibatches::position() const { return {epoch_, offset_, order_, rng_.state()}; }

void Minibatches::restore(const BatchPosition& pos) {
  if (pos.order.size() != indices_.size())
    throw ValueError(fmt::format("Minibatches::restore: order has {} entries, the iterator {}",
                                 pos.order.size(), indices_.size()));
  if (pos.offset > pos.order.size())
    throw ValueError(fmt::format("Minibatches::restore: offset {} is past the {} examples",
                                 pos.offset, pos.order.size()));
  std::vector<std::size_t> a = pos.order, b = indices_;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a != b)
    throw ValueError("Minibatches::restore: order is not a permutation of the iterator's indices");
  Rng rng;
  rng.set_state(pos.rng_state);  // throws ValueError before anything changes
  order_ = pos.order;
  offset_ = pos.offset;
  epoch_ = pos.epoch;
  rng_ = std::move(rng);
}

void put_position(io::Checkpoint& ckpt, const std::string& prefix, const BatchPosition& pos) {
  std::vector<std::int64_t> order(pos.order.begin(), pos.order.end());
  ckpt.put<std::int64_t>(prefix + "order", order, {order.size()});
  ckpt.set_meta(prefix + "epoch", std::to_string(pos.epoch));
  ckpt.set_meta(prefix + "offset", std::to_string(pos.offset));
  ckpt.set_meta(prefix + "rng", pos.rng_state);
}

BatchPosition get_position(const io::Checkpoint& ckpt, const std::string& prefix) {
  auto number = [&](const std::string& key) {
    const std::string& s = ckpt.meta(key);
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty())
      throw ValueError(fmt::format("checkpoint: '{}' is not a count: '{}'", key, s));
    return v;
  };
  BatchPosition pos;
  pos.epoch = number(prefix + "epoch");
  pos.offset = number(prefix + "offset");
  pos.rng_state = ckpt.meta(prefix + "rng");
  for (std::int64_t i : ckpt.get<std::int64_t>(prefix + "order")) {
    if (i < 0) throw ValueError(fmt::format("checkpoint: '{}order' holds {}", prefix, i));
    pos.order.push_back(static_cast<std::size_t>(i));
  }
  return pos;
}

}  // namespace slope::data
