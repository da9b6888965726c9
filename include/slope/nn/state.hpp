// A model's state_dict: its parameters by dotted name, in memory and as a
// safetensors file that NumPy (with json) and PyTorch read.
//
// The file holds one tensor per parameter (float32 for a float model,
// float64 for a double one) and string metadata: "slope.architecture" is the
// model's describe() text; callers add their own (the Trainer adds its model
// settings and preprocessing).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "slope/io.hpp"
#include "slope/nn/module.hpp"

namespace slope::nn {

/// The parameters as named arrays, plus metadata (architecture and `extra`).
template <class T>
io::TensorFile state_dict(const Module<T>& m, const std::map<std::string, std::string>& extra = {});

/// Copies the arrays of `file` into the parameters of the same names,
/// converting float32/float64 as needed. Everything is checked before any
/// parameter changes: ValueError naming the missing and the unexpected names,
/// ShapeError naming a parameter whose shape differs, ValueError for another
/// dtype, NumericError for a NaN or Inf value; `origin` (a path) leads every message.
template <class T>
void load_state_dict(Module<T>& m, const io::TensorFile& file, const std::string& origin = "state_dict");

/// Writes the state_dict atomically as a safetensors file.
template <class T>
void save(const Module<T>& m, const std::filesystem::path& path,
          const std::map<std::string, std::string>& extra = {});
/// Reads a safetensors file into the model (as load_state_dict) and returns its metadata.
template <class T>
std::map<std::string, std::string> load(Module<T>& m, const std::filesystem::path& path);

}  // namespace slope::nn
