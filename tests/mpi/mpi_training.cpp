// Run under mpirun (tests/register_mpi.cmake: 2 and 4 processes): N processes
// training together must compute what one process computes with the same
// global batch. Every rank also trains the one-process reference itself, so
// each compares the two in its own memory.
//
//   - float64, through DataParallel: the two-layer net (with dropout) and a
//     residual model written here, 20 steps of Adam: parameters within 1e-12
//     (relative to each tensor's largest entry);
//   - float32, through the Trainer: the two-layer net and the residual model,
//     one epoch (20 steps) on the spiral: within 1e-5;
//   - every rank holds the same bits after the steps;
//   - resume across N: a one-process checkpoint continued by N processes, and
//     an N-process checkpoint continued by one, both land on the one-process run;
//   - a batch with fewer rows than processes (some ranks get none) still works.
//
// Exit status 0 if every check passed on this rank; each failure is printed
// with the rank. mpirun's status is non-zero if any rank's is.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "slope/data_parallel.hpp"
#include "slope/loss.hpp"
#include "slope/distributed.hpp"
#include "slope/nn.hpp"
#include "slope/optim/adam.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

using namespace slope;

namespace {

int failures = 0;
int rank_ = 0;

void check(bool ok, const std::string& what) {
  if (rank_ == 0 || !ok) fmt::print("{} rank {}: {}\n", ok ? "PASS" : "FAIL", rank_, what);
  if (!ok) ++failures;
}

// h = tanh(x W1 + b1); h = h + relu(dropout(h) W2 + b2); scores = h W3 + b3.
template <class T>
struct ResidualNet : nn::Module<T> {
  nn::Linear<T> in, mid, out;
  nn::Dropout<T> drop;
  ResidualNet(std::size_t inputs, std::size_t hidden, std::size_t classes, Rng& rng, double p)
      : in(this->register_module("in", nn::Linear<T>(inputs, hidden, rng, nn::Init::xavier()))),
        mid(this->register_module("mid", nn::Linear<T>(hidden, hidden, rng, nn::Init::xavier()))),
        out(this->register_module("out", nn::Linear<T>(hidden, classes, rng, nn::Init::xavier()))),
        drop(this->register_module("drop", nn::Dropout<T>(p, rng))) {}
  TensorT<T> forward(const TensorT<T>& x) const override {
    TensorT<T> h = tanh(in(x));
    h = h + relu(mid(drop(h)));
    return out(h);
  }
};

// The largest |a - b| of a tensor relative to its largest |a|, over all
// parameters (NaN counts as infinitely far).
template <class T>
double distance(const std::vector<TensorT<T>>& a, const std::vector<TensorT<T>>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    double scale = 1e-30, diff = 0.0;
    for (std::size_t j = 0; j < a[i].size(); ++j) {
      const double x = a[i].data()[j], y = b[i].data()[j];
      if (!std::isfinite(x) || !std::isfinite(y)) return INFINITY;
      scale = std::max(scale, std::abs(x));
      diff = std::max(diff, std::abs(x - y));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

// Whether every rank holds exactly these bytes.
template <class T>
bool same_on_every_rank(dist::Communicator& comm, const std::vector<TensorT<T>>& params) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& p : params) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(p.data());
    for (std::size_t i = 0; i < p.size() * sizeof(T); ++i) h = (h ^ bytes[i]) * 0x100000001b3ULL;
  }
  const auto [lo, hi] = comm.min_max(h);
  return lo == hi;
}

// 20 Adam steps of `model` on batches of `rows` random rows, the gradients
// from DataParallel over `comm` (nullptr: this process alone).
void train64(nn::Module<double>& model, dist::Communicator* comm, std::size_t rows) {
  constexpr std::size_t kIn = 24, kClasses = 5;
  auto params = model.parameters();
  optim::Adam<double> opt(params, {.lr = 3e-3});
  DataParallelOptions o;
  o.comm = comm;
  o.min_flops_per_shard = 0;  // cut even these small batches into shards
  DataParallel<double> dp(params, o);
  for (std::uint64_t step = 0; step < 20; ++step) {
    Rng rng(1000 + step);  // the same batch on every rank
    const Tensor64 x = randn<double>({rows, kIn}, rng);
    std::vector<std::int32_t> y;
    for (std::size_t i = 0; i < rows; ++i) y.push_back(static_cast<std::int32_t>(rng.below(kClasses)));
    opt.begin_step();
    const double loss = dp.step(rows, [&](const Shard& s) {
      Array<double> a = Array<double>::from_shape({s.rows(), kIn});
      std::copy(x.data() + s.begin * kIn, x.data() + s.end * kIn, a.data());
      // A mean over the shard's rows plus the whole L2 penalty: the step
      // weights shard s by n_s / N, so the penalty counts once in all.
      return softmax_cross_entropy(model.forward(Tensor64(std::move(a))), std::span(y.data() + s.begin, s.rows())) +
             1e-3 * l2(nn::weights(model));
    }, /*key=*/77 + step, DataParallel<double>::SliceFn([&](std::size_t, std::size_t i, std::size_t lo, std::size_t hi) {
      opt.update(i, lo, hi);
    }));
    if (!std::isfinite(loss)) throw NumericError("train64: the loss is not finite");
  }
}

template <class Make>
void check_float64(dist::Communicator& comm, const char* name, Make make, std::size_t rows) {
  Rng r1(5), r2(5);
  auto alone = make(r1);
  auto together = make(r2);
  nn::name_parameters(*alone);
  nn::name_parameters(*together);
  for (auto& p : together->parameters()) p.mutable_value().fill(std::nan(""));  // rank 0's broadcast must fill it
  // Rank 0's initial parameters reach every rank (Horovod's broadcast): here
  // every rank drew the same ones, which the broadcast must keep.
  {
    Rng again(5);
    auto fresh = make(again);
    auto src = fresh->parameters();
    auto dst = together->parameters();
    for (std::size_t i = 0; i < src.size(); ++i) {
      std::vector<std::uint8_t> bytes(src[i].size() * sizeof(double));
      if (comm.rank() == 0) std::memcpy(bytes.data(), src[i].data(), bytes.size());
      comm.broadcast(bytes, 0);
      std::memcpy(dst[i].mutable_value().data(), bytes.data(), bytes.size());
    }
  }
  train64(*alone, nullptr, rows);
  train64(*together, &comm, rows);
  const double d = distance(alone->parameters(), together->parameters());
  check(d <= 1e-12, fmt::format("float64 {}, batch {}: {} processes = one process after 20 Adam steps "
                                "(largest difference {:.2e} of the tensor's scale, bound 1e-12)",
                                name, rows, comm.size(), d));
  check(same_on_every_rank(comm, together->parameters()),
        fmt::format("float64 {}: every rank holds the same parameters", name));
}

train::Config spiral_config(const std::string& model) {
  train::Config c;
  c.model = model;
  c.hidden = {64};
  c.dropout = {0.2};
  c.lr = 1e-2;
  c.batch = 36;  // 720 training points: 20 steps an epoch
  c.epochs = 2;
  c.val_size = 180;
  c.warmup_epochs = 0.5;
  return c;
}

train::ModelFactory residual_factory() {
  return [](Rng& rng) { return std::make_unique<ResidualNet<float>>(2, 32, 3, rng, 0.1); };
}

std::unique_ptr<train::Trainer> make_trainer(const train::Config& c, const data::Dataset& d, bool custom) {
  return custom ? std::make_unique<train::Trainer>(c, d, residual_factory())
                : std::make_unique<train::Trainer>(c, d);
}

void check_trainer(dist::Communicator& comm, const data::Dataset& spiral, bool custom,
                   const std::filesystem::path& dir) {
  const train::Config c = spiral_config("two-layer");
  const std::string name = custom ? "residual user model" : "two-layer net";
  // The reference: one process, two epochs, a checkpoint after the first.
  auto alone = make_trainer(c, spiral, custom);
  alone->run_epoch();
  const auto one_ckpt = dir / fmt::format("alone-{}-{}.ckpt", custom, comm.rank());
  alone->save(one_ckpt);
  const std::vector<Tensor> after_one = [&] {
    std::vector<Tensor> out;
    for (const auto& p : alone->model().parameters()) out.push_back(Tensor(Array<float>(p.value())));
    return out;
  }();
  alone->run_epoch();

  // N processes, the first epoch (20 steps).
  auto together = make_trainer(c, spiral, custom);
  // Every rank but 0 starts from garbage: distribute() must give it rank 0's state.
  if (comm.rank() != 0)
    for (auto& p : together->model().parameters()) p.mutable_value().fill(std::nanf(""));
  together->distribute(comm);
  const train::EpochStats s = together->run_epoch();
  const double d1 = distance(after_one, together->model().parameters());
  check(d1 <= 1e-5, fmt::format("float32 Trainer, {}: {} processes = one process after 20 steps "
                                "(largest difference {:.2e}, bound 1e-5)", name, comm.size(), d1));
  check(same_on_every_rank(comm, together->model().parameters()),
        fmt::format("float32 Trainer, {}: every rank holds the same parameters", name));
  check(s.train_accuracy > 0.0 && s.train_accuracy <= 1.0 && together->step() == 20,
        fmt::format("float32 Trainer, {}: the epoch counts every process's rows (train accuracy {:.3f}, step {})",
                    name, s.train_accuracy, together->step()));

  // An N-process checkpoint, continued by one process.
  const auto n_ckpt = dir / fmt::format("together-{}-{}.ckpt", custom, comm.rank());
  together->save(n_ckpt);
  auto resumed_alone = custom ? train::Trainer::resume(n_ckpt, spiral, residual_factory())
                              : train::Trainer::resume(n_ckpt, spiral);
  resumed_alone->run_epoch();
  const double d2 = distance(alone->model().parameters(), resumed_alone->model().parameters());
  check(d2 <= 1e-5, fmt::format("float32 Trainer, {}: a {}-process checkpoint continued by one process = one "
                                "process all along (difference {:.2e})", name, comm.size(), d2));

  // A one-process checkpoint, continued by N processes.
  auto resumed_together = custom ? train::Trainer::resume(one_ckpt, spiral, residual_factory())
                                 : train::Trainer::resume(one_ckpt, spiral);
  resumed_together->distribute(comm);
  resumed_together->run_epoch();
  const double d3 = distance(alone->model().parameters(), resumed_together->model().parameters());
  check(d3 <= 1e-5, fmt::format("float32 Trainer, {}: a one-process checkpoint continued by {} processes = one "
                                "process all along (difference {:.2e})", name, comm.size(), d3));
  check(resumed_together->step() == 40 && resumed_together->done(),
        fmt::format("float32 Trainer, {}: the resumed run ends at step 40", name));
  std::filesystem::remove(one_ckpt);
  std::filesystem::remove(n_ckpt);
}

}  // namespace

// `mpi_training --stall`, with SLOPE_COLLECTIVE_TIMEOUT=1: rank 1 never
// joins; rank 0's all-reduce must give up after the timeout with an error
// that says so (and then end the run), not wait for ever.
int stall() {
  dist::Communicator& comm = dist::mpi_world();
  if (comm.rank() != 0) {
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return 1;
  }
  try {
    double x = 1.0;
    comm.all_reduce_sum(std::span<double>(&x, 1));
    fmt::print("FAIL rank 0: the all-reduce returned without rank 1\n");
  } catch (const Error& e) {
    fmt::print("gave up as it should: {}\n", e.what());
  }
  std::fflush(stdout);
  dist::abort_all(3);
  return 3;
}

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--stall") == 0) return stall();
  if (argc != 2) {
    std::fprintf(stderr, "usage: mpirun -np N mpi_training SCRATCH_DIR | --stall\n");
    return 2;
  }
  try {
    dist::Communicator& comm = dist::mpi_world();
    rank_ = comm.rank();
    check(comm.size() > 1, fmt::format("started as {} processes ({})", comm.size(), comm.describe()));
    set_num_threads(1);  // the processes share the machine's cores
    const std::filesystem::path dir = argv[1];

    const auto two_layer = [](Rng& rng) {
      return std::make_unique<nn::MLP<double>>(std::vector<std::size_t>{24, 48, 5}, rng,
                                               nn::MLPOptions{.dropout = {0.3}});
    };
    const auto residual = [](Rng& rng) { return std::make_unique<ResidualNet<double>>(24, 32, 5, rng, 0.2); };
    check_float64(comm, "two-layer net", two_layer, 64);
    check_float64(comm, "residual user model", residual, 64);
    // Uneven shares, and a batch with fewer rows than processes.
    check_float64(comm, "two-layer net", two_layer, 37);
    check_float64(comm, "residual user model", residual, 3);

    const data::Dataset spiral = train::load_dataset("spiral", "", "train");
    check_trainer(comm, spiral, false, dir);
    check_trainer(comm, spiral, true, dir);
  } catch (const std::exception& e) {
    fmt::print("FAIL rank {}: {}\n", rank_, e.what());
    std::fflush(stdout);
    dist::abort_all(1);
    return 1;
  }
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}
