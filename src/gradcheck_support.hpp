// The comparison loop that gradcheck and gradgradcheck share (not installed).
#pragma once

#include <functional>
#include <vector>

#include "slope/gradcheck.hpp"

namespace slope::detail {

/// Backward of f once for the analytic gradient, then centred differences of
/// f entry by entry, compared as gradcheck's report describes. f is evaluated
/// under no-grad unless `graph_in_f` (f differentiates inside, as the
/// gradient function of gradgradcheck does).
GradcheckReport compare_with_differences(const std::function<Tensor64(const std::vector<Tensor64>&)>& f,
                                         const std::vector<Tensor64>& inputs, const GradcheckOptions& options,
                                         bool graph_in_f);

}  // namespace slope::detail
