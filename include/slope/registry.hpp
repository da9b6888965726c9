// Names are data in one table per kind (optimizers, models, losses,
// regularizers, schedules, data sets, activations): an entry has a `name`, a
// `help` text and factories. Config parsing, validation, --help, the
// landscapes and the tests all read the same table, so adding an optimizer or
// a model is one entry. These are the lookups every table shares.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope {

/// "sgd, momentum, adam": the names of a table, in its order.
template <class Entry>
std::string entry_names(const std::vector<Entry>& table) {
  std::string out;
  for (const auto& e : table) out += (out.empty() ? "" : ", ") + std::string(e.name);
  return out;
}

/// The entry named `name`, or nullptr.
template <class Entry>
const Entry* find_entry(const std::vector<Entry>& table, std::string_view name) {
  for (const auto& e : table)
    if (name == e.name) return &e;
  return nullptr;
}

/// The entry named `name`; ValueError "<kind>: unknown name 'x' (a, b, c)" otherwise.
template <class Entry>
const Entry& entry(const std::vector<Entry>& table, std::string_view name, std::string_view kind) {
  if (const Entry* e = find_entry(table, name)) return *e;
  throw ValueError(fmt::format("{}: unknown name '{}' ({})", kind, name, entry_names(table)));
}

}  // namespace slope
