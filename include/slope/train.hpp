// Training: the settings of a run (train/config.hpp), the tables of names
// (train/registry.hpp) and the Trainer for any model (train/trainer.hpp).
#pragma once

#include "slope/train/config.hpp"
#include "slope/train/registry.hpp"
#include "slope/train/trainer.hpp"
