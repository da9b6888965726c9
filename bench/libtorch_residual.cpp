// The residual model of `slope_mlp --model residual`, written the way a LibTorch
// user would write it, as the yardstick for that model:
//
//   h1 = relu(x W1 + b1);  h2 = relu(h1 W2 + b2) + h1;  scores = h2 W3 + b3
//
// 784 -> H -> H -> 10 on Fashion-MNIST, inputs / 255 (--center also subtracts the
// training set's mean pixel vector), softmax cross-entropy (batch mean) plus
// reg * sum(W^2) over the three weight matrices, Adam lr 1e-3 or SGD with
// momentum 0.9 at lr 1e-2, float32, batch 256, a fresh permutation every epoch,
// the last partial batch kept, torch::nn::Linear's own initialisation.
// Prints one JSON line with the fields of ../shared/bench/libtorch_mlp.cpp.
//
//   libtorch_residual [--hidden 100] [--epochs 3] [--batch 256] [--threads 1]
//                     [--blas-threads N] [--optimizer adam|sgd] [--lr X]
//                     [--momentum 0.9] [--reg 1e-4] [--seed 0] [--train-size N]
//                     [--data DIR] [--center]
//
// Built by bench/libtorch/CMakeLists.txt (needs Debian's libtorch-dev), never by
// slope's own build. With --threads 2 run it with OMP_WAIT_POLICY=PASSIVE, as
// compare.py does: libgomp's spinning otherwise competes with OpenBLAS's threads.
#include <torch/torch.h>

#include <dlfcn.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// ---- data -----------------------------------------------------------------

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Reads a gzipped IDX file of unsigned bytes: returns the dimensions from its
// header and the payload. Checks the magic number and that the payload is whole.
struct Idx {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> bytes;
};

Idx read_idx_gz(const std::string& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (in == nullptr) throw std::runtime_error("cannot open " + path);
  gzbuffer(in, 1 << 17);
  const auto read_exact = [&](void* dst, std::size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    while (n > 0) {
      const unsigned step = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
      const int got = gzread(in, out, step);
      if (got <= 0) {
        gzclose(in);
        throw std::runtime_error(path + ": file ends early");
      }
      out += got;
      n -= static_cast<std::size_t>(got);
    }
  };
  unsigned char magic[4];
  read_exact(magic, 4);
  // Two zero bytes, type 0x08 = unsigned byte, then the number of dimensions.
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0 || magic[3] > 4) {
    gzclose(in);
    throw std::runtime_error(path + ": not an IDX file of unsigned bytes");
  }
  Idx idx;
  std::size_t total = 1;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    read_exact(b, 4);
    idx.dims.push_back(big_endian_u32(b));
    total *= idx.dims.back();
  }
  idx.bytes.resize(total);
  read_exact(idx.bytes.data(), total);
  gzclose(in);
  return idx;
}

struct Split {
  torch::Tensor x;  // [n, 784] float32, pixels / 255
  torch::Tensor y;  // [n] int64
};

Split read_split(const std::string& dir, const std::string& prefix) {
  const Idx images = read_idx_gz(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const Idx labels = read_idx_gz(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0])
    throw std::runtime_error(dir + "/" + prefix + ": images and labels do not match");
  const std::int64_t n = images.dims[0], features = images.dims[1] * images.dims[2];
  // from_blob borrows the vectors; the conversions below make tensors that own their memory.
  auto pixels = torch::from_blob(const_cast<std::uint8_t*>(images.bytes.data()), {n, features}, torch::kUInt8);
  auto classes = torch::from_blob(const_cast<std::uint8_t*>(labels.bytes.data()), {n}, torch::kUInt8);
  return {pixels.to(torch::kFloat32).mul_(1.0 / 255.0), classes.to(torch::kInt64)};
}

// ---- model ----------------------------------------------------------------

struct ResidualNetImpl : torch::nn::Module {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};

  ResidualNetImpl(std::int64_t in, std::int64_t hidden, std::int64_t classes)
      : fc1(register_module("fc1", torch::nn::Linear(in, hidden))),
        fc2(register_module("fc2", torch::nn::Linear(hidden, hidden))),
        fc3(register_module("fc3", torch::nn::Linear(hidden, classes))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h1 = torch::relu(fc1(x));
    torch::Tensor h2 = torch::relu(fc2(h1)) + h1;
    return fc3(h2);
  }

  // sum(W^2) over the weight matrices; the biases are not regularised.
  torch::Tensor weight_square_sum() {
    return fc1->weight.square().sum() + fc2->weight.square().sum() + fc3->weight.square().sum();
  }
};
TORCH_MODULE(ResidualNet);

// ---- command line ---------------------------------------------------------

struct Options {
  int hidden = 100, epochs = 3, batch = 256, threads = 1, blas_threads = 0, seed = 0;
  std::int64_t train_size = 0;  // 0: the whole training split
  std::string optimizer = "adam", data = "/usr/share/datasets/fashion-mnist";
  double lr = 0.0, momentum = 0.9, reg = 1e-4;
  bool center = false;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--center") {
      o.center = true;
      continue;
    }
    static const char* const with_value[] = {"--hidden", "--epochs", "--batch", "--threads", "--blas-threads",
                                             "--optimizer", "--lr", "--momentum", "--reg", "--seed",
                                             "--train-size", "--data"};
    if (std::find(std::begin(with_value), std::end(with_value), flag) == std::end(with_value))
      throw std::runtime_error("unknown option " + flag);
    if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--hidden") o.hidden = std::stoi(value);
    else if (flag == "--epochs") o.epochs = std::stoi(value);
    else if (flag == "--batch") o.batch = std::stoi(value);
    else if (flag == "--threads") o.threads = std::stoi(value);
    else if (flag == "--blas-threads") o.blas_threads = std::stoi(value);
    else if (flag == "--optimizer") o.optimizer = value;
    else if (flag == "--lr") o.lr = std::stod(value);
    else if (flag == "--momentum") o.momentum = std::stod(value);
    else if (flag == "--reg") o.reg = std::stod(value);
    else if (flag == "--seed") o.seed = std::stoi(value);
    else if (flag == "--train-size") o.train_size = std::stoll(value);
    else o.data = value;  // --data
  }
  if (o.optimizer != "adam" && o.optimizer != "sgd") throw std::runtime_error("--optimizer must be adam or sgd");
  if (o.hidden <= 0 || o.epochs <= 0 || o.batch <= 0 || o.threads <= 0)
    throw std::runtime_error("--hidden, --epochs, --batch and --threads must be positive");
  return o;
}

// torch's fp32 CPU matrix products go to the system BLAS (OpenBLAS on Debian),
// whose thread pool is not torch's OpenMP one. Looked up at run time so the
// program also links against a torch without OpenBLAS; -1 when there is none.
int set_openblas_threads(int n) {
  using setter = void (*)(int);
  using getter = int (*)();
  auto set = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<getter>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set != nullptr && n > 0) set(n);
  return get != nullptr ? get() : -1;
}

double median_after_first(const std::vector<double>& epoch_s) {
  std::vector<double> v(epoch_s.size() > 1 ? epoch_s.begin() + 1 : epoch_s.begin(), epoch_s.end());
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size();
  return m % 2 == 1 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse_options(argc, argv);
  torch::set_num_threads(o.threads);
  const int blas_threads = set_openblas_threads(o.blas_threads > 0 ? o.blas_threads : o.threads);
  torch::manual_seed(o.seed);

  using clock = std::chrono::steady_clock;
  const auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };

  const auto t_load = clock::now();
  Split train = read_split(o.data, "train");
  Split test = read_split(o.data, "t10k");
  if (o.train_size > 0 && o.train_size < train.x.size(0)) {
    train.x = train.x.narrow(0, 0, o.train_size).clone();
    train.y = train.y.narrow(0, 0, o.train_size).clone();
  }
  if (o.center) {
    const torch::Tensor mean = train.x.mean(0, /*keepdim=*/true);
    train.x.sub_(mean);
    test.x.sub_(mean);
  }
  const double load_s = since(t_load);

  ResidualNet net(784, o.hidden, 10);
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (o.optimizer == "adam") {
    optimizer = std::make_unique<torch::optim::Adam>(net->parameters(),
                                                     torch::optim::AdamOptions(o.lr > 0 ? o.lr : 1e-3));
  } else {
    optimizer = std::make_unique<torch::optim::SGD>(
        net->parameters(), torch::optim::SGDOptions(o.lr > 0 ? o.lr : 1e-2).momentum(o.momentum));
  }

  const std::int64_t n = train.x.size(0);
  std::vector<double> epoch_s;
  double train_loss = 0.0;
  net->train();
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const auto t_epoch = clock::now();
    const torch::Tensor order = torch::randperm(n, torch::TensorOptions().dtype(torch::kInt64));
    double loss_sum = 0.0;
    std::int64_t steps = 0;
    for (std::int64_t start = 0; start < n; start += o.batch) {
      const torch::Tensor rows = order.slice(0, start, std::min(n, start + o.batch));
      const torch::Tensor xb = train.x.index_select(0, rows);
      const torch::Tensor yb = train.y.index_select(0, rows);
      torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(xb), yb) +
                           o.reg * net->weight_square_sum();
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      loss_sum += loss.item<double>();
      ++steps;
    }
    epoch_s.push_back(since(t_epoch));
    train_loss = loss_sum / static_cast<double>(steps);
  }

  double test_acc = 0.0;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    const torch::Tensor predicted = net->forward(test.x).argmax(1);
    test_acc = predicted.eq(test.y).to(torch::kFloat64).mean().item<double>();
  }

  double train_s = 0.0;
  std::string epochs_json;
  for (const double t : epoch_s) {
    train_s += t;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.4f", epochs_json.empty() ? "" : ", ", t);
    epochs_json += buf;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"impl\": \"libtorch_residual\", \"model\": \"residual\", \"hidden\": %d, \"epochs\": %d, \"batch\": %d, "
      "\"optimizer\": \"%s\", \"seed\": %d, \"threads\": %d, \"blas_threads\": %d, \"train_size\": %lld, "
      "\"sec_per_epoch\": %.4f, \"epoch_s\": [%s], \"train_s\": %.4f, \"load_s\": %.4f, \"train_loss\": %.6f, "
      "\"test_acc\": %.4f, \"peak_rss_mb\": %.1f, \"torch\": \"%s\"}\n",
      o.hidden, o.epochs, o.batch, o.optimizer.c_str(), o.seed, torch::get_num_threads(), blas_threads,
      static_cast<long long>(n), median_after_first(epoch_s), epochs_json.c_str(), train_s, load_s, train_loss,
      test_acc, static_cast<double>(usage.ru_maxrss) / 1024.0, TORCH_VERSION);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "libtorch_residual: %s\n", e.what());
  return 1;
}
