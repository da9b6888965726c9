// Everything slope offers, in one include. Each name lives in exactly one of
// these headers; include just that one to keep compile times down.
#pragma once

// The core: tensors, differentiable ops, autograd (gradients of gradients,
// Hessians), gradient checking.
#include "slope/autograd.hpp"
#include "slope/error.hpp"
#include "slope/functional.hpp"
#include "slope/gradcheck.hpp"
#include "slope/graph.hpp"
#include "slope/ops.hpp"
#include "slope/rng.hpp"
#include "slope/runtime.hpp"
#include "slope/shape.hpp"
#include "slope/tensor.hpp"

// Losses, regularizers, optimizers and learning-rate schedules.
#include "slope/loss.hpp"
#include "slope/optim.hpp"
#include "slope/schedule.hpp"

// Data sets, files, models and training.
#include "slope/data.hpp"
#include "slope/io.hpp"
#include "slope/knn.hpp"
#include "slope/nn.hpp"
#include "slope/train.hpp"

// Pictures and the lecture's optimizer landscapes.
#include "slope/landscape.hpp"
#include "slope/plot.hpp"
