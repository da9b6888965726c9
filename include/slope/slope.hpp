// Everything slope offers, in one include.
#pragma once

#include "slope/error.hpp"
#include "slope/gradcheck.hpp"
#include "slope/ops.hpp"
#include "slope/rng.hpp"
#include "slope/shape.hpp"
#include "slope/tensor.hpp"
