"""nmfuse.NMF on the GPU: a real one where there is one, else the emulated GPU (ctest
sets NMFUSE_CUDA_MODULE=gpu-or-emulated). Host arrays fitted there equal the CPU's fit;
an array in GPU memory (DLPack) is factored where it lies."""
import ctypes
import os

os.environ.setdefault("NMFUSE_CUDA_MODULE", "gpu-or-emulated")  # before the module loads

import numpy as np
import pytest

import nmfuse

# The GPU computes in float32 and sums in other orders than the CPU: after 30
# iterations the factors agree to about 10⁴·ε = 1e-3 (ε = 1.2e-7).
FLOAT_TOLERANCE = 1e-3


def relative_difference(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max()


def planted(m, n, k, seed, dtype):
    rng = np.random.default_rng(seed)
    return (rng.random((m, k)) @ rng.random((k, n)) + 0.1 * rng.random((m, n))).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver, beta_loss", [("cd", "frobenius"), ("mu", "frobenius"),
                                               ("mu", "kullback-leibler"), ("hals", "frobenius")])
def test_a_fit_on_the_gpu_equals_the_cpus(solver, beta_loss, dtype):
    X = planted(70, 50, 4, seed=1, dtype=dtype)
    rng = np.random.default_rng(2)
    W0 = rng.random((70, 4)).astype(dtype)
    H0 = rng.random((4, 50)).astype(dtype)
    settings = dict(n_components=4, init="custom", solver=solver, beta_loss=beta_loss,
                    max_iter=30, tol=0)
    gpu = nmfuse.NMF(device="cuda", **settings)
    cpu = nmfuse.NMF(device="cpu", **settings)
    W = gpu.fit_transform(X, W=W0.copy(), H=H0.copy())
    W_cpu = cpu.fit_transform(X, W=W0.copy(), H=H0.copy())
    assert gpu.device_ == "cuda" and cpu.device_ == "cpu"
    assert W.dtype == dtype and gpu.components_.dtype == dtype
    if solver == "hals":
        # Extrapolated HALS drifts along the fit's flat directions, where rounding in other
        # orders moves the factors (1.2% at 30 iterations against AVX2's SGEMM) but neither
        # their product nor the loss (4e-5). Its step grows or shrinks on whether the loss
        # rose, by any amount: where rounding decides that differently (here between
        # iterations 10 and 20), W·H part by 1.2e-3 (1e-6 before).
        assert relative_difference(W @ gpu.components_, W_cpu @ cpu.components_) < 3 * FLOAT_TOLERANCE
        assert gpu.reconstruction_err_ == pytest.approx(cpu.reconstruction_err_, rel=1e-4)
        return
    assert relative_difference(W, W_cpu) < FLOAT_TOLERANCE
    assert relative_difference(gpu.components_, cpu.components_) < FLOAT_TOLERANCE
    X_new = planted(9, 50, 4, seed=3, dtype=dtype)
    assert relative_difference(gpu.transform(X_new), cpu.transform(X_new)) < FLOAT_TOLERANCE


def test_cd_on_the_gpu_keeps_a_dead_component_dead():
    X = planted(60, 40, 4, seed=6, dtype=np.float32)
    rng = np.random.default_rng(7)
    W0, H0 = rng.random((60, 4)).astype(np.float32), rng.random((4, 40)).astype(np.float32)
    W0[:, 1] = 0
    H0[1] = 0
    settings = dict(n_components=4, init="custom", solver="cd", max_iter=20, tol=0)
    gpu = nmfuse.NMF(device="cuda", **settings)
    W = gpu.fit_transform(X, W=W0.copy(), H=H0.copy())
    cpu = nmfuse.NMF(device="cpu", **settings).fit(X, W=W0.copy(), H=H0.copy())
    assert not W[:, 1].any() and not gpu.components_[1].any()
    assert relative_difference(gpu.components_, cpu.components_) < FLOAT_TOLERANCE


# DLPack by hand (dlpack.h's structs), over the memory of the CUDA runtime the library
# loaded: what CuPy and PyTorch hand over, without either installed.
class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


KDLCUDA = 2
CUDA_MEMCPY_HOST_TO_DEVICE, CUDA_MEMCPY_DEVICE_TO_HOST = 1, 2
PyCapsule_New = ctypes.pythonapi.PyCapsule_New
PyCapsule_New.restype = ctypes.py_object
PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
PyCapsule_GetPointer = ctypes.pythonapi.PyCapsule_GetPointer
PyCapsule_GetPointer.restype = ctypes.c_void_p
PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def cuda_runtime():
    """The CUDA runtime in this process: the emulated GPU's module, or libcudart."""
    nmfuse.NMF(1, device="cuda", max_iter=1).fit(np.ones((2, 2), np.float32))  # loads it
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if ".so" in line}
    for name in ("libnmfuse_cuda_emulated.so", "libcudart.so"):
        for path in paths:
            if os.path.basename(path).startswith(name):
                cuda = ctypes.CDLL(path)  # the loaded one: dlopen hands back its handle
                cuda.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
                cuda.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                            ctypes.c_int]
                cuda.cudaFree.argtypes = [ctypes.c_void_p]
                return cuda
    raise AssertionError("no CUDA runtime loaded after a fit on the GPU")


class GpuArray:
    """A float32 matrix in GPU memory that exports DLPack, as a CuPy array does."""

    def __init__(self, cuda, host):
        host = np.ascontiguousarray(host, dtype=np.float32)
        self.cuda, self.shape, self.dtype = cuda, host.shape, host.dtype
        self.pointer = ctypes.c_void_p()
        assert cuda.cudaMalloc(ctypes.byref(self.pointer), host.nbytes) == 0
        assert cuda.cudaMemcpy(self.pointer, host.ctypes.data, host.nbytes,
                               CUDA_MEMCPY_HOST_TO_DEVICE) == 0
        self.dims = (ctypes.c_int64 * 2)(*host.shape)
        self.managed = DLManagedTensor(DLTensor(self.pointer, DLDevice(KDLCUDA, 0), 2,
                                                DLDataType(2, 32, 1), self.dims, None, 0))

    def __dlpack_device__(self):
        return (KDLCUDA, 0)

    def __dlpack__(self, **kwargs):  # deleter None: this object owns the memory
        return PyCapsule_New(ctypes.addressof(self.managed), b"dltensor", None)

    def __del__(self):
        self.cuda.cudaFree(self.pointer)


def to_host(cuda, array):
    """A GPU array the library returned (DLPack, unversioned) copied to NumPy."""
    capsule = array.__dlpack__()
    managed = DLManagedTensor.from_address(PyCapsule_GetPointer(capsule, b"dltensor"))
    t = managed.dl_tensor
    assert (t.device.device_type, t.ndim) == (KDLCUDA, 2)
    shape = (t.shape[0], t.shape[1])
    strides = (t.strides[0], t.strides[1]) if t.strides else (shape[1], 1)
    extent = (shape[0] - 1) * strides[0] + (shape[1] - 1) * strides[1] + 1
    flat = np.empty(extent, np.float32)
    assert cuda.cudaMemcpy(flat.ctypes.data, t.data, flat.nbytes, CUDA_MEMCPY_DEVICE_TO_HOST) == 0
    return np.lib.stride_tricks.as_strided(flat, shape, (strides[0] * 4, strides[1] * 4)).copy()


def test_an_array_in_gpu_memory_is_factored_where_it_lies():
    cuda = cuda_runtime()
    X = planted(60, 40, 3, seed=4, dtype=np.float32)
    settings = dict(n_components=3, solver="mu", max_iter=40, tol=0, random_state=5)
    on_gpu = nmfuse.NMF(**settings)
    W = on_gpu.fit_transform(GpuArray(cuda, X))
    assert W.__dlpack_device__() == (KDLCUDA, 0)  # the factors stay on the GPU
    assert on_gpu.device_ == "cuda"
    from_host = nmfuse.NMF(device="cuda", **settings)
    W_host = from_host.fit_transform(X)
    assert relative_difference(to_host(cuda, W), W_host) < FLOAT_TOLERANCE
    assert relative_difference(to_host(cuda, on_gpu.components_), from_host.components_) < FLOAT_TOLERANCE
    with pytest.raises(ValueError, match="device = cpu"):
        nmfuse.NMF(device="cpu", **settings).fit(GpuArray(cuda, X))
