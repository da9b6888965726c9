// Data sets, preprocessing, train/validation splits and minibatches.
//
// A Dataset keeps images compact (uint8, N x D, row-major) and converts them
// only when a minibatch is gathered into caller-provided float or double
// buffers: scale to [0, 1], subtract the mean image of the training split.
//
// Every file reader validates before it allocates: exact magic, element type
// and rank; dimensions positive and under the caps below; sizes computed with
// overflow checks; the bytes present equal the bytes the header promises (gzip
// is inflated to at most the promised size plus one byte); labels within the
// class count; image and label counts agree. Failures throw slope::IoError
// "<file>: <what is wrong>".
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "slope/error.hpp"
#include "slope/io.hpp"
#include "slope/rng.hpp"
#include "slope/tensor.hpp"

namespace slope::data {

// ---- caps -----------------------------------------------------------------------

/// Most examples in one IDX file (MNIST-style sets hold 60000).
inline constexpr std::size_t kMaxExamples = std::size_t{1} << 24;  // 16,777,216
/// Largest IDX image side, rows or columns (MNIST-style sets use 28).
inline constexpr std::size_t kMaxImageSide = 4096;
/// Largest pixel payload of one IDX file (Fashion-MNIST train is 47 MB).
inline constexpr std::uint64_t kMaxImageBytes = std::uint64_t{1} << 30;  // 1 GiB
/// Most records in one CIFAR-10 batch file (real files hold 10000).
inline constexpr std::size_t kMaxCifarRecords = 100000;
/// Deflate expands at most about 1032:1, so a .gz file of n bytes that
/// promises more than this many times n bytes is cut short; caught before allocating.
inline constexpr std::uint64_t kMaxGzipRatio = 1032;

/// Where the Debian package dataset-fashion-mnist installs its IDX files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// ---- the data set ---------------------------------------------------------------

/// N labelled examples of D = rows * cols * channels values each. Image sets
/// fill `pixels`; sets of real-valued points (spiral) fill `features`.
struct Dataset {
  std::string name;                      // "fashion-mnist/train", "spiral", ...
  std::size_t rows = 0, cols = 0, channels = 1;  // CIFAR-10 pixels are channel-major (3 x 32 x 32)
  std::vector<std::uint8_t> pixels;      // N x D, or empty
  std::vector<float> features;           // N x D, or empty
  std::vector<std::int32_t> labels;      // N, each in [0, num_classes())
  std::vector<std::string> class_names;  // one per class

  std::size_t size() const { return labels.size(); }
  std::size_t dim() const { return rows * cols * channels; }
  std::size_t num_classes() const { return class_names.size(); }
  bool has_pixels() const { return !pixels.empty(); }
};

/// The examples at `indices`, in that order (ValueError on an index out of range).
Dataset subset(const Dataset& data, std::span<const std::size_t> indices);

// ---- readers ----------------------------------------------------------------------

/// Images of an IDX file with magic 0x00000803 (unsigned bytes, rank 3: count,
/// rows, cols), raw or gzip (detected by the bytes 1f 8b).
struct IdxImages {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count x rows x cols
};
IdxImages read_idx_images(const std::filesystem::path& path);

/// Labels of an IDX file with magic 0x00000801 (unsigned bytes, rank 1), each
/// checked to be below `num_classes`.
std::vector<std::int32_t> read_idx_labels(const std::filesystem::path& path,
                                          std::size_t num_classes = 10);

/// An image file and its label file; IoError naming both if their counts differ.
/// With no class names, the classes are "0" .. "9".
Dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                 std::vector<std::string> class_names = {});

/// A split ("train" or "test") of an MNIST-layout directory: the files
/// <p>-images-idx3-ubyte[.gz] and <p>-labels-idx1-ubyte[.gz], p = "train" or "t10k".
Dataset load_idx_split(const std::filesystem::path& dir, std::string_view split,
                       std::vector<std::string> class_names = {});

/// Fashion-MNIST ("train": 60000, "test": 10000 images of 28 x 28) with its class names.
Dataset fashion_mnist(std::string_view split,
                      const std::filesystem::path& dir = kFashionMnistDir);
const std::vector<std::string>& fashion_mnist_classes();

/// One CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes
/// (1024 red, 1024 green, 1024 blue, each 32 x 32 row-major).
Dataset read_cifar10_batch(const std::filesystem::path& path);
/// "train" (data_batch_1.bin .. data_batch_5.bin) or "test" (test_batch.bin).
Dataset cifar10(std::string_view split, const std::filesystem::path& dir);
const std::vector<std::string>& cifar10_classes();

// ---- synthetic data ---------------------------------------------------------------

/// The CS231n spiral: `classes` arms of `points_per_class` 2-D points. Point i
/// of arm k has radius r = i / (N - 1) and angle t = 4k + 4r + noise * n,
/// n ~ N(0, 1), at (r sin t, r cos t). No line separates the arms.
Dataset spiral(std::size_t classes, std::size_t points_per_class, Rng& rng, double noise = 0.2);

// ---- splits and preprocessing -----------------------------------------------------------

/// 0, 1, ..., n - 1.
std::vector<std::size_t> all_indices(std::size_t n);

/// A disjoint partition of 0 .. n-1; each list is sorted.
struct Split {
  std::vector<std::size_t> train, val;
};
/// Draws `val_size` indices at random (from `rng`) for validation; the rest train.
Split train_val_split(std::size_t n, std::size_t val_size, Rng& rng);

/// x = scale * raw - mean[j], applied while gathering.
struct Preprocess {
  double scale = 1.0;         // 1/255 for pixels, 1 for features
  std::vector<double> mean;   // D entries on the scaled axis, or empty: subtract nothing
};

/// The mean example over `indices`, on the [0, 1] scale for pixels.
std::vector<double> mean_image(const Dataset& data, std::span<const std::size_t> indices);
/// The preprocessing fitted on the training split only: pass Split::train.
Preprocess fit_preprocess(const Dataset& data, std::span<const std::size_t> train_indices,
                          bool subtract_mean = true);

/// Writes the examples at `indices` into `x` (exactly indices.size() x dim()
/// entries, preprocessed) and their labels into `y` (exactly indices.size(),
/// or empty for none). ValueError if a buffer has another size or an index
/// is out of range. No allocation.
template <class T>
void gather(const Dataset& data, std::span<const std::size_t> indices, const Preprocess& prep,
            std::span<T> x, std::span<std::int32_t> y = {});

/// A minibatch as a model takes it: x (n, D), preprocessed, and n labels.
template <class T>
struct Batch {
  TensorT<T> x;
  std::vector<std::int32_t> y;
};
/// The examples at `indices` as a Batch (checked like gather).
template <class T>
Batch<T> batch(const Dataset& data, std::span<const std::size_t> indices, const Preprocess& prep);

// ---- minibatches ----------------------------------------------------------------

/// Where a Minibatches stands: enough to continue exactly after a restart.
struct BatchPosition {
  std::size_t epoch = 0;            // zero-based index of the current epoch
  std::size_t offset = 0;           // position in `order` of the next batch
  std::vector<std::size_t> order;   // this epoch's permutation of the indices
  std::string rng_state;            // Rng::state() of the shuffling generator
};

/// Visits every index once per epoch, in a fresh shuffled order each epoch.
///
///   data::Minibatches batches(split.train, 256, Rng{seed});
///   for (; batches.epoch() < epochs; batches.next_epoch())
///     while (batches.has_next()) {
///       auto idx = batches.next();
///       data::gather(train, idx, prep, x.data(), y.data());
///       ...
///     }
class Minibatches {
 public:
  /// Shuffles the first epoch's order from `rng` (which it keeps). ValueError
  /// if `indices` is empty or `batch_size` is 0.
  Minibatches(std::vector<std::size_t> indices, std::size_t batch_size, Rng rng);

  /// Whether the current epoch has examples left.
  bool has_next() const { return offset_ < order_.size(); }
  /// The next batch of the current epoch: batch_size indices, fewer at the end;
  /// valid until next_epoch() or restore(). ValueError if the epoch is exhausted.
  std::span<const std::size_t> next();
  /// Moves to the next epoch with a freshly shuffled order.
  void next_epoch();

  std::size_t epoch() const { return epoch_; }
  std::size_t offset() const { return offset_; }
  const std::vector<std::size_t>& order() const { return order_; }
  std::size_t size() const { return order_.size(); }
  std::size_t batch_size() const { return batch_size_; }
  std::size_t batches_per_epoch() const { return (size() + batch_size_ - 1) / batch_size_; }

  BatchPosition position() const;
  /// Continues from `pos`; ValueError (and no change) unless its order is a
  /// permutation of this iterator's indices, its offset is within it and its
  /// Rng state is valid.
  void restore(const BatchPosition& pos);

 private:
  std::vector<std::size_t> indices_;  // as given; each epoch shuffles a copy
  std::vector<std::size_t> order_;
  std::size_t batch_size_;
  std::size_t epoch_ = 0;
  std::size_t offset_ = 0;
  Rng rng_;
};

/// Stores `pos` in a checkpoint as "<prefix>order" (i64) and the metadata
/// "<prefix>epoch", "<prefix>offset", "<prefix>rng".
void put_position(io::Checkpoint& ckpt, const std::string& prefix, const BatchPosition& pos);
/// Reads what put_position stored; ValueError if anything is missing or malformed.
BatchPosition get_position(const io::Checkpoint& ckpt, const std::string& prefix);

}  // namespace slope::data
