#pragma once
// One MPI communicator and the collectives a distributed run makes on it, each counting
// the words it moves (nmfuse::distributed::Traffic). Sums come back bit-for-bit equal on
// every process, so that the processes holding one block of a factor keep equal copies
// and every process takes the same stopping decision.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <mpi.h>

#include "core/process_sum.hpp"
#include "cuda/cuda_hooks.hpp"
#include "nmfuse/distributed.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::distributed {

template <class T>
MPI_Datatype mpi_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

class Communicator final : public core::ProcessSum {
 public:
  // The processes of `parent` with the same colour, ordered by key (MPI_Comm_split).
  Communicator(MPI_Comm parent, int colour, int key, Traffic& traffic) : traffic_(&traffic) {
    MPI_Comm_split(parent, colour, key, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~Communicator() override {
    gpus_.reset();  // its NCCL communicator before the MPI one
    int finalized = 0;  // a Grid outliving MPI_Finalize has nothing left to free
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // A reduce-scatter then an all-gather: each piece is summed on one process and copied
  // to the rest, so every process gets the same bits (MPI_Allreduce does not promise that).
  void sum(float* host, std::size_t count) override { sum_entries(host, count); }
  void sum(double* host, std::size_t count) override { sum_entries(host, count); }

  // Links this communicator's processes' GPUs (NCCL), each process on its own GPU, for
  // sums of up to `largest` floats: from then on sums_on_gpu(). Collective; false where
  // the CUDA module has no NCCL.
  bool link_gpus(std::size_t largest) {
    if (size_ == 1) return true;  // nothing to sum with
    gpus_ = cuda::link_gpus(size_, rank_, largest, [&](void* bytes, std::size_t n) {
      MPI_Bcast(bytes, int(n), MPI_BYTE, 0, comm_);
    });
    return gpus_ != nullptr;
  }
  void unlink_gpus() { gpus_.reset(); }

  bool sums_on_gpu() const override { return gpus_ != nullptr || size_ == 1; }
  void sum_on_gpu(float* device, std::size_t count, CUstream_st* stream) override {
    if (size_ == 1) return;
    const Timed timed(*traffic_);
    gpus_->sum(device, count, stream);
    // What NCCL moves: count padded to equal pieces (src/cuda/gpu_links.cu), each
    // process receiving the others' pieces, in the reduce-scatter and the all-gather.
    const std::size_t piece = (count + size_ - 1) / size_;
    count_words(double(piece) * (size_ - 1));
    count_words(double(piece) * (size_ - 1));
  }

  // The sum of every process's x, the same on all: reduced on the first, then broadcast.
  double sum(double x) {
    if (size_ == 1) return x;
    const Timed timed(*traffic_);
    double total = 0;
    MPI_Reduce(&x, &total, 1, MPI_DOUBLE, MPI_SUM, 0, comm_);
    MPI_Bcast(&total, 1, MPI_DOUBLE, 0, comm_);
    ++traffic_->scalar_sums;
    return total;
  }

  // This process's place among the communicator's processes on its machine (node).
  int rank_on_node() const {
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    int place = 0;
    MPI_Comm_rank(node, &place);
    MPI_Comm_free(&node);
    return place;
  }

  // Whether no two processes hold the same `name` (of at most 64 characters).
  bool all_distinct(const std::string& name) const {
    constexpr int kWidth = 64;
    std::string mine = name.substr(0, kWidth);
    mine.resize(kWidth, '\0');
    std::string all(std::size_t(kWidth) * size_, '\0');
    MPI_Allgather(mine.data(), kWidth, MPI_CHAR, all.data(), kWidth, MPI_CHAR, comm_);
    std::vector<std::string> names;
    for (int r = 0; r < size_; ++r) names.push_back(all.substr(std::size_t(r) * kWidth, kWidth));
    std::sort(names.begin(), names.end());
    return std::adjacent_find(names.begin(), names.end()) == names.end();
  }

  // Whether `yes` holds on any process.
  bool any(bool yes) {
    if (size_ == 1) return yes;
    const Timed timed(*traffic_);
    int mine = yes ? 1 : 0, some = 0;
    MPI_Allreduce(&mine, &some, 1, MPI_INT, MPI_MAX, comm_);
    ++traffic_->scalar_sums;
    return some != 0;
  }

  // Column by column, out (rows_total × cols, column-major) ← every process's `mine`
  // (its rows × cols, column-major), the processes' rows one after another in rank order.
  template <class T>
  void gather_rows(const T* mine, const std::vector<index_t>& rows_of, int cols, T* out) {
    std::vector<int> counts(size_), offsets(size_);
    index_t total = 0;
    for (int r = 0; r < size_; ++r) {
      if (rows_of[r] > INT_MAX || total > INT_MAX)
        throw Error("internal: a factor's block of " + std::to_string(rows_of[r]) +
                    " rows is too long for one MPI message");
      counts[r] = int(rows_of[r]);
      offsets[r] = int(total);
      total += rows_of[r];
    }
    const index_t mine_rows = rows_of[rank_];
    const Timed timed(*traffic_);
    for (int t = 0; t < cols; ++t) {
      T* column = out + std::size_t(t) * std::size_t(total);
      if (size_ == 1) {
        std::copy(mine + t * mine_rows, mine + (t + 1) * mine_rows, column);
        continue;
      }
      MPI_Allgatherv(mine + t * mine_rows, counts[rank_], mpi_type<T>(), column, counts.data(),
                     offsets.data(), mpi_type<T>(), comm_);
      count_words(double(total - mine_rows));
    }
  }

  // distributed::agree on this communicator.
  void agree(const std::function<void()>& check) { distributed::agree(comm_, check); }

 private:
  static constexpr std::size_t kChunk = std::size_t(1) << 28;  // MPI counts are int

  // Adds the time of its scope to Traffic::seconds.
  class Timed {
   public:
    explicit Timed(Traffic& t) : traffic_(t), start_(std::chrono::steady_clock::now()) {}
    ~Timed() {
      traffic_.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

   private:
    Traffic& traffic_;
    std::chrono::steady_clock::time_point start_;
  };

  template <class T>
  void sum_entries(T* data, std::size_t count) {
    if (size_ == 1) return;
    const Timed timed(*traffic_);
    for (std::size_t done = 0; done < count; done += kChunk)
      sum_chunk(data + done, std::min(kChunk, count - done));
  }

  template <class T>
  void sum_chunk(T* data, std::size_t count) {
    std::vector<int> counts(size_), offsets(size_);
    for (int r = 0; r < size_; ++r) {
      offsets[r] = int(count * r / size_);
      counts[r] = int(count * (r + 1) / size_) - offsets[r];
    }
    std::vector<T> piece(std::max(counts[rank_], 1));
    MPI_Reduce_scatter(data, piece.data(), counts.data(), mpi_type<T>(), MPI_SUM, comm_);
    MPI_Allgatherv(piece.data(), counts[rank_], mpi_type<T>(), data, counts.data(), offsets.data(),
                   mpi_type<T>(), comm_);
    const double others = double(count - std::size_t(counts[rank_]));
    count_words(others);  // the reduce-scatter's
    count_words(others);  // the all-gather's
  }

  void count_words(double words) {
    traffic_->words += words;
    ++traffic_->collectives;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  Traffic* traffic_;
  std::unique_ptr<cuda::GpuSum> gpus_;  // where link_gpus() linked them
};

}  // namespace nmfuse::distributed
