// The CUDA runtime subset the backend and its tests use, on the host: device memory
// tracked and poisoned (every new byte 0xFF, a NaN in float and double), copies checked
// for direction and bounds, streams whose work runs only at synchronizations.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

#include <unistd.h>

#include "config.hpp"
#include "emulator.hpp"
#include "memory.hpp"

// The stream type the headers only declare.
struct CUstream_st {
  std::deque<nmfuse::emulator::Task> queue;
  unsigned flags = cudaStreamDefault;
  std::uint64_t queued = 0, done = 0;  // tasks ever queued, and run
  bool running = false;                // a task of it is running now
};

// An event marks a point in a stream's work: the tasks queued before its record.
struct CUevent_st {
  CUstream_st* stream = nullptr;  // null: never recorded (waits on it return at once)
  std::uint64_t mark = 0;
};

namespace nmfuse::emulator {
namespace {

constexpr unsigned char kPoison = 0xFF;

struct Memory {
  std::mutex lock;
  std::map<const char*, std::size_t> allocations;  // start → bytes
  std::size_t in_use = 0;
  std::size_t total = config().memory_bytes;
};
Memory& memory() {
  static Memory m;
  return m;
}

CUstream_st& legacy_stream() {
  static CUstream_st s;
  return s;
}
std::set<CUstream_st*>& streams() {
  static std::set<CUstream_st*> s;
  return s;
}

// The legacy default stream stands for null and for the cudaStreamLegacy handle.
CUstream_st* resolve(cudaStream_t s) {
  if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return &legacy_stream();
  if (!streams().count(s)) fault("a stream that was never created, or was destroyed, was used");
  return s;
}

// Runs s's tasks in order until `mark` of them have run (all of them by default).
void drain(CUstream_st& s, std::uint64_t mark = UINT64_MAX) {
  if (s.running && s.done < std::min(mark, s.queued))
    fault("a stream waits on work of its own queued after the wait (a cycle of events)");
  while (!s.queue.empty() && s.done < mark) {
    Task t = std::move(s.queue.front());
    s.queue.pop_front();
    s.running = true;
    t();
    s.running = false;
    ++s.done;
  }
}

// The legacy stream waits for the blocking streams and they for it: run them first.
void drain_blocking_streams() {
  for (CUstream_st* s : streams())
    if (!(s->flags & cudaStreamNonBlocking)) drain(*s);
}

// While set, a copy or an event wait queued on a non-blocking stream with nothing
// before it runs at once, while kernels still wait for a synchronization: a legal order,
// the most hostile to a copy that overwrites what a queued kernel has yet to read.
std::atomic<bool> eager_copies{false};

thread_local cudaError_t last_error = cudaSuccess;
std::atomic<int> compute_capability{config().compute_capability};

cudaError_t fail(cudaError_t err) {
  last_error = err;
  return err;
}

// A host range of a copy: anything but device memory.
bool is_host(const void* p) { return allocation_of(p).base == nullptr; }

cudaError_t check_copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                       const char* call) {
  if (bytes == 0) return cudaSuccess;
  const bool dst_device = is_device_range(dst, bytes), src_device = is_device_range(src, bytes);
  bool ok = false;
  switch (kind) {
    case cudaMemcpyHostToDevice: ok = dst_device && is_host(src); break;
    case cudaMemcpyDeviceToHost: ok = is_host(dst) && src_device; break;
    case cudaMemcpyDeviceToDevice: ok = dst_device && src_device; break;
    case cudaMemcpyHostToHost: ok = is_host(dst) && is_host(src); break;
    case cudaMemcpyDefault:
      ok = (dst_device || is_host(dst)) && (src_device || is_host(src));
      break;
  }
  if (ok) return cudaSuccess;
  std::fprintf(stderr,
               "nmfuse emulated GPU: %s of %zu bytes with kind %d: the destination is %s, the "
               "source %s\n",
               call, bytes, int(kind),
               dst_device ? "device memory" : is_host(dst) ? "host memory" : "past a device allocation",
               src_device ? "device memory" : is_host(src) ? "host memory" : "past a device allocation");
  return fail(cudaErrorInvalidValue);
}

}  // namespace

Allocation allocation_of(const void* p) {
  Memory& m = memory();
  std::lock_guard<std::mutex> guard(m.lock);
  const char* c = static_cast<const char*>(p);
  auto it = m.allocations.upper_bound(c);
  if (it == m.allocations.begin()) return {};
  --it;
  if (c >= it->first + it->second) return {};
  return {it->first, it->second};
}

bool is_device_range(const void* p, std::size_t bytes) {
  const Allocation a = allocation_of(p);
  return a.base != nullptr && static_cast<const char*>(p) + bytes <= a.base + a.bytes;
}

void enqueue(cudaStream_t stream, Task task) {
  CUstream_st* s = resolve(stream);
  s->queue.push_back(std::move(task));
  ++s->queued;
}

// A copy (or an event wait) runs at once where eager_copies says so and nothing on its
// stream is queued before it.
void enqueue_copy(cudaStream_t stream, Task task) {
  CUstream_st* s = resolve(stream);
  const bool now = eager_copies && (s->flags & cudaStreamNonBlocking) && s->queue.empty() &&
                   !s->running;
  enqueue(stream, std::move(task));
  if (now) drain(*s);
}

void synchronize(cudaStream_t stream) {
  CUstream_st* s = resolve(stream);
  if (s == &legacy_stream()) drain_blocking_streams();
  drain(*s);
}

void synchronize_device() {
  for (CUstream_st* s : streams()) drain(*s);
  drain(legacy_stream());
}

void set_last_error(cudaError_t err) { last_error = err; }

[[noreturn]] void fault(const std::string& what) {
  std::fprintf(stderr, "nmfuse emulated GPU: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace nmfuse::emulator

using namespace nmfuse::emulator;

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

// The tests' knob: the compute capability reported (0: the configured one again).
__attribute__((visibility("default"))) void nmfuse_emulator_set_compute(int capability) {
  compute_capability = capability ? capability : config().compute_capability;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "nmfuse emulated GPU (on the CPU, for tests)");
  prop->major = compute_capability / 10;
  prop->minor = compute_capability % 10;
  prop->totalGlobalMem = config().memory_bytes;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->maxThreadsPerBlock = 1024;
  prop->warpSize = 32;
  prop->multiProcessorCount = 2;
  // Each process's emulated GPU is its own: its UUID is the process's.
  const unsigned long long pid = static_cast<unsigned long long>(getpid());
  std::memcpy(prop->uuid.bytes, &pid, sizeof pid);
  const long host = gethostid();
  std::memcpy(prop->uuid.bytes + sizeof pid, &host, std::min(sizeof host, sizeof prop->uuid.bytes - sizeof pid));
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxPitch: *value = 2147483647; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = compute_capability / 10; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = compute_capability % 10; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = 48 * 1024; return cudaSuccess;
    default: return fail(cudaErrorInvalidValue);  // not emulated: say so, never guess
  }
}

// The tests' knob for races that appear when the GPU runs behind the host (enqueue_copy).
__attribute__((visibility("default"))) void nmfuse_emulator_set_eager_copies(int on) {
  eager_copies = on != 0;
}

// The tests' knob: the emulated GPU's memory, in bytes (0: the configured size again).
__attribute__((visibility("default"))) void nmfuse_emulator_set_memory(std::size_t bytes) {
  Memory& m = memory();
  std::lock_guard<std::mutex> guard(m.lock);
  m.total = bytes ? bytes : config().memory_bytes;
}

// Whether the real module would have code for a GPU of this compute capability, by
// CUDA's rules over the architectures built ("75-virtual 80-real 90"): code for sm_XY
// runs on X.Y and later minors of X; PTX for XY compiles on every XY and later.
static bool kernels_built_for(int capability) {
  std::istringstream list(NMFUSE_CUDA_ARCHITECTURES);
  for (std::string arch; list >> arch;) {
    const int xy = std::stoi(arch);
    const bool code = arch.find("-virtual") == std::string::npos;
    const bool ptx = arch.find("-real") == std::string::npos;
    if (code && capability / 10 == xy / 10 && capability >= xy) return true;
    if (ptx && capability >= xy) return true;
  }
  return false;
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, const void*) {
  *attributes = cudaFuncAttributes{};
  if (!kernels_built_for(compute_capability)) return fail(cudaErrorNoKernelImageForDevice);
  attributes->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total) {
  Memory& m = memory();
  std::lock_guard<std::mutex> guard(m.lock);
  *total = m.total;
  *free = m.in_use < m.total ? m.total - m.in_use : 0;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, std::size_t bytes) {
  *p = nullptr;
  Memory& m = memory();
  std::lock_guard<std::mutex> guard(m.lock);
  if (m.in_use > m.total || bytes > m.total - m.in_use) return fail(cudaErrorMemoryAllocation);
  char* block = static_cast<char*>(std::malloc(bytes == 0 ? 1 : bytes));
  if (!block) return fail(cudaErrorMemoryAllocation);
  std::memset(block, kPoison, bytes);
  m.allocations.emplace(block, bytes == 0 ? 1 : bytes);
  m.in_use += bytes;
  *p = block;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  synchronize_device();  // cudaFree waits for the device, as CUDA's does
  Memory& m = memory();
  std::lock_guard<std::mutex> guard(m.lock);
  auto it = m.allocations.find(static_cast<const char*>(p));
  if (it == m.allocations.end()) {
    std::fprintf(stderr, "nmfuse emulated GPU: cudaFree of %p, which is not the start of a live "
                         "allocation\n", p);
    return fail(cudaErrorInvalidValue);
  }
  m.in_use -= it->second;
  std::memset(p, kPoison, it->second);
  m.allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p) {
  *attr = cudaPointerAttributes{};
  const Allocation a = allocation_of(p);
  attr->type = a.base ? cudaMemoryTypeDevice : cudaMemoryTypeUnregistered;
  attr->device = 0;
  attr->devicePointer = a.base ? const_cast<void*>(p) : nullptr;
  attr->hostPointer = a.base ? nullptr : const_cast<void*>(p);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  auto* s = new CUstream_st;
  s->flags = flags;
  streams().insert(s);
  *stream = s;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr || !streams().count(stream)) return fail(cudaErrorInvalidResourceHandle);
  drain(*stream);  // queued work still completes
  streams().erase(stream);
  delete stream;
  return cudaSuccess;
}

// Events: a wait on one runs, when the waiting stream reaches it, the recorded stream's
// work up to the record; nothing of the recorded stream past it.
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  event->stream = resolve(stream);
  event->mark = event->stream->queued;
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  if (event->stream == nullptr) return cudaSuccess;
  CUstream_st* recorded = event->stream;
  const std::uint64_t mark = event->mark;
  enqueue_copy(stream, [recorded, mark] {
    if (streams().count(recorded) || recorded == &legacy_stream()) drain(*recorded, mark);
  });
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  CUstream_st* recorded = event->stream;
  if (recorded && (streams().count(recorded) || recorded == &legacy_stream()))
    drain(*recorded, event->mark);
  return cudaSuccess;
}

// Pinning changes nothing here: host memory is host memory.
cudaError_t cudaHostRegister(void* p, std::size_t bytes, unsigned) {
  if (p == nullptr || bytes == 0) return fail(cudaErrorInvalidValue);
  if (!is_host(p)) return fail(cudaErrorInvalidValue);
  return cudaSuccess;
}

cudaError_t cudaHostUnregister(void* p) {
  if (p == nullptr) return fail(cudaErrorInvalidValue);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  synchronize(stream);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  synchronize_device();
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (cudaError_t err = check_copy(dst, src, bytes, kind, "cudaMemcpyAsync")) return err;
  if (bytes) enqueue_copy(stream, [=] { std::memcpy(dst, src, bytes); });
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (cudaError_t err = check_copy(dst, src, bytes, kind, "cudaMemcpy")) return err;
  synchronize(nullptr);  // on the legacy default stream, which it waits for
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy2DAsync(void* dst, std::size_t dpitch, const void* src, std::size_t spitch,
                              std::size_t width, std::size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  if (width > dpitch || width > spitch) return fail(cudaErrorInvalidPitchValue);
  if (height == 0 || width == 0) return cudaSuccess;
  const std::size_t dst_span = dpitch * (height - 1) + width, src_span = spitch * (height - 1) + width;
  // Each end of the 2D range must lie in memory of the kind named.
  if (cudaError_t err = check_copy(dst, src, std::min(dst_span, src_span), kind, "cudaMemcpy2DAsync"))
    return err;
  if (cudaError_t err = check_copy(static_cast<char*>(dst) + dst_span - width,
                                   static_cast<const char*>(src) + src_span - width, width, kind,
                                   "cudaMemcpy2DAsync (its last row)"))
    return err;
  enqueue_copy(stream, [=] {
    for (std::size_t r = 0; r < height; ++r)
      std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch,
                  width);
  });
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!is_device_range(p, bytes)) {
    std::fprintf(stderr, "nmfuse emulated GPU: cudaMemsetAsync of %zu bytes outside device memory\n",
                 bytes);
    return fail(cudaErrorInvalidValue);
  }
  enqueue(stream, [=] { std::memset(p, value, bytes); });
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t err = last_error;
  last_error = cudaSuccess;
  return err;
}

cudaError_t cudaPeekAtLastError() { return last_error; }

const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidPitchValue: return "cudaErrorInvalidPitchValue";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNoKernelImageForDevice: return "cudaErrorNoKernelImageForDevice";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidPitchValue: return "invalid pitch argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNoKernelImageForDevice: return "no kernel image is available for execution on the device";
    default: return "unknown error";
  }
}

}  // extern "C"
