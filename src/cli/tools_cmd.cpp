// slope search, slope knn and slope gradcheck.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "slope/gradcheck.hpp"
#include "slope/knn.hpp"

namespace slope::cli {

namespace {

std::pair<double, double> range_option(const Args& args, const std::string& name, double lo, double hi) {
  if (!args.has(name)) return {lo, hi};
  const std::string v = args.get(name);
  const auto comma = v.find(',');
  const auto number = [&](std::size_t from, std::size_t to, double& x) {  // the whole text, finite
    const auto [end, ec] = std::from_chars(v.data() + from, v.data() + to, x);
    return from < to && ec == std::errc() && end == v.data() + to && std::isfinite(x);
  };
  double a = 0, b = 0;
  if (comma == std::string::npos || !number(0, comma, a) || !number(comma + 1, v.size(), b) || !(a > 0) ||
      !(b >= a))
    throw UsageError(fmt::format("--{}: expected LO,HI with 0 < LO <= HI, both finite, got '{}'", name, v));
  return {a, b};
}

std::vector<std::size_t> size_list(const Args& args, const std::string& name, const std::string& fallback) {
  std::vector<std::size_t> out;
  std::istringstream in(args.get(name, fallback));
  for (std::string part; std::getline(in, part, ',');) {
    std::size_t v = 0;  // from_chars: no sign, no space, and out of range is an error, not LONG_MAX
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v == 0 || v > data::kMaxExamples)
      throw UsageError(fmt::format("--{}: expected integers in [1, {}] like 1,3,5, got '{}'", name,
                                   data::kMaxExamples, args.get(name, fallback)));
    out.push_back(v);
  }
  if (out.empty() || args.get(name, fallback).back() == ',')
    throw UsageError(fmt::format("--{}: expected integers like 1,3,5, got '{}'", name, args.get(name, fallback)));
  return out;
}

}  // namespace

int search_command(int argc, char** argv) {
  auto specs = config_options();
  specs.push_back({"search", "KIND", "random (log-uniform draws) or grid", "random"});
  specs.push_back({"trials", "N", "random search: number of settings tried", "8"});
  specs.push_back({"points", "N", "grid search: values per axis", "3"});
  specs.push_back({"lr-range", "LO,HI", "learning rates searched", "1e-4,1e-2"});
  specs.push_back({"lambda-range", "LO,HI", "regularization strengths searched", "1e-6,1e-2"});
  for (auto& s : specs)
    if (s.name == "epochs") s.fallback = "2";
  Args args(argc, argv, 2, specs, "search");
  if (args.help()) {
    fmt::print("{}", usage("search", "Search the learning rate and lambda, scoring each setting on the\n"
                                     "validation set (never the test set).", specs));
    return 0;
  }
  train::Config base = config_from(args);
  if (!args.has("epochs")) base.epochs = 2;
  const std::string kind = args.get("search", "random");
  if (kind != "random" && kind != "grid")
    throw UsageError(fmt::format("--search: expected random or grid, got '{}'", kind));
  const auto [lr_lo, lr_hi] = range_option(args, "lr-range", 1e-4, 1e-2);
  const auto [lam_lo, lam_hi] = range_option(args, "lambda-range", 1e-6, 1e-2);
  const long trials = args.integer("trials", 8, 1, 100000);
  const long points = args.integer("points", 3, 1, 300);
  apply_threads(args);
  const data::Dataset train_set = load_data(args, "train");
  if (!args.has("val-size") && train_set.size() < 2 * base.val_size) base.val_size = train_set.size() / 5;
  check_val_size(base, train_set);

  // Learning rate and lambda vary over orders of magnitude: sample their logs.
  std::vector<std::pair<double, double>> settings;
  const auto at = [](double lo, double hi, double f) { return std::exp(std::log(lo) + f * (std::log(hi) - std::log(lo))); };
  if (kind == "grid") {
    for (long i = 0; i < points; ++i)
      for (long j = 0; j < points; ++j) {
        const double fi = points > 1 ? double(i) / double(points - 1) : 0.5;
        const double fj = points > 1 ? double(j) / double(points - 1) : 0.5;
        settings.emplace_back(at(lr_lo, lr_hi, fi), at(lam_lo, lam_hi, fj));
      }
  } else {
    Rng rng(base.seed + 12345);
    for (long t = 0; t < trials; ++t) {
      const double fi = rng.uniform(), fj = rng.uniform();
      settings.emplace_back(at(lr_lo, lr_hi, fi), at(lam_lo, lam_hi, fj));
    }
  }
  if (base.reg == "none") base.reg = "l2";
  fmt::print("slope search: {} {} settings of lr and lambda, {} epochs each, scored on {} validation examples\n",
             settings.size(), kind, base.epochs, base.val_size);
  fmt::print("{:>5}  {:>10}  {:>10}  {:>9}  {:>9}  {:>8}\n", "trial", "lr", "lambda", "val acc", "val loss", "seconds");
  std::size_t best = 0;
  std::vector<double> scores;
  std::vector<bool> diverged;
  for (std::size_t i = 0; i < settings.size(); ++i) {
    train::Config c = base;
    c.lr = settings[i].first;
    c.lambda = settings[i].second;
    const double t0 = now_seconds();
    train::Trainer trainer(c, train_set);
    train::EpochStats s;
    try {
      while (!trainer.done()) s = trainer.run_epoch();
    } catch (const NumericError&) {
      s.val_accuracy = -1.0;  // a diverged setting is never the best
      s.val_loss = NAN;
    }
    diverged.push_back(s.val_accuracy < 0.0);
    scores.push_back(s.val_accuracy);
    if (s.val_accuracy > scores[best]) best = i;
    if (diverged.back())
      fmt::print("{:>5}  {:>10.3e}  {:>10.3e}  {:>9}  {:>9}  {:>8.1f}\n", i + 1, c.lr, c.lambda, "diverged", "-",
                 now_seconds() - t0);
    else
      fmt::print("{:>5}  {:>10.3e}  {:>10.3e}  {:>8.2f}%  {:>9.4f}  {:>8.1f}\n", i + 1, c.lr, c.lambda,
                 100 * s.val_accuracy, s.val_loss, now_seconds() - t0);
    std::fflush(stdout);
  }
  if (std::none_of(diverged.begin(), diverged.end(), [](bool d) { return !d; }))
    throw NumericError(fmt::format("search: every one of the {} settings diverged; try smaller learning rates "
                                   "(--lr-range)", settings.size()));
  fmt::print("best: lr {:.3e}, lambda {:.3e}, validation accuracy {:.2f}%\n", settings[best].first,
             settings[best].second, 100 * scores[best]);
  fmt::print("{{\"command\": \"search\", \"best_lr\": {}, \"best_lambda\": {}, \"best_val_accuracy\": {}, "
             "\"trials\": {}}}\n",
             json_number(settings[best].first), json_number(settings[best].second),
             json_number(scores[best]), settings.size());
  return 0;
}

int knn_command(int argc, char** argv) {
  std::vector<OptionSpec> specs{
      {"data", "NAME", "fashion-mnist, mnist, cifar10 or spiral", "fashion-mnist"},
      {"data-dir", "DIR", "directory of the data files", data::kFashionMnistDir},
      {"threads", "N", "BLAS threads", "all cores"},
      {"k", "LIST", "values of k tried on the validation set", "1,3,5,10,20"},
      {"distance", "NAME", "l1, l2 or both", "both"},
      {"train-size", "N", "training points memorised (a random subset)", "5000"},
      {"val-size", "N", "validation points used to choose k", "1000"},
      {"test-size", "N", "test points scored once with the chosen k", "1000"},
      {"seed", "N", "seed of the subsets", "0"},
  };
  Args args(argc, argv, 2, specs, "knn");
  if (args.help()) {
    fmt::print("{}", usage("knn", "k-nearest neighbours: choose k and the distance on the validation set,\n"
                                  "then score the test set once.", specs));
    return 0;
  }
  const auto ks = size_list(args, "k", "1,3,5,10,20");
  const std::string dist = args.get("distance", "both");
  if (dist != "l1" && dist != "l2" && dist != "both")
    throw UsageError(fmt::format("--distance: expected l1, l2 or both, got '{}'", dist));
  const auto n_train = static_cast<std::size_t>(args.integer("train-size", 5000, 1, data::kMaxExamples));
  const auto n_val = static_cast<std::size_t>(args.integer("val-size", 1000, 1, data::kMaxExamples));
  const auto n_test = static_cast<std::size_t>(args.integer("test-size", 1000, 1, data::kMaxExamples));
  apply_threads(args);
  const auto [train_set, test_set] = load_train_test(args);
  if (n_train + n_val > train_set.size())
    throw UsageError(fmt::format("--train-size + --val-size exceed the {} training examples", train_set.size()));
  for (std::size_t k : ks)
    if (k > n_train) throw UsageError(fmt::format("--k: {} exceeds --train-size {}", k, n_train));

  Rng rng(static_cast<std::uint64_t>(args.integer("seed", 0, 0, std::numeric_limits<long>::max())));
  const data::Split split = data::train_val_split(train_set.size(), n_val, rng);
  std::vector<std::size_t> train_idx = split.train;
  rng.shuffle(train_idx.begin(), train_idx.end());
  train_idx.resize(n_train);
  std::vector<std::size_t> test_idx = data::all_indices(test_set.size());
  rng.shuffle(test_idx.begin(), test_idx.end());
  test_idx.resize(std::min(n_test, test_idx.size()));
  const data::Preprocess prep = data::fit_preprocess(train_set, train_idx, false);
  const auto batch = [&](const data::Dataset& d, const std::vector<std::size_t>& idx,
                         std::vector<std::int32_t>& y) {
    xt::xarray<float> x = xt::xarray<float>::from_shape({idx.size(), d.dim()});
    y.resize(idx.size());
    data::gather<float>(d, idx, prep, std::span<float>(x.data(), x.size()), y);
    return x;
  };
  std::vector<std::int32_t> ytr, yval, yte;
  // Gather first: the labels are filled by batch(), and the order in which a
  // call's arguments are evaluated is unspecified.
  xt::xarray<float> xtr = batch(train_set, train_idx, ytr);
  knn::NearestNeighbor model(std::move(xtr), ytr, train_set.num_classes());
  const auto xval = batch(train_set, split.val, yval);
  const auto xte = batch(test_set, test_idx, yte);
  const auto acc = [](const std::vector<std::int32_t>& p, const std::vector<std::int32_t>& y) {
    std::size_t hits = 0;
    for (std::size_t i = 0; i < y.size(); ++i) hits += p[i] == y[i];
    return static_cast<double>(hits) / static_cast<double>(y.size());
  };
  fmt::print("slope knn: {} training points, {} validation, {} test\n", n_train, yval.size(), yte.size());
  fmt::print("{:>8}  {:>4}  {:>8}\n", "distance", "k", "val acc");
  double best_acc = -1;
  std::size_t best_k = ks[0];
  knn::Distance best_d = knn::Distance::l1;
  for (auto d : {knn::Distance::l1, knn::Distance::l2}) {
    const char* name = d == knn::Distance::l1 ? "l1" : "l2";
    if (dist != "both" && dist != name) continue;
    const auto preds = model.predict(xval, ks, d);
    for (std::size_t q = 0; q < ks.size(); ++q) {
      const double a = acc(preds[q], yval);
      fmt::print("{:>8}  {:>4}  {:>7.2f}%\n", name, ks[q], 100 * a);
      if (a > best_acc) best_acc = a, best_k = ks[q], best_d = d;
    }
  }
  const std::size_t one[] = {best_k};
  const double test_acc = acc(model.predict(xte, one, best_d)[0], yte);
  const char* best_name = best_d == knn::Distance::l1 ? "l1" : "l2";
  fmt::print("chosen on validation: {} distance, k = {} ({:.2f}%); test accuracy {:.2f}%\n", best_name,
             best_k, 100 * best_acc, 100 * test_acc);
  fmt::print("{{\"command\": \"knn\", \"distance\": \"{}\", \"k\": {}, \"val_accuracy\": {}, \"test_accuracy\": {}}}\n",
             best_name, best_k, json_number(best_acc), json_number(test_acc));
  return 0;
}

int gradcheck_command(int argc, char** argv) {
  auto specs = config_options();
  specs.push_back({"examples", "N", "examples in the checked batch", "4"});
  specs.push_back({"entries", "N", "entries checked per parameter, at random (0: all)", "20"});
  for (auto& s : specs)
    if (s.name == "hidden") s.fallback = "16";
  Args args(argc, argv, 2, specs, "gradcheck");
  if (args.help()) {
    fmt::print("{}", usage("gradcheck", "Check the model's analytic gradients (float64) against centred\n"
                                        "finite differences on a few examples.", specs));
    return 0;
  }
  train::Config c = config_from(args);
  if (!args.has("hidden")) c.hidden = {16};
  const auto n = static_cast<std::size_t>(args.integer("examples", 4, 1, 100000));
  const auto entries = static_cast<std::size_t>(args.integer("entries", 20, 0, 1L << 30));
  apply_threads(args);
  const data::Dataset train_set = load_data(args, "train");
  if (n > train_set.size()) throw UsageError("--examples exceeds the training set");
  // The configured model in float64, from the same table `slope train` builds
  // it from, checked on a few examples through the same loss and penalty.
  Rng rng(c.seed);
  const std::unique_ptr<nn::Module<double>> model =
      train::make_model<double>(c, train_set.dim(), train_set.num_classes(), rng);
  nn::name_parameters(*model);
  model->eval();  // dropout off: finite differences need a deterministic function
  std::vector<std::size_t> idx(n);
  for (auto& i : idx) i = rng.below(train_set.size());
  const data::Preprocess prep = data::fit_preprocess(train_set, data::all_indices(train_set.size()), c.center);
  const data::Batch<double> b = data::batch<double>(train_set, idx, prep);
  const std::vector<Tensor64> weights = nn::weights(*model);
  const auto f = [&](const std::vector<Tensor64>&) {
    return train::data_loss(c.loss, model->forward(b.x), b.y) + train::regularization(c, weights);
  };
  GradcheckOptions options;
  options.max_entries_per_input = entries;
  options.seed = c.seed;
  const GradcheckReport report = gradcheck(f, model->parameters(), options);
  fmt::print("slope gradcheck: {} model {}, {} loss, {} lambda {:.3g}, {} examples, {} entries checked\n",
             c.model, model->describe(), c.loss, c.reg, c.lambda, n, report.checked);
  fmt::print("{:>12}  {:>12}  {:>14}  {:>14}  {:>10}\n", "param", "worst entry", "analytic", "numerical", "rel error");
  for (const auto& e : report.worst)
    fmt::print("{:>12}  {:>12}  {:>14.6e}  {:>14.6e}  {:>10.2e}\n", e.name, to_string(e.index), e.analytic,
               e.numerical, e.rel_error);
  fmt::print("{}\n", report.message());
  fmt::print("{{\"command\": \"gradcheck\", \"ok\": {}, \"checked\": {}, \"max_rel_error\": {}}}\n",
             report.ok ? "true" : "false", report.checked, json_number(report.max_rel_error()));
  return report.ok ? 0 : 1;
}

}  // namespace slope::cli
