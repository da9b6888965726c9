// A picture of the graph: the ops and tensors below a result, as Graphviz DOT
// text (what micrograd's draw_dot draws). Render it with Debian's graphviz:
//   dot -Tsvg graph.dot -o graph.svg
#pragma once

#include <string>

#include "slope/tensor.hpp"

namespace slope {

/// The graph below `root` as a DOT digraph, inputs to outputs left to right.
/// One box per tensor: leaves show their user name (or "leaf"), results the
/// op that made them; every box shows the shape. Tensors that need a gradient
/// are filled (parameters darker than intermediate results); an edge runs
/// from each input to the op's result. Call it before backward() (or with
/// retain_graph): backward frees the graph, and a freed result is drawn alone
/// and marked "freed". Deterministic: the same graph gives the same text.
template <class T>
std::string to_dot(const TensorT<T>& root);

}  // namespace slope
