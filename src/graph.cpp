// to_dot: an iterative walk over the graph below a tensor (no recursion, so
// deep graphs are fine), numbering each node at its first visit.
#include "slope/graph.hpp"

#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "op_support.hpp"

namespace slope {

namespace {

// A DOT string literal's contents: quotes and backslashes escaped, newlines as \n.
std::string escaped(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += ch;
    else if (ch == '\n') out += "\\n";
    else if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
  }
  return out;
}

}  // namespace

template <class T>
std::string to_dot(const TensorT<T>& root) {
  using Node = detail::Node<T>;
  std::unordered_map<const Node*, std::size_t> id;
  std::vector<const Node*> order;  // in the order of first visit
  std::vector<std::pair<std::size_t, std::size_t>> edges;
  std::vector<const Node*> stack{root.node().get()};
  id[root.node().get()] = 0;
  order.push_back(root.node().get());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    // Inputs pushed in reverse so that they are numbered in argument order.
    for (std::size_t k = n->inputs.size(); k-- > 0;) {
      const Node* in = n->inputs[k].node.get();
      auto [it, fresh] = id.emplace(in, order.size());
      if (fresh) {
        order.push_back(in);
        stack.push_back(in);
      }
      edges.emplace_back(it->second, id.at(n));
    }
  }
  std::string out = "digraph slope {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n";
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Node& n = *order[i];
    std::string label = n.op ? n.op : (n.name.empty() ? "leaf" : n.name);
    if (n.op && !n.name.empty()) label += " '" + n.name + "'";
    label += "\n" + to_string(detail::shape_of(n.value));
    if (n.released) label += "\nfreed";
    std::string style;
    if (n.requires_grad) style = n.op ? ", style=filled, fillcolor=\"#e8f0fb\"" : ", style=filled, fillcolor=\"#b9d3f2\"";
    if (!n.op) style += ", peripheries=2";  // leaves: the data and the parameters
    out += fmt::format("  n{} [label=\"{}\"{}];\n", i, escaped(label), style);
  }
  // Edges in the order of the ops' inputs, each op's edges together.
  for (auto it = edges.rbegin(); it != edges.rend(); ++it) out += fmt::format("  n{} -> n{};\n", it->first, it->second);
  return out + "}\n";
}

template std::string to_dot<float>(const TensorT<float>&);
template std::string to_dot<double>(const TensorT<double>&);

}  // namespace slope
