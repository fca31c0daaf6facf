#pragma once
// Stands in for CUB's BlockReduce on the emulated GPU (CUB's own needs warp intrinsics):
// the same interface, a sum through shared memory and the emulator's barriers, the
// result valid in thread 0 as CUB promises.
namespace cub {

template <class T, int BlockThreads>
class BlockReduce {
 public:
  struct TempStorage {
    T partial[BlockThreads];
  };
  explicit BlockReduce(TempStorage& storage) : storage_(storage) {}

  T Sum(T value) {
    const unsigned t = threadIdx.x;
    storage_.partial[t] = value;
    __syncthreads();
    T total = storage_.partial[0];
    if (t == 0)
      for (int i = 1; i < BlockThreads; ++i) total += storage_.partial[i];
    return total;  // reusing the storage needs a __syncthreads() first, as with CUB
  }

 private:
  TempStorage& storage_;
};

}  // namespace cub
