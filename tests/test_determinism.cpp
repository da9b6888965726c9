// Determinism: the same configuration, seed and thread count give
// byte-identical checkpoints (Trainer::save); another seed gives other bytes;
// a run saved half-way and resumed ends in the same bytes as a straight run.
//
// With a different number of BLAS threads OpenBLAS may split the sums of a
// matrix product differently, so floats can differ in the last bits; the
// guarantee is per thread count (docs/reliability.md).
#include <unistd.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include <cstring>
#include <fstream>
#include <iterator>

#include "slope/data.hpp"
#include "slope/data_parallel.hpp"
#include "slope/io.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

namespace fs = std::filesystem;
using namespace slope;
using namespace slope::testing;

namespace {

const data::Dataset& spiral_train() {
  static const data::Dataset d = train::load_dataset("spiral", "", "train");
  return d;
}

// A short run that exercises every random source: initialisation, the
// validation split, shuffling and dropout.
train::Config config(std::uint64_t seed) {
  train::Config c;
  c.model = "two-layer";
  c.hidden = {48};
  c.dropout = {0.2};
  c.optimizer = "adamw";
  c.lr = 1e-2;
  c.lambda = 1e-4;
  c.epochs = 3;
  c.batch = 64;
  c.val_size = 150;
  c.warmup_epochs = 1;
  c.seed = seed;
  return c;
}

// Trains `c` to the end and saves it at `path`.
void run(const train::Config& c, const fs::path& path) {
  train::Trainer t(c, spiral_train());
  while (!t.done()) t.run_epoch();
  t.save(path);
}

}  // namespace

TEST_CASE("two runs with the same seed at one thread save byte-identical checkpoints") {
  set_num_threads(1);
  TempDir dir{"determinism"};
  run(config(5), dir / "a.ckpt");
  run(config(5), dir / "b.ckpt");
  const Bytes a = slurp(dir / "a.ckpt"), b = slurp(dir / "b.ckpt");
  REQUIRE(a.size() > 1000);
  CHECK(a == b);
  // The file really holds a trained run: 3 epochs of ceil(750 / 64) steps.
  const io::Checkpoint ck = io::Checkpoint::load(dir / "a.ckpt");
  CHECK(ck.meta("step") == std::to_string(3 * 12));
}

TEST_CASE("a different seed gives different checkpoint bytes and different weights") {
  set_num_threads(1);
  TempDir dir{"determinism"};
  run(config(5), dir / "a.ckpt");
  run(config(6), dir / "b.ckpt");
  CHECK(slurp(dir / "a.ckpt") != slurp(dir / "b.ckpt"));
  // Not only the recorded seed differs: the trained parameters do too.
  const io::Checkpoint a = io::Checkpoint::load(dir / "a.ckpt");
  const io::Checkpoint b = io::Checkpoint::load(dir / "b.ckpt");
  for (const char* name : {"model/layers.0.W", "model/layers.0.b", "model/layers.2.W", "model/layers.2.b"}) {
    INFO(name);
    CHECK(a.array(name).bytes != b.array(name).bytes);
  }
}

TEST_CASE("saving half-way and resuming ends in the same checkpoint bytes as a straight run") {
  set_num_threads(1);
  TempDir dir{"determinism"};
  run(config(9), dir / "straight.ckpt");
  {
    train::Trainer t(config(9), spiral_train());
    t.run_epoch();
    t.save(dir / "half.ckpt");
  }
  const auto resumed = train::Trainer::resume(dir / "half.ckpt", spiral_train());
  while (!resumed->done()) resumed->run_epoch();
  resumed->save(dir / "resumed.ckpt");
  CHECK(slurp(dir / "resumed.ckpt") == slurp(dir / "straight.ckpt"));
}

TEST_CASE("two runs with the same seed at two threads also save byte-identical checkpoints") {
  set_num_threads(2);
  // A model large enough for the data-parallel step to split every batch in
  // two row shards, one per thread (the small config above runs on one).
  train::Config c = config(5);
  c.hidden = {2048};
  c.batch = 256;
  {
    Rng rng(0);
    const auto probe = train::make_model<float>(c, spiral_train().dim(), spiral_train().num_classes(), rng);
    const DataParallel<float> parallel(probe->parameters());
    REQUIRE(parallel.shards_for(c.batch) == 2);
    REQUIRE(parallel.shards_for(750 % c.batch) == 2);  // the epoch's last, shorter batch too
  }
  TempDir dir{"determinism"};
  run(c, dir / "a.ckpt");
  run(c, dir / "b.ckpt");
  CHECK(slurp(dir / "a.ckpt") == slurp(dir / "b.ckpt"));
  // And the split is real: at one thread the same run ends in other bytes
  // (the shards' gradients are summed in another order).
  set_num_threads(1);
  run(c, dir / "one.ckpt");
  CHECK(slurp(dir / "one.ckpt") != slurp(dir / "a.ckpt"));
}
