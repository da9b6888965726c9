// Random ops: inverted dropout with counter-based masks.
//
// Entry e of a mask is a hash of (key, e): the same key gives the same mask
// whatever order or thread the entries are computed in. The key comes from
// the caller's Rng (one draw per call), or, inside a data-parallel shard,
// from the step and the number of the call, with e counted over the whole
// batch; so a model with dropout gives the same masks, and within rounding
// the same step, on any number of threads.
#include <cmath>
#include <limits>

#include "op_support.hpp"
#include "shard_sink.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;

namespace {

// SplitMix64's finalizer: a bijection of 64-bit words with good avalanche.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// 32 uniform bits for entry e of the mask with `key` (two entries per hash).
std::uint32_t bits(std::uint64_t key, std::uint64_t e) {
  const std::uint64_t h = mix(key + (e >> 1) * 0x9E3779B97F4A7C15ULL);
  return static_cast<std::uint32_t>((e & 1) ? h >> 32 : h);
}

}  // namespace

template <class T>
TensorT<T> dropout(const TensorT<T>& x, double p, Rng& rng) {
  if (!(p >= 0.0 && p < 1.0))
    throw ValueError(fmt::format("dropout: p must be in [0, 1): got {}", p));
  std::uint64_t key = 0;
  std::size_t first_row = 0;
  if (detail::ShardRows* shard = detail::shard_rows()) {
    key = mix(shard->key ^ mix(++shard->draws));
    first_row = shard->row_offset;
  } else {
    key = rng.next();
  }
  // Rows are the first dimension; an entry's number counts rows of the whole batch.
  const std::size_t n = x.size();
  const std::size_t cols = x.dim() == 0 || x.shape()[0] == 0 ? std::max<std::size_t>(n, 1) : n / x.shape()[0];
  const std::uint64_t first = static_cast<std::uint64_t>(first_row) * cols;
  // Keep an entry when its 32 bits are at or above p * 2^32.
  const auto drop_below = static_cast<std::uint64_t>(std::ldexp(p, 32));
  const T keep = static_cast<T>(1.0 / (1.0 - p));
  detail::Saved<T> saved;
  saved.values = new_array<T>(x.value().shape());  // mask: 0 or 1 / (1 - p)
  Array<T> r = new_array<T>(x.value().shape());
  T* mask = saved.values.data();
  T* out = r.data();
  const T* v = x.data();
  detail::for_each_index(n, [&](std::size_t i) {
    mask[i] = bits(key, first + i) >= drop_below ? keep : T(0);
    out[i] = v[i] * mask[i];
  });
  return detail::reads_no_inputs(make_result<T>("dropout", std::move(r), {&x}, {[](Node<T>& out) {
    // d(x * mask) = g * mask
    const T* g = out.grad.data();
    const T* m = out.saved.values.data();
    detail::write_share(detail::grad_target(in(out, 0)), out.grad.size(),
                        [g, m](std::size_t i) { return g[i] * m[i]; });
  }, [](detail::GraphGrad<T>& c) {
    c.add(0, c.g * TensorT<T>(c.out.saved.values));  // the same product, the mask a constant
  }}, std::move(saved)));
}

#define SLOPE_INSTANTIATE(T) template TensorT<T> dropout<T>(const TensorT<T>&, double, Rng&);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
