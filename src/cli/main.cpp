// The slope program: a thin command-line layer over the library.
// Exit status: 0 success, 1 the run failed (corrupt data, a diverging loss,
// a file that cannot be written), 2 the command line is wrong.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "args.hpp"
#include "commands.hpp"
#include "slope/distributed.hpp"
#include "slope/error.hpp"
#include "slope/runtime.hpp"

namespace {

constexpr const char* kUsage = R"(usage: slope COMMAND [options]

Train and inspect image classifiers with slope, a small reverse-mode autograd framework.

commands:
  train       train a model (default: two-layer net on Fashion-MNIST) and test it
  eval        evaluate a checkpoint or an exported model on a data split
  search      random or grid search of learning rate and lambda on the validation set
  knn         k-nearest neighbours, k chosen on the validation set
  gradcheck   check a model's gradients against finite differences
  plot        draw training curves (SVG), weight templates (PNG) and weight histograms (SVG)

Run 'slope COMMAND --help' for the options of a command.
)";

// OpenBLAS reads OPENBLAS_CORETYPE when it loads, so a better kernel choice
// (slope::better_blas_core) takes a restart of this program with it set:
// before anything else happens, and only for the commands that compute.
// SLOPE_BLAS_CORE=keep keeps OpenBLAS's own choice.
void choose_blas_kernels(char** argv) {
  const char* keep = std::getenv("SLOPE_BLAS_CORE");
  if (keep && std::strcmp(keep, "keep") == 0) return;
  const char* core = slope::better_blas_core();
  if (!core) return;
  ::setenv("OPENBLAS_CORETYPE", core, 1);
  ::execv("/proc/self/exe", argv);  // on failure, go on with the generic kernels
}

// " (rank 1)" in the messages of a process that mpirun started.
std::string rank_suffix() {
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (!rank) rank = std::getenv("PMI_RANK");
  if (!rank || !*rank || std::strlen(rank) > 6 || std::strspn(rank, "0123456789") != std::strlen(rank)) return "";
  return fmt::format(" (rank {})", rank);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace slope::cli;
  if (argc >= 2 && std::strcmp(argv[1], "plot") != 0) choose_blas_kernels(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    fmt::print("{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  // Results that cannot be written are lost results: a failed write to
  // standard output (a full disk, a closed pipe) is a failure, exit 1.
  const auto finish = [&](int status) {
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      fmt::print(stderr, "slope {}: error: cannot write to standard output\n", command);
      return 1;
    }
    return status;
  };
  try {
    if (command == "train") return finish(train_command(argc, argv));
    if (command == "eval") return finish(eval_command(argc, argv));
    if (command == "search") return finish(search_command(argc, argv));
    if (command == "knn") return finish(knn_command(argc, argv));
    if (command == "gradcheck") return finish(gradcheck_command(argc, argv));
    if (command == "plot") return finish(plot_command(argc, argv));
    fmt::print(stderr, "slope: unknown command '{}'\n\n{}", command, kUsage);
    return 2;
  } catch (const UsageError& e) {
    fmt::print(stderr, "slope {}{}: {}\nRun 'slope {} --help' for the options.\n", command, rank_suffix(), e.what(),
               command);
    slope::dist::abort_all(2);
    return 2;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "\nslope {}{}: error: out of memory (a model or data set too large for this machine?)\n",
               command, rank_suffix());
    slope::dist::abort_all(1);
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "\nslope {}{}: error: {}\n", command, rank_suffix(), e.what());
    // Under mpirun the other processes would wait for this one in their next
    // collective: end them all now.
    slope::dist::abort_all(1);
    return 1;
  }
}
