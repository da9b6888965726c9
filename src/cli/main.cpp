// The slope program: a thin command-line layer over the library.
// Exit status: 0 success, 1 the run failed (corrupt data, a diverging loss,
// a file that cannot be written), 2 the command line is wrong.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
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

// Diagnostics go to stderr on a best-effort basis: a closed or full stderr
// must not turn an error report into a crash (fmt::print would throw).
void say(const std::string& text) {
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

// Standard streams the caller closed. A file slope opens later would get the
// lowest free descriptor, 1 say, and the results printed for the terminal
// would go into the checkpoint or the metrics. Each closed one is taken by
// /dev/null opened read-only: reading it gives end of file, writing to it
// fails, so a closed stdout is still seen as one. Returns false if stdout
// cannot be written (closed, or open only for reading).
bool guard_standard_streams() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0 && null != fd) {
      ::dup2(null, fd);
      ::close(null);
    }
  }
  const int mode = ::fcntl(1, F_GETFL);
  return mode != -1 && (mode & O_ACCMODE) != O_RDONLY;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace slope::cli;
  const std::string command = argc >= 2 ? argv[1] : "";
  // A write past the file size limit (ulimit -f) must fail with EFBIG, which
  // is reported, not kill the process half-way through a file.
  std::signal(SIGXFSZ, SIG_IGN);
  if (!guard_standard_streams()) {
    say(fmt::format("slope{}{}: error: cannot write to standard output (it is closed or read-only); nothing was "
                    "run\n", command.empty() ? "" : " ", command));
    return 1;
  }
  if (argc >= 2 && std::strcmp(argv[1], "plot") != 0) choose_blas_kernels(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    fmt::print("{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  // Results that cannot be written are lost results: a failed write to
  // standard output (a full disk, a closed pipe) is a failure, exit 1.
  const auto finish = [&](int status) {
    errno = 0;
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      say(fmt::format("slope {}: error: cannot write to standard output{}{}\n", command, errno ? ": " : "",
                      errno ? std::strerror(errno) : ""));
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
    say(fmt::format("slope: unknown command '{}'\n\n{}", command, kUsage));
    return 2;
  } catch (const UsageError& e) {
    say(fmt::format("slope {}{}: {}\nRun 'slope {} --help' for the options.\n", command, rank_suffix(), e.what(),
                    command));
    slope::dist::abort_all(2);
    return 2;
  } catch (const std::bad_alloc&) {
    say(fmt::format("\nslope {}{}: error: out of memory (a model or data set too large for this machine?)\n",
                    command, rank_suffix()));
    slope::dist::abort_all(1);
    return 1;
  } catch (const std::exception& e) {
    // fmt throws when a buffered write to stdout fails: name the stream.
    if (std::ferror(stdout))
      say(fmt::format("\nslope {}{}: error: cannot write to standard output ({})\n", command, rank_suffix(),
                      e.what()));
    else
      say(fmt::format("\nslope {}{}: error: {}\n", command, rank_suffix(), e.what()));
    // Under mpirun the other processes would wait for this one in their next
    // collective: end them all now.
    slope::dist::abort_all(1);
    return 1;
  }
}
