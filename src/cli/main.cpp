// The slope program: a thin command-line layer over the library.
// Exit status: 0 success, 1 the run failed (corrupt data, a diverging loss,
// a file that cannot be written), 2 the command line is wrong.
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "args.hpp"
#include "commands.hpp"
#include "slope/error.hpp"

namespace {

constexpr const char* kUsage = R"(usage: slope COMMAND [options]

Train and inspect image classifiers with slope, a small reverse-mode autograd framework.

commands:
  train       train a model (default: two-layer net on Fashion-MNIST) and test it
  eval        evaluate a checkpoint on a data split
  search      random or grid search of learning rate and lambda on the validation set
  knn         k-nearest neighbours, k chosen on the validation set
  gradcheck   check a model's gradients against finite differences
  plot        draw training curves (SVG), weight templates (PNG) and weight histograms (SVG)

Run 'slope COMMAND --help' for the options of a command.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace slope::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    fmt::print("{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    if (command == "train") return train_command(argc, argv);
    if (command == "eval") return eval_command(argc, argv);
    if (command == "search") return search_command(argc, argv);
    if (command == "knn") return knn_command(argc, argv);
    if (command == "gradcheck") return gradcheck_command(argc, argv);
    if (command == "plot") return plot_command(argc, argv);
    fmt::print(stderr, "slope: unknown command '{}'\n\n{}", command, kUsage);
    return 2;
  } catch (const UsageError& e) {
    fmt::print(stderr, "slope {}: {}\nRun 'slope {} --help' for the options.\n", command, e.what(), command);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "\nslope {}: error: {}\n", command, e.what());
    return 1;
  }
}
