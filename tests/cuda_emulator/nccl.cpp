// The NCCL subset a distributed run uses (src/cuda/gpu_links.cu), for the emulated GPU:
// each process's emulated GPU is its own, and their collectives go over MPI between the
// same processes, queued on the stream as a real GPU's would be. The sums are float's
// only, as the run's are; anything else is refused as NCCL would refuse a bad argument.
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "emulator.hpp"

#if NMFUSE_EMULATOR_MPI
#include <mpi.h>
#endif

struct ncclComm {
  int size = 1, rank = 0;
#if NMFUSE_EMULATOR_MPI
  MPI_Comm comm = MPI_COMM_NULL;
#endif
};

namespace {

using nmfuse::emulator::fault;

constexpr char kMagic[] = "nmfuse emulated NCCL";
std::atomic<unsigned long> ids_drawn{0};

bool is_ours(const ncclUniqueId& id) {
  return std::memcmp(id.internal, kMagic, sizeof kMagic) == 0;
}

// Send and receive buffers that overlap anywhere but where NCCL's in-place rule puts
// them: real NCCL's result is undefined there, so the emulator faults.
void check_overlap(const void* send, std::size_t send_count, const void* receive,
                   std::size_t receive_count, bool in_place, const char* call) {
  const auto* s = static_cast<const float*>(send);
  const auto* r = static_cast<const float*>(receive);
  const bool overlap = s < r + receive_count && r < s + send_count;
  if (overlap && !in_place)
    fault(std::string(call) + ": the send and receive buffers overlap, but not in place");
}

// A buffer of `count` floats the emulated GPU holds, and a count one MPI message takes.
void check_buffer(const void* p, std::size_t count, const char* call, const char* what) {
  if (count > std::size_t(INT_MAX))
    fault(std::string(call) + ": the emulated NCCL moves at most INT_MAX floats at once");
  if (count > 0 && !nmfuse::emulator::is_device_range(p, count * sizeof(float)))
    fault(std::string(call) + ": the " + what + " buffer is not GPU memory of " +
          std::to_string(count) + " floats (a host pointer, freed, or too short)");
}

}  // namespace

extern "C" {

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument (emulated NCCL)";
    case ncclInvalidUsage: return "invalid usage (emulated NCCL)";
    case ncclSystemError: return "system error (emulated NCCL)";
    default: return "unhandled error (emulated NCCL)";
  }
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  *id = ncclUniqueId{};
  const long host = gethostid(), pid = getpid();  // unique across the job's machines
  const unsigned long drawn = ++ids_drawn;
  char* at = id->internal;
  for (const auto& [bytes, size] : {std::pair<const void*, std::size_t>{kMagic, sizeof kMagic},
                                    {&host, sizeof host}, {&pid, sizeof pid},
                                    {&drawn, sizeof drawn}}) {
    std::memcpy(at, bytes, size);
    at += size;
  }
  return ncclSuccess;
}

// The processes holding the same id form one communicator. They find each other by
// gathering every process's id over MPI_COMM_WORLD, so every process of it must make
// a communicator at the same time, as a distributed run does (each makes its grid row's
// and then its grid column's).
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  if (nranks < 1 || rank < 0 || rank >= nranks || !is_ours(id)) return ncclInvalidArgument;
  auto* c = new ncclComm{nranks, rank};
  if (nranks == 1) {
    *comm = c;
    return ncclSuccess;
  }
#if NMFUSE_EMULATOR_MPI
  int initialized = 0, world = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    delete c;
    return ncclInvalidUsage;
  }
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  std::vector<ncclUniqueId> ids(world);
  MPI_Allgather(&id, sizeof id, MPI_BYTE, ids.data(), sizeof id, MPI_BYTE, MPI_COMM_WORLD);
  const auto same = [&](const ncclUniqueId& other) {
    return std::memcmp(&other, &id, sizeof id) == 0;
  };
  const int colour = int(std::find_if(ids.begin(), ids.end(), same) - ids.begin());
  MPI_Comm_split(MPI_COMM_WORLD, colour, rank, &c->comm);
  int size = 0;
  MPI_Comm_size(c->comm, &size);
  if (size != nranks) {
    MPI_Comm_free(&c->comm);
    delete c;
    return ncclInvalidUsage;  // fewer or more processes holding the id than nranks
  }
  *comm = c;
  return ncclSuccess;
#else
  delete c;
  return ncclInvalidUsage;  // built without MPI: one process only
#endif
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
#if NMFUSE_EMULATOR_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm->comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm->comm);
#endif
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                               cudaStream_t stream) {
  if (!comm || datatype != ncclFloat || op != ncclSum) return ncclInvalidArgument;
  check_buffer(sendbuff, recvcount * comm->size, "ncclReduceScatter", "send");
  check_buffer(recvbuff, recvcount, "ncclReduceScatter", "receive");
  const bool in_place =  // recvbuff == sendbuff + rank·recvcount
      recvbuff == static_cast<const float*>(sendbuff) + std::size_t(comm->rank) * recvcount;
  check_overlap(sendbuff, recvcount * comm->size, recvbuff, recvcount,
                in_place, "ncclReduceScatter");
  nmfuse::emulator::enqueue(stream, [=] {
    const auto* send = static_cast<const float*>(sendbuff);
    std::vector<float> in(send, send + recvcount * comm->size);  // the buffers may overlap
#if NMFUSE_EMULATOR_MPI
    if (comm->size > 1) {
      MPI_Reduce_scatter_block(in.data(), recvbuff, int(recvcount), MPI_FLOAT, MPI_SUM,
                               comm->comm);
      return;
    }
#endif
    std::copy(in.begin(), in.end(), static_cast<float*>(recvbuff));
  });
  return ncclSuccess;
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  if (!comm || datatype != ncclFloat) return ncclInvalidArgument;
  check_buffer(sendbuff, sendcount, "ncclAllGather", "send");
  check_buffer(recvbuff, sendcount * comm->size, "ncclAllGather", "receive");
  const bool in_place =  // sendbuff == recvbuff + rank·sendcount
      sendbuff == static_cast<const float*>(recvbuff) + std::size_t(comm->rank) * sendcount;
  check_overlap(sendbuff, sendcount, recvbuff, sendcount * comm->size,
                in_place, "ncclAllGather");
  nmfuse::emulator::enqueue(stream, [=] {
    const auto* send = static_cast<const float*>(sendbuff);
    std::vector<float> mine(send, send + sendcount);
#if NMFUSE_EMULATOR_MPI
    if (comm->size > 1) {
      MPI_Allgather(mine.data(), int(sendcount), MPI_FLOAT, recvbuff, int(sendcount), MPI_FLOAT,
                    comm->comm);
      return;
    }
#endif
    std::copy(mine.begin(), mine.end(), static_cast<float*>(recvbuff));
  });
  return ncclSuccess;
}

}  // extern "C"
