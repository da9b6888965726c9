// Models in the DSL: the module contract (nn/module.hpp), the layers
// (nn/layers.hpp), the lecture's models (nn/models.hpp) and state_dict files
// (nn/state.hpp), in one include.
#pragma once

#include "slope/nn/layers.hpp"
#include "slope/nn/models.hpp"
#include "slope/nn/module.hpp"
#include "slope/nn/state.hpp"
