// Spiral data, splits, preprocessing, gathering and the minibatch iterator.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "slope/data.hpp"

using namespace slope;
using Catch::Matchers::WithinAbs;

namespace {

// N images of 2 x 2 pixels; image i has every pixel equal to `value(i)`.
data::Dataset tiny_images(std::size_t n, std::uint8_t (*value)(std::size_t)) {
  data::Dataset d;
  d.rows = 2;
  d.cols = 2;
  d.class_names = {"a", "b", "c"};
  for (std::size_t i = 0; i < n; ++i) {
    d.pixels.insert(d.pixels.end(), 4, value(i));
    d.labels.push_back(static_cast<std::int32_t>(i % 3));
  }
  return d;
}

// Runs `batches` to the end of epoch `epochs - 1`, returning every batch.
std::vector<std::vector<std::size_t>> drain(data::Minibatches& batches, std::size_t epochs) {
  std::vector<std::vector<std::size_t>> out;
  for (; batches.epoch() < epochs; batches.next_epoch())
    while (batches.has_next()) {
      auto b = batches.next();
      out.emplace_back(b.begin(), b.end());
    }
  return out;
}

}  // namespace

// ---- spiral -------------------------------------------------------------------

TEST_CASE("the spiral has K balanced classes of 2-D points inside the unit disc") {
  Rng rng{1};
  data::Dataset d = data::spiral(3, 100, rng);
  CHECK(d.size() == 300);
  CHECK(d.dim() == 2);
  CHECK(d.features.size() == 600);
  CHECK(d.pixels.empty());
  CHECK(d.num_classes() == 3);
  std::vector<int> counts(3, 0);
  for (auto y : d.labels) ++counts[static_cast<std::size_t>(y)];
  CHECK(counts == std::vector<int>{100, 100, 100});
  double max_r = 0;
  for (std::size_t i = 0; i < d.size(); ++i)
    max_r = std::max(max_r, std::hypot(double{d.features[2 * i]}, double{d.features[2 * i + 1]}));
  CHECK_THAT(max_r, WithinAbs(1.0, 1e-6));  // the last point of each arm has radius 1
}

TEST_CASE("the spiral is determined by the seed and changes with it") {
  Rng a{7}, b{7}, c{8};
  CHECK(data::spiral(3, 50, a).features == data::spiral(3, 50, b).features);
  Rng a2{7};
  CHECK(data::spiral(3, 50, a2).features != data::spiral(3, 50, c).features);
}

TEST_CASE("the noiseless spiral follows r = i/(N-1), t = 4k + 4r") {
  Rng rng{0};
  data::Dataset d = data::spiral(2, 5, rng, 0.0);
  // Arm 1, point 2: r = 0.5, t = 4 + 2 = 6.
  std::size_t i = 5 + 2;
  CHECK_THAT(d.features[2 * i], WithinAbs(0.5 * std::sin(6.0), 1e-6));
  CHECK_THAT(d.features[2 * i + 1], WithinAbs(0.5 * std::cos(6.0), 1e-6));
}

TEST_CASE("spiral rejects zero classes, zero points and negative noise") {
  Rng rng{0};
  CHECK_THROWS_AS(data::spiral(0, 10, rng), ValueError);
  CHECK_THROWS_AS(data::spiral(3, 0, rng), ValueError);
  CHECK_THROWS_AS(data::spiral(3, 10, rng, -1.0), ValueError);
  CHECK_THROWS_AS(data::spiral(3, data::kMaxExamples, rng), ValueError);
}

// ---- splits and preprocessing ---------------------------------------------------------

TEST_CASE("train_val_split partitions the indices, seeded and sorted") {
  Rng rng{3};
  data::Split s = data::train_val_split(100, 20, rng);
  CHECK(s.val.size() == 20);
  CHECK(s.train.size() == 80);
  CHECK(std::is_sorted(s.train.begin(), s.train.end()));
  CHECK(std::is_sorted(s.val.begin(), s.val.end()));
  std::set<std::size_t> all(s.train.begin(), s.train.end());
  for (auto i : s.val) CHECK(all.insert(i).second);  // disjoint
  CHECK(all.size() == 100);
  CHECK(*all.rbegin() == 99);
  Rng again{3}, other{4};
  CHECK(data::train_val_split(100, 20, again).val == s.val);
  CHECK(data::train_val_split(100, 20, other).val != s.val);
  CHECK_THROWS_AS(data::train_val_split(10, 11, rng), ValueError);
}

TEST_CASE("the mean image comes from the training split only") {
  // Even images are 0, odd ones 255; train on the even ones only.
  data::Dataset d = tiny_images(6, [](std::size_t i) -> std::uint8_t { return i % 2 ? 255 : 0; });
  std::vector<std::size_t> train = {0, 2, 4};
  data::Preprocess p = data::fit_preprocess(d, train);
  CHECK(p.scale == 1.0 / 255.0);
  CHECK(p.mean == std::vector<double>(4, 0.0));
  std::vector<std::size_t> mixed = {0, 1};
  CHECK_THAT(data::mean_image(d, mixed)[3], WithinAbs(0.5, 1e-12));
  CHECK(data::fit_preprocess(d, train, false).mean.empty());
  CHECK_THROWS_AS(data::mean_image(d, std::vector<std::size_t>{}), ValueError);
}

TEST_CASE("gather scales pixels to [0, 1], subtracts the mean and copies labels") {
  data::Dataset d = tiny_images(4, [](std::size_t i) -> std::uint8_t { return static_cast<std::uint8_t>(51 * i); });
  std::vector<std::size_t> train = {0, 1, 2, 3};
  data::Preprocess p = data::fit_preprocess(d, train);  // mean pixel 76.5 / 255 = 0.3
  std::vector<std::size_t> batch = {3, 0};
  std::vector<float> xf(8);
  std::vector<double> xd(8);
  std::vector<std::int32_t> y(2);
  data::gather(d, batch, p, std::span(xf.data(), xf.size()), std::span(y));
  data::gather(d, batch, p, std::span(xd.data(), xd.size()));
  CHECK_THAT(xd[0], WithinAbs(0.6 - 0.3, 1e-12));
  CHECK_THAT(xd[7], WithinAbs(0.0 - 0.3, 1e-12));
  CHECK_THAT(double{xf[0]}, WithinAbs(0.3, 1e-6));
  CHECK(y == std::vector<std::int32_t>{0, 0});
  std::vector<std::size_t> out_of_range = {4};
  CHECK_THROWS_AS(data::gather(d, out_of_range, p, std::span(xf.data(), xf.size()), std::span(y)), ValueError);
  data::Preprocess wrong = p;
  wrong.mean.pop_back();
  CHECK_THROWS_AS(data::gather(d, batch, wrong, std::span(xf.data(), xf.size()), std::span(y)), ValueError);
}

TEST_CASE("gather passes float features through with scale 1") {
  Rng rng{0};
  data::Dataset d = data::spiral(2, 3, rng);
  std::vector<std::size_t> all = data::all_indices(d.size());
  data::Preprocess p = data::fit_preprocess(d, all, false);
  std::vector<double> x(12);
  data::gather(d, all, p, std::span(x.data(), x.size()));
  for (std::size_t j = 0; j < 12; ++j) CHECK(x[j] == double{d.features[j]});
}

TEST_CASE("subset keeps the chosen examples in the given order") {
  data::Dataset d = tiny_images(5, [](std::size_t i) -> std::uint8_t { return static_cast<std::uint8_t>(i); });
  std::vector<std::size_t> pick = {4, 1};
  data::Dataset s = data::subset(d, pick);
  CHECK(s.size() == 2);
  CHECK(s.pixels == std::vector<std::uint8_t>{4, 4, 4, 4, 1, 1, 1, 1});
  CHECK(s.labels == std::vector<std::int32_t>{1, 1});
  CHECK(s.class_names == d.class_names);
}

// ---- minibatches ------------------------------------------------------------------

TEST_CASE("minibatches visit every example exactly once per epoch in a fresh order") {
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < 103; ++i) idx.push_back(2 * i + 1);  // any index list, not 0..n-1
  data::Minibatches batches(idx, 10, Rng{5});
  CHECK(batches.batches_per_epoch() == 11);
  std::vector<std::vector<std::size_t>> orders;
  for (; batches.epoch() < 3; batches.next_epoch()) {
    std::vector<std::size_t> seen;
    std::size_t count = 0;
    while (batches.has_next()) {
      auto b = batches.next();
      CHECK(b.size() == (count == 10 ? 3u : 10u));
      seen.insert(seen.end(), b.begin(), b.end());
      ++count;
    }
    CHECK(count == 11);
    orders.push_back(seen);
    std::sort(seen.begin(), seen.end());
    CHECK(seen == idx);
  }
  CHECK(orders[0] != orders[1]);
  CHECK(orders[1] != orders[2]);
  CHECK(orders[0] != idx);  // shuffled, not in the given order
}

TEST_CASE("next on an exhausted epoch throws until the next epoch starts") {
  data::Minibatches one(data::all_indices(3), 5, Rng{0});
  CHECK(one.next().size() == 3);
  CHECK_FALSE(one.has_next());
  CHECK_THROWS_AS(one.next(), ValueError);
  one.next_epoch();
  CHECK(one.epoch() == 1);
  CHECK(one.next().size() == 3);
}

TEST_CASE("minibatches are deterministic for a seed and differ across seeds") {
  std::vector<std::size_t> idx = data::all_indices(50);
  data::Minibatches a(idx, 8, Rng{11}), b(idx, 8, Rng{11}), c(idx, 8, Rng{12});
  auto ra = drain(a, 2), rb = drain(b, 2), rc = drain(c, 2);
  CHECK(ra == rb);
  CHECK(ra != rc);
}

TEST_CASE("minibatches resumed from a checkpointed position continue exactly") {
  std::vector<std::size_t> idx = data::all_indices(37);
  data::Minibatches reference(idx, 5, Rng{21});
  auto expected = drain(reference, 3);

  // Stop part-way through the second epoch, save, and resume in a fresh iterator.
  data::Minibatches first(idx, 5, Rng{21});
  std::vector<std::vector<std::size_t>> got;
  for (int k = 0; k < 11; ++k) {
    if (!first.has_next()) first.next_epoch();
    auto b = first.next();
    got.emplace_back(b.begin(), b.end());
  }
  REQUIRE(first.epoch() == 1);
  io::Checkpoint ck;
  data::put_position(ck, "data.", first.position());
  io::Checkpoint back = io::Checkpoint::deserialize(ck.serialize(), "memory");

  data::Minibatches resumed(idx, 5, Rng{999});  // a different seed: restore must override it
  resumed.restore(data::get_position(back, "data."));
  CHECK(resumed.epoch() == 1);
  CHECK(resumed.offset() == first.offset());
  auto rest = drain(resumed, 3);
  got.insert(got.end(), rest.begin(), rest.end());
  CHECK(got == expected);
}

TEST_CASE("restore rejects a position that does not fit and leaves the iterator as it was") {
  std::vector<std::size_t> idx = data::all_indices(10);
  data::Minibatches batches(idx, 3, Rng{1});
  const data::BatchPosition before = batches.position();
  data::BatchPosition bad = before;
  SECTION("an order that is not a permutation") {
    bad.order[0] = bad.order[1];
    CHECK_THROWS_AS(batches.restore(bad), ValueError);
  }
  SECTION("an order of another length") {
    bad.order.pop_back();
    CHECK_THROWS_AS(batches.restore(bad), ValueError);
  }
  SECTION("an offset past the end") {
    bad.offset = 11;
    CHECK_THROWS_AS(batches.restore(bad), ValueError);
  }
  SECTION("a malformed Rng state") {
    bad.rng_state = "not a state";
    CHECK_THROWS_AS(batches.restore(bad), ValueError);
  }
  CHECK(batches.position().order == before.order);
  CHECK(batches.position().rng_state == before.rng_state);
  CHECK(batches.offset() == 0);
}

TEST_CASE("get_position reports missing or malformed checkpoint entries") {
  io::Checkpoint ck;
  CHECK_THROWS_AS(data::get_position(ck, "data."), ValueError);
  data::Minibatches batches(data::all_indices(4), 2, Rng{0});
  data::put_position(ck, "data.", batches.position());
  ck.set_meta("data.offset", "12x");
  CHECK_THROWS_AS(data::get_position(ck, "data."), ValueError);
}

TEST_CASE("minibatches reject an empty index list and a batch size of 0") {
  CHECK_THROWS_AS(data::Minibatches({}, 4, Rng{0}), ValueError);
  CHECK_THROWS_AS(data::Minibatches(data::all_indices(3), 0, Rng{0}), ValueError);
}
