// Training across processes: the collectives the data-parallel step needs,
// over MPI (the optional backend, -DSLOPE_MPI=ON, Debian's OpenMPI) or over
// one process alone.
//
// The design follows Horovod and PyTorch's DDP: every process holds the
// whole model, rank 0's parameters and optimizer state are broadcast at the
// start (and at resume), each process computes its share of the rows of
// every global batch, the gradients are summed over the processes (one
// all-reduce per parameter, in a fixed order), and every process then runs
// the same update. DataParallel (data_parallel.hpp) takes a Communicator and
// does the rest; user code does not change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace slope::dist {

/// The processes of a run. Every collective must be called by every process,
/// in the same order, with the same sizes.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Sums `values` over every process, in place: each gets the sum.
  virtual void all_reduce_sum(std::span<float> values) = 0;
  virtual void all_reduce_sum(std::span<double> values) = 0;
  /// Rank `root`'s bytes on every process (the sizes must already agree).
  virtual void broadcast(std::span<std::uint8_t> bytes, int root = 0) = 0;
  /// The smallest and largest of `value` over the processes (cheap checks
  /// that every process runs the same configuration).
  virtual std::pair<std::uint64_t, std::uint64_t> min_max(std::uint64_t value) = 0;
  /// Bytes this process has handed to all-reduces so far, and the seconds it
  /// spent inside collectives (moving data, and waiting for slower processes).
  virtual std::uint64_t reduced_bytes() const = 0;
  virtual double collective_seconds() const = 0;
  /// "MPI (4 processes)" or "one process".
  virtual std::string describe() const = 0;
};

/// One process alone: rank 0 of 1; the collectives change nothing.
Communicator& single_process();

/// Whether this build has the MPI backend.
bool mpi_available();
/// Whether mpirun (or another MPI launcher) started this process.
bool launched_by_mpi();

/// How many processes of the run the launcher started on this machine
/// (OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS; 1 without a launcher or
/// if the variable is not a count in [1, 65536]): the cores are shared among them.
int local_processes();

/// How long a collective may wait for the other processes before it gives up:
/// a rank that died or hangs must not leave the others waiting forever.
/// The environment variable SLOPE_COLLECTIVE_TIMEOUT (seconds, 0.1 to 86400)
/// replaces it; ValueError if it is set to anything else.
inline constexpr double kCollectiveTimeoutSeconds = 60.0;
double collective_timeout();

/// MPI's world, initialised on the first call (only the calling thread talks
/// to MPI) and finalised at exit. Collectives wait at most
/// kCollectiveTimeoutSeconds and then throw; errors are slope::Error naming
/// the rank and the MPI error. Error if the build has no MPI backend.
Communicator& mpi_world();

/// Ends every process of the run with `status` (MPI_Abort), for errors after
/// which the others cannot go on; returns only without MPI.
void abort_all(int status);

}  // namespace slope::dist
