// slope::optim: every optimizer of the lecture, in one include.
//   optimizer.hpp  the Optimizer<T> interface, OptimizerState, clip_grad_norm
//   sgd.hpp        SGD, momentum (both forms), Nesterov
//   adaptive.hpp   AdaGrad, RMSProp
//   adam.hpp       Adam (bias-correction switch, AMSGrad) and AdamW (decoupled decay)
//   lbfgs.hpp      L-BFGS with a strong-Wolfe line search
//   newton_cg.hpp  Hessian-free Newton-CG (Hessian-vector products, damping, line search)
//   solvers.hpp    full-batch gradient descent, random search, Newton's method (exact Hessian)
//   registry.hpp   the optimizers by name (the one table for configs, --help, landscapes)
// The formulas, defaults and torch conventions are listed in docs/optimizers.md.
#pragma once

#include "slope/optim/adam.hpp"
#include "slope/optim/adaptive.hpp"
#include "slope/optim/lbfgs.hpp"
#include "slope/optim/newton_cg.hpp"
#include "slope/optim/optimizer.hpp"
#include "slope/optim/registry.hpp"
#include "slope/optim/sgd.hpp"
#include "slope/optim/solvers.hpp"
