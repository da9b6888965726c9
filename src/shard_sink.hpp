// What a shard of a data-parallel step (src/data_parallel.cpp) tells the ops
// and the backward walk running on its thread: where the parameters'
// gradients go, which weight products may be left to the finishing pass, and
// where the shard's rows sit in the whole batch (for random ops).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "op_support.hpp"

namespace slope::detail {

/// A parameter's gradient share left for the step's finishing pass: C += op(A)
/// op(B), an (m, n) product with inner size k, A the value of `a` (kept
/// alive here) and B an array of this record's own. The finishing pass
/// computes each thread's rows of it right where the shards' shares are
/// summed, so no shard writes (and no pass re-reads) a whole weight-sized
/// buffer for it.
template <class T>
struct DeferredProduct {
  std::size_t slot = 0;  // the parameter
  bool ta = false, tb = false;
  std::size_t m = 0, n = 0, k = 0;
  std::shared_ptr<Node<T>> a;
  Array<T> b = empty_array<T>();
};

/// While a shard of a data-parallel step runs on a thread, the gradients of
/// the step's parameters (leaves) go to the shard's own buffers instead of
/// the shared nodes, so shards never write the same memory.
template <class T>
struct GradSink {
  std::span<const Node<T>* const> nodes;  // the parameters
  std::span<Array<T>* const> grads;       // one buffer per parameter, value-shaped
  std::span<std::uint8_t> written;        // whether the buffer holds this shard's share yet
  std::vector<DeferredProduct<T>>* deferred = nullptr;  // where products may be left (sharded steps)
};

/// Inside a sharded step, leaves `node`'s share op(A) op(B) (A = a->value, B
/// moved in) for the finishing pass and returns true; false (and nothing
/// taken) when the product must be computed now.
template <class T>
bool defer_product(Node<T>& node, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k,
                   const std::shared_ptr<Node<T>>& a, Array<T>& b);
/// The calling thread's sink, or nullptr outside a shard.
template <class T>
GradSink<T>*& grad_sink();

/// While a shard runs on a thread: the step's random key and where the
/// shard's rows start in the whole batch. Random ops (dropout) draw from
/// (key, number of the draw in this forward pass, position in the whole
/// batch) instead of their Rng, so a step's masks do not depend on how its
/// batch was split.
struct ShardRows {
  std::uint64_t key = 0;
  std::size_t row_offset = 0;
  std::uint64_t draws = 0;  // random ops run so far in this shard's forward pass
};
/// The calling thread's shard, or nullptr outside one.
ShardRows*& shard_rows();

}  // namespace slope::detail
