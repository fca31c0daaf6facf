// Kernel launches: a grid of blocks, each block's threads as fibers (Boost.Context) of
// one OS thread, so that __shared__ (thread_local) is per block and __syncthreads is a
// real barrier. Between two barriers the threads run one after another in the order the
// configuration names; a block whose threads wait at different barriers, or whose
// threads wait at one that others never reach, is a fault naming file and line.
#include <boost/context/fiber.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "config.hpp"
#include "emulator.hpp"

// Under ThreadSanitizer (NMFUSE_TSAN) this file itself is not instrumented: only the
// kernels are, and this file tells TSan of the fibers and of what orders them.
#ifdef NMFUSE_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace ctx = boost::context;

namespace nmfuse::emulator {
namespace {

// Room for the kernels' register arrays (64 floats a few times) and the calls below them.
constexpr std::size_t kStackBytes = std::size_t(256) << 10;

// Fiber stacks, kept per OS thread and reused by every block it runs.
class StackPool {
 public:
  StackPool() { free_.reserve(1024); }  // a block's worth: returning a stack never allocates

  ctx::stack_context allocate() {
    ctx::stack_context sc;
    char* base;
    if (free_.empty()) {
      base = static_cast<char*>(std::malloc(kStackBytes));
      if (!base) fault("out of host memory for fiber stacks");
    } else {
      base = free_.back();
      free_.pop_back();
    }
    sc.size = kStackBytes;
    sc.sp = base + kStackBytes;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) noexcept {
    free_.push_back(static_cast<char*>(sc.sp) - kStackBytes);
  }
  ~StackPool() {
    for (char* s : free_) std::free(s);
  }

 private:
  std::vector<char*> free_;
};

struct PoolRef {  // Boost.Context's StackAllocator, over the OS thread's pool
  StackPool* pool;
  ctx::stack_context allocate() { return pool->allocate(); }
  void deallocate(ctx::stack_context& sc) noexcept { pool->deallocate(sc); }
};

enum class State { Running, AtBarrier, Done };

struct GpuThread {
  uint3 index{};
  State state = State::Running;
  const char* file = nullptr;  // the barrier it waits at
  int line = 0;
  ctx::fiber fiber;  // the thread, while it is suspended
  ctx::fiber sink;   // the block's scheduler, while the thread runs
#ifdef NMFUSE_TSAN
  void* tsan_fiber = nullptr;
#endif
};

#ifdef NMFUSE_TSAN
// TSan's fibers, one per GPU thread of a block, made once per OS thread and reused by
// every block it runs (making one costs TSan a thread's state).
void* tsan_fiber(unsigned t) {
  static thread_local std::vector<void*> fibers;
  while (fibers.size() <= t) fibers.push_back(__tsan_create_fiber(0));
  return fibers[t];
}
#endif

struct Block {
  uint3 index{};
  dim3 dim, grid;
};

thread_local GpuThread* current_thread = nullptr;
thread_local Block current_block;
thread_local const std::string* current_kernel = nullptr;

// A kernel that touches memory no allocation holds (a null pointer, a freed buffer)
// ends the process as a GPU's illegal address would, but naming the kernel.
void illegal_address(int signal) {
  if (current_kernel) {
    const char* head = "nmfuse emulated GPU: illegal address in ";
    [[maybe_unused]] auto w1 = write(2, head, std::strlen(head));
    [[maybe_unused]] auto w2 = write(2, current_kernel->data(), current_kernel->size());
    [[maybe_unused]] auto w3 = write(2, "\n", 1);
  }
  ::signal(signal, SIG_DFL);
  raise(signal);
}

void watch_illegal_addresses() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_handler = illegal_address;
    sigaction(SIGSEGV, &action, nullptr);
    sigaction(SIGBUS, &action, nullptr);
    return true;
  }();
  static_cast<void>(installed);
}

#ifdef NMFUSE_TSAN
// Switches between fibers order nothing for ThreadSanitizer: only barriers, a block's
// start and its end do, so that two threads' accesses between barriers race.
char barrier_order, start_order, end_order;
#endif

std::vector<unsigned> ordering(unsigned count, Order order, std::mt19937_64& rng) {
  std::vector<unsigned> v(count);
  std::iota(v.begin(), v.end(), 0u);
  if (order == Order::Reverse) std::reverse(v.begin(), v.end());
  if (order == Order::Shuffled) std::shuffle(v.begin(), v.end(), rng);
  return v;
}

std::string site(const GpuThread& t) { return std::string(t.file) + ":" + std::to_string(t.line); }

std::string block_name(const uint3& b) {
  return "(" + std::to_string(b.x) + ", " + std::to_string(b.y) + ", " + std::to_string(b.z) + ")";
}

void run_block(const Block& block, const std::function<void()>& body, const std::string& kernel,
               std::mt19937_64& rng, StackPool& stacks) {
  current_block = block;
  current_kernel = &kernel;
  const unsigned count = block.dim.x * block.dim.y * block.dim.z;
  std::vector<GpuThread> threads(count);
  for (unsigned t = 0; t < count; ++t) {
    threads[t].index = {t % block.dim.x, (t / block.dim.x) % block.dim.y,
                        t / (block.dim.x * block.dim.y)};
    GpuThread* self = &threads[t];
    threads[t].fiber = ctx::fiber(std::allocator_arg, PoolRef{&stacks},
                                  [self, &body](ctx::fiber&& sink) {
      self->sink = std::move(sink);
#ifdef NMFUSE_TSAN
      __tsan_acquire(&start_order);
#endif
      body();
      self->state = State::Done;
#ifdef NMFUSE_TSAN
      __tsan_release(&end_order);
#endif
      return std::move(self->sink);
    });
#ifdef NMFUSE_TSAN
    threads[t].tsan_fiber = tsan_fiber(t);
#endif
  }
#ifdef NMFUSE_TSAN
  void* scheduler = __tsan_get_current_fiber();
  __tsan_release(&start_order);
#endif
  for (;;) {
    for (unsigned t : ordering(count, config().threads, rng)) {
      GpuThread& th = threads[t];
      if (th.state == State::Done) continue;
      th.state = State::Running;
      current_thread = &th;
#ifdef NMFUSE_TSAN
      __tsan_switch_to_fiber(th.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
      th.fiber = std::move(th.fiber).resume();
#ifdef NMFUSE_TSAN
      __tsan_switch_to_fiber(scheduler, __tsan_switch_to_fiber_no_sync);
#endif
      current_thread = nullptr;
    }
    // Every thread has ended or waits at a barrier.
    std::map<std::string, unsigned> waiting;
    unsigned done = 0;
    for (const GpuThread& th : threads)
      th.state == State::Done ? ++done : ++waiting[site(th)];
    if (waiting.empty()) break;
    std::ostringstream what;
    if (waiting.size() > 1) {
      what << "the threads of block " << block_name(block.index) << " of " << kernel
           << " wait at different barriers:";
      for (const auto& [where, n] : waiting) what << " " << n << " at " << where << ";";
      fault(what.str());
    }
    if (done > 0) {
      what << "__syncthreads() at " << waiting.begin()->first << " in block "
           << block_name(block.index) << " of " << kernel << " is reached by "
           << waiting.begin()->second << " of " << count << " threads; the other " << done
           << " have returned";
      fault(what.str());
    }
  }
#ifdef NMFUSE_TSAN
  __tsan_acquire(&end_order);
#endif
  current_kernel = nullptr;
}

void run_grid(dim3 grid, dim3 dim, const std::function<void()>& body, const std::string& kernel) {
  const unsigned blocks = grid.x * grid.y * grid.z;
  static std::atomic<std::uint64_t> launches{0};
  std::mt19937_64 rng(config().seed * 0x9E3779B97F4A7C15ull + launches++);
  const std::vector<unsigned> order = ordering(blocks, config().blocks, rng);
  auto block_at = [&](unsigned b) {
    return Block{{b % grid.x, (b / grid.x) % grid.y, b / (grid.x * grid.y)}, dim, grid};
  };
  if (!config().parallel_blocks) {
    static thread_local StackPool stacks;
    for (unsigned b : order) run_block(block_at(b), body, kernel, rng, stacks);
    return;
  }
  // Two OS threads take blocks from the shuffled list: blocks that race show as races.
  std::atomic<unsigned> next{0};
  auto worker = [&](std::uint64_t seed) {
    static thread_local StackPool stacks;
    std::mt19937_64 own(seed);
    for (unsigned i; (i = next++) < blocks;) run_block(block_at(order[i]), body, kernel, own, stacks);
  };
  std::thread other(worker, rng());
  worker(rng());
  other.join();
}

}  // namespace

std::string kernel_name(const char* pretty_function) {
  const std::string s = pretty_function;
  const auto from = s.find("Params = {"), to = s.find("}", from);
  if (from == std::string::npos || to == std::string::npos) return s;
  return "the kernel taking (" + s.substr(from + 10, to - from - 10) + ")";
}

const uint3& thread_index() {
  if (!current_thread) fault("threadIdx read outside a kernel");
  return current_thread->index;
}
const uint3& block_index() {
  if (!current_thread) fault("blockIdx read outside a kernel");
  return current_block.index;
}
const dim3& block_dim() {
  if (!current_thread) fault("blockDim read outside a kernel");
  return current_block.dim;
}
const dim3& grid_dim() {
  if (!current_thread) fault("gridDim read outside a kernel");
  return current_block.grid;
}

void syncthreads(const char* file, int line) {
  GpuThread* self = current_thread;
  if (!self) fault(std::string("__syncthreads() outside a kernel at ") + file + ":" + std::to_string(line));
  self->state = State::AtBarrier;
  self->file = file;
  self->line = line;
#ifdef NMFUSE_TSAN
  __tsan_release(&barrier_order);
#endif
  self->sink = std::move(self->sink).resume();
#ifdef NMFUSE_TSAN
  __tsan_acquire(&barrier_order);
#endif
}

void launch_grid(dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
                 std::string kernel, std::function<void()> body) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  const bool ok = grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 2147483647u &&
                  grid.y <= 65535 && grid.z <= 65535 && threads >= 1 && threads <= 1024 &&
                  block.z <= 64 && shared_bytes <= 48 * 1024;
  if (!ok) {
    set_last_error(cudaErrorInvalidConfiguration);
    return;
  }
  watch_illegal_addresses();
  enqueue(stream, [grid, block, kernel = std::move(kernel), body = std::move(body)] {
    run_grid(grid, block, body, kernel);
  });
}

}  // namespace nmfuse::emulator
