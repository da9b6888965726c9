// Ops that move entries around: permute (transpose is permute(x, {1, 0})),
// reshape with an inferred -1, squeeze and unsqueeze, expand, slice and
// narrow, concat, stack and split. permute, expand, slice and concat are
// primitives; the rest are composites of them and reshape.
#include <algorithm>
#include <numeric>

#include "op_support.hpp"
#include "slope/ops.hpp"

namespace slope {

using detail::accumulate_grad;
using detail::AxisSplit;
using detail::grad_target;
using detail::GradTarget;
using detail::GraphGrad;
using detail::in;
using detail::make_result;
using detail::new_array;
using detail::Node;
using detail::normalize_axis;
using detail::split_at;
using detail::write_share;

namespace {

template <class V>
std::string tuple_text(const V& v) {
  if (v.size() == 1) return fmt::format("({},)", v[0]);
  return fmt::format("({})", fmt::join(v, ", "));
}

// f(k, offset) for every entry k (row-major) of x permuted by `dims`, where
// offset is where that entry sits in x: out[k] = x[offset].
template <class F>
void for_each_permuted(const std::int32_t* dims, const Shape& in_shape, F&& f) {
  const std::size_t rank = in_shape.size();
  std::size_t in_stride[16], out_shape[16], stride[16], index[16] = {};
  for (std::size_t d = rank, step = 1; d-- > 0;) {
    in_stride[d] = step;
    step *= in_shape[d];
  }
  std::size_t n = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    out_shape[d] = in_shape[static_cast<std::size_t>(dims[d])];
    stride[d] = in_stride[static_cast<std::size_t>(dims[d])];
    n *= out_shape[d];
  }
  std::size_t offset = 0;
  for (std::size_t k = 0; k < n; ++k) {
    f(k, offset);
    for (std::size_t d = rank; d-- > 0;) {  // odometer over the output's index
      offset += stride[d];
      if (++index[d] < out_shape[d]) break;
      offset -= stride[d] * out_shape[d];
      index[d] = 0;
    }
  }
}

// Entries first, first + stride, ... (m of them) along the axis of an array
// split by s: the positions slice takes and scatter_slice places, one
// definition for both ops and both directions.
struct StridedSlice {
  AxisSplit s;
  std::size_t first, stride, m;
  // dst (outer, m, inner) = or += the slices of src (outer, n, inner).
  template <class T>
  void take(const T* src, GradTarget<T> dst) const {
    for (std::size_t o = 0; o < s.outer; ++o)
      for (std::size_t j = 0; j < m; ++j) {
        const T* from = src + (o * s.n + first + j * stride) * s.inner;
        T* to = dst.data + (o * m + j) * s.inner;
        if (dst.fresh) std::copy_n(from, s.inner, to);
        else for (std::size_t i = 0; i < s.inner; ++i) to[i] += from[i];
      }
  }
  // dst (outer, n, inner) = or += g (outer, m, inner) at the slices, 0 elsewhere.
  template <class T>
  void place(const T* g, GradTarget<T> dst) const {
    write_share(dst, s.outer * s.n * s.inner, [g, this](std::size_t f) {
      const std::size_t o = f / (s.n * s.inner), j = (f / s.inner) % s.n, i = f % s.inner;
      if (j < first || (j - first) % stride != 0 || (j - first) / stride >= m) return T(0);
      return g[(o * m + (j - first) / stride) * s.inner + i];
    });
  }
};

}  // namespace

template <class T>
TensorT<T> permute(const TensorT<T>& x, const std::vector<int>& dims) {
  const Shape shape = x.shape();
  const auto fail = [&] {
    return ShapeError(fmt::format("permute: dims {} are not a permutation of the {} axes of {}",
                                  tuple_text(dims), shape.size(), to_string(shape)));
  };
  if (dims.size() != shape.size() || shape.size() > 16) throw fail();
  detail::Saved<T> saved;
  saved.index = new_array<std::int32_t>(Shape{dims.size()});
  std::vector<bool> seen(dims.size(), false);
  Shape out_shape;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const long a = dims[d] < 0 ? dims[d] + static_cast<long>(dims.size()) : dims[d];
    if (a < 0 || a >= static_cast<long>(dims.size()) || seen[static_cast<std::size_t>(a)]) throw fail();
    seen[static_cast<std::size_t>(a)] = true;
    saved.index.data()[d] = static_cast<std::int32_t>(a);
    out_shape.push_back(shape[static_cast<std::size_t>(a)]);
  }
  Array<T> r = new_array<T>(out_shape);
  T* dst = r.data();
  const T* src = x.data();
  for_each_permuted(saved.index.data(), shape, [dst, src](std::size_t k, std::size_t off) { dst[k] = src[off]; });
  return detail::reads_no_inputs(make_result<T>("permute", std::move(r), {&x}, {[](Node<T>& out) {
    // Each entry of g goes back to where it came from (a bijection: written once each).
    Node<T>& x = in(out, 0);
    const detail::GradTarget<T> t = grad_target(x);
    const T* g = out.grad.data();
    T* dst = t.data;
    const bool fresh = t.fresh;
    for_each_permuted(out.saved.index.data(), detail::shape_of(x.value), [=](std::size_t k, std::size_t off) {
      dst[off] = fresh ? g[k] : dst[off] + g[k];
    });
  }, [](GraphGrad<T>& c) {  // the same move as an op: the inverse permutation
    const Array<std::int32_t>& dims = c.out.saved.index;
    std::vector<int> inverse(dims.size());
    for (std::size_t d = 0; d < dims.size(); ++d) inverse[static_cast<std::size_t>(dims.data()[d])] = static_cast<int>(d);
    c.add(0, permute(c.g, inverse));
  }}, std::move(saved)));
}

template <class T>
TensorT<T> transpose(const TensorT<T>& x) {
  detail::OpName name_scope("transpose");  // report as the op the user called
  if (x.dim() != 2)
    throw ShapeError(fmt::format("transpose: expects a 2-D tensor: x is {}", to_string(x.shape())));
  return permute(x, {1, 0});
}

template <class T>
TensorT<T> reshape(const TensorT<T>& x, std::span<const std::int64_t> sizes) {
  Shape shape;
  std::size_t known = 1;
  int inferred = -1;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == -1) {
      if (inferred >= 0)
        throw ShapeError(fmt::format("reshape: more than one -1 in {}", tuple_text(sizes)));
      inferred = static_cast<int>(d);
      shape.push_back(0);
    } else if (sizes[d] < 0) {
      throw ShapeError(fmt::format("reshape: size {} is invalid in {}", sizes[d], tuple_text(sizes)));
    } else {
      shape.push_back(static_cast<std::size_t>(sizes[d]));
      known *= shape.back();
    }
  }
  if (inferred >= 0) {
    if (known == 0 || x.size() % known != 0)
      throw ShapeError(fmt::format("reshape: cannot infer the -1 in {} from {} ({} entries)", tuple_text(sizes),
                                   to_string(x.shape()), x.size()));
    shape[static_cast<std::size_t>(inferred)] = x.size() / known;
  }
  return reshape(x, shape);
}

template <class T>
TensorT<T> squeeze(const TensorT<T>& x) {
  detail::OpName name_scope("squeeze");  // report as the op the user called
  Shape shape;
  for (std::size_t d : x.shape())
    if (d != 1) shape.push_back(d);
  return reshape(x, shape);
}

template <class T>
TensorT<T> squeeze(const TensorT<T>& x, int axis) {
  detail::OpName name_scope("squeeze");  // report as the op the user called
  Shape shape = x.shape();
  const std::size_t a = normalize_axis(axis, shape.size(), "squeeze", shape);
  if (shape[a] != 1)
    throw ShapeError(fmt::format("squeeze: axis {} has size {}, not 1: x is {}", axis, shape[a], to_string(shape)));
  shape.erase(shape.begin() + static_cast<long>(a));
  return reshape(x, shape);
}

template <class T>
TensorT<T> unsqueeze(const TensorT<T>& x, int axis) {
  detail::OpName name_scope("unsqueeze");  // report as the op the user called
  Shape shape = x.shape();
  // A new axis can go at any of ndim + 1 places.
  const std::size_t a = normalize_axis(axis, shape.size() + 1, "unsqueeze", shape);
  shape.insert(shape.begin() + static_cast<long>(a), 1);
  return reshape(x, shape);
}

template <class T>
TensorT<T> expand(const TensorT<T>& x, const Shape& shape) {
  // Each of x's dimensions (aligned from the end) must equal the target's or be 1.
  bool ok = shape.size() >= x.dim();
  for (std::size_t d = 0; ok && d < x.dim(); ++d) {
    const std::size_t xd = x.shape()[d], td = shape[shape.size() - x.dim() + d];
    ok = xd == td || xd == 1;
  }
  if (!ok) throw ShapeError(fmt::format("expand: cannot broadcast {} to {}", to_string(x.shape()), to_string(shape)));
  Array<T> r = xt::broadcast(x.value(), shape);
  return detail::reads_no_inputs(make_result<T>("expand", std::move(r), {&x}, {[](Node<T>& out) {
    // Summing the gradient back over the broadcast dimensions is the engine's job.
    accumulate_grad(in(out, 0), static_cast<const Array<T>&>(out.grad));
  }, [](GraphGrad<T>& c) { c.add(0, c.g); }}));  // in both paths
}

template <class T>
TensorT<T> slice(const TensorT<T>& x, int axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
  const Shape shape = x.shape();
  const std::size_t a = normalize_axis(axis, shape.size(), "slice", shape);
  if (step < 1) throw ValueError(fmt::format("slice: step must be >= 1: got {}", step));
  const auto n = static_cast<std::int64_t>(shape[a]);
  const std::int64_t lo = start < 0 ? start + n : start, hi = stop < 0 ? stop + n : stop;
  if (lo < 0 || hi > n || lo > hi)
    throw ShapeError(fmt::format("slice: [{}, {}) is out of range for axis {} of size {}: x is {}", start, stop,
                                 axis, n, to_string(shape)));
  const auto first = static_cast<std::size_t>(lo), stride = static_cast<std::size_t>(step);
  Shape out_shape = shape;
  out_shape[a] = static_cast<std::size_t>(hi - lo + step - 1) / stride;
  Array<T> r = new_array<T>(out_shape);
  const StridedSlice cut{split_at(shape, a), first, stride, out_shape[a]};
  cut.take(x.data(), GradTarget<T>{r.data(), true});
  return detail::reads_no_inputs(make_result<T>("slice", std::move(r), {&x}, {[a, first, stride](Node<T>& out) {
    // g back into the sliced positions, 0 elsewhere: scatter_slice's forward.
    const StridedSlice cut{split_at(in(out, 0).value.shape(), a), first, stride, out.value.shape()[a]};
    cut.place(out.grad.data(), grad_target(in(out, 0)));
  }, [a, first, stride](GraphGrad<T>& c) {
    c.add(0, detail::scatter_slice(c.g, c.input_shape(0), a, first, stride));
  }}));
}

namespace detail {

template <class T>
TensorT<T> scatter_slice(const TensorT<T>& g, const Shape& shape, std::size_t axis, std::size_t first,
                         std::size_t stride) {
  if (axis >= shape.size() || axis >= g.dim())
    throw ShapeError(fmt::format("scatter_slice: axis {} is out of range for {}", axis, to_string(shape)));
  Shape cut_shape = shape;
  const std::size_t m = g.shape()[axis];
  cut_shape[axis] = m;
  if (g.shape() != cut_shape || stride == 0 || (m > 0 && first + (m - 1) * stride >= shape[axis]))
    throw ShapeError(fmt::format("scatter_slice: g of shape {} is no slice of {}", to_string(g.shape()), to_string(shape)));
  Array<T> r = new_array<T>(shape);
  const StridedSlice cut{split_at(shape, axis), first, stride, m};
  cut.place(g.data(), GradTarget<T>{r.data(), true});
  return reads_no_inputs(make_result<T>("scatter_slice", std::move(r), {&g}, {[axis, first, stride](Node<T>& out) {
    // The adjoint of placing the slices is taking them: slice's forward.
    const StridedSlice cut{split_at(out.value.shape(), axis), first, stride, in(out, 0).value.shape()[axis]};
    cut.take(out.grad.data(), grad_target(in(out, 0)));
  }, [axis, first, stride](GraphGrad<T>& c) {
    const Shape shape = detail::shape_of(c.out.value);
    const auto stop = static_cast<std::int64_t>(first + c.input_shape(0)[axis] * stride);
    c.add(0, slice(c.g, static_cast<int>(axis), static_cast<std::int64_t>(first),
                   std::min<std::int64_t>(stop, static_cast<std::int64_t>(shape[axis])), static_cast<std::int64_t>(stride)));
  }}));
}

}  // namespace detail

template <class T>
TensorT<T> narrow(const TensorT<T>& x, int axis, std::int64_t start, std::int64_t length) {
  detail::OpName name_scope("narrow");  // report as the op the user called
  const Shape shape = x.shape();
  const std::size_t a = normalize_axis(axis, shape.size(), "narrow", shape);
  const auto n = static_cast<std::int64_t>(shape[a]);
  const std::int64_t lo = start < 0 ? start + n : start;
  if (length < 0 || lo < 0 || lo + length > n)
    throw ShapeError(fmt::format("narrow: start {} and length {} do not fit axis {} of size {}: x is {}", start,
                                 length, axis, n, to_string(shape)));
  return slice(x, axis, lo, lo + length);
}

template <class T>
TensorT<T> concat(const std::vector<TensorT<T>>& xs, int axis) {
  if (xs.empty()) throw ValueError("concat: needs at least one tensor");
  const Shape first = xs[0].shape();
  const std::size_t a = normalize_axis(axis, first.size(), "concat", first);
  std::size_t total = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Shape sk = xs[k].shape();
    bool same = sk.size() == first.size();
    for (std::size_t d = 0; same && d < sk.size(); ++d) same = d == a || sk[d] == first[d];
    if (!same)
      throw ShapeError(fmt::format("concat: shapes differ outside axis {}: tensor 0 is {}, tensor {} is {}", axis,
                                   to_string(first), k, to_string(sk)));
    total += sk[a];
  }
  Shape shape = first;
  shape[a] = total;
  const AxisSplit s = split_at(shape, a);
  Array<T> r = new_array<T>(shape);
  // Output block o is input 0's block o, then input 1's, and so on.
  for (std::size_t o = 0, offset = 0; o < s.outer; ++o)
    for (const TensorT<T>& x : xs) {
      const std::size_t len = x.shape()[a] * s.inner;
      std::copy_n(x.data() + o * len, len, r.data() + offset);
      offset += len;
    }
  return detail::reads_no_inputs(make_result<T>("concat", std::move(r), std::span<const TensorT<T>>(xs), {[a](Node<T>& out) {
    // Each input gets its own columns of g back.
    const AxisSplit s = split_at(out.value.shape(), a);
    const T* g = out.grad.data();
    std::size_t before = 0;  // entries along the axis that come before input k
    for (std::size_t k = 0; k < out.inputs.size(); ++k) {
      Node<T>& x = in(out, k);
      const std::size_t nk = x.value.shape()[a];
      if (x.requires_grad)
        write_share(grad_target(x), x.value.size(), [=](std::size_t f) {
          const std::size_t o = f / (nk * s.inner), rest = f % (nk * s.inner);
          return g[o * s.n * s.inner + before * s.inner + rest];
        });
      before += nk;
    }
  }, [a](GraphGrad<T>& c) {  // each input's columns of g, cut with slice
    std::int64_t before = 0;
    for (std::size_t k = 0; k < c.out.inputs.size(); ++k) {
      const auto nk = static_cast<std::int64_t>(c.input_shape(k)[a]);
      if (c.needs(k)) c.add(k, slice(c.g, static_cast<int>(a), before, before + nk));
      before += nk;
    }
  }}));
}

template <class T>
TensorT<T> stack(const std::vector<TensorT<T>>& xs, int axis) {
  detail::OpName name_scope("stack");  // report as the op the user called
  if (xs.empty()) throw ValueError("stack: needs at least one tensor");
  const Shape first = xs[0].shape();
  for (std::size_t k = 1; k < xs.size(); ++k)
    if (xs[k].shape() != first)
      throw ShapeError(fmt::format("stack: shapes differ: tensor 0 is {}, tensor {} is {}", to_string(first), k,
                                   to_string(xs[k].shape())));
  normalize_axis(axis, first.size() + 1, "stack", first);
  std::vector<TensorT<T>> columns;
  columns.reserve(xs.size());
  for (const TensorT<T>& x : xs) columns.push_back(unsqueeze(x, axis));
  return concat(columns, axis);
}

template <class T>
std::vector<TensorT<T>> split(const TensorT<T>& x, const std::vector<std::size_t>& sizes, int axis) {
  const Shape shape = x.shape();
  const std::size_t a = normalize_axis(axis, shape.size(), "split", shape);
  const std::size_t total = std::accumulate(sizes.begin(), sizes.end(), std::size_t{0});
  if (total != shape[a])
    throw ShapeError(fmt::format("split: sizes {} add up to {}, not the {} of axis {}: x is {}", tuple_text(sizes),
                                 total, shape[a], axis, to_string(shape)));
  std::vector<TensorT<T>> parts;
  std::int64_t start = 0;
  for (std::size_t size : sizes) {
    parts.push_back(narrow(x, axis, start, static_cast<std::int64_t>(size)));
    start += static_cast<std::int64_t>(size);
  }
  return parts;
}

#define SLOPE_INSTANTIATE(T)                                                                           \
  template TensorT<T> permute<T>(const TensorT<T>&, const std::vector<int>&);                          \
  template TensorT<T> transpose<T>(const TensorT<T>&);                                                 \
  template TensorT<T> reshape<T>(const TensorT<T>&, std::span<const std::int64_t>);                    \
  template TensorT<T> squeeze<T>(const TensorT<T>&);                                                   \
  template TensorT<T> squeeze<T>(const TensorT<T>&, int);                                              \
  template TensorT<T> unsqueeze<T>(const TensorT<T>&, int);                                            \
  template TensorT<T> expand<T>(const TensorT<T>&, const Shape&);                                      \
  template TensorT<T> slice<T>(const TensorT<T>&, int, std::int64_t, std::int64_t, std::int64_t);      \
  template TensorT<T> detail::scatter_slice<T>(const TensorT<T>&, const Shape&, std::size_t, std::size_t,   \
                                               std::size_t);                                           \
  template TensorT<T> narrow<T>(const TensorT<T>&, int, std::int64_t, std::int64_t);                   \
  template TensorT<T> concat<T>(const std::vector<TensorT<T>>&, int);                                  \
  template TensorT<T> stack<T>(const std::vector<TensorT<T>>&, int);                                   \
  template std::vector<TensorT<T>> split<T>(const TensorT<T>&, const std::vector<std::size_t>&, int);
SLOPE_FOR_EACH_DTYPE(SLOPE_INSTANTIATE)

}  // namespace slope
