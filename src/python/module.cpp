// nmfuse._nmfuse: the library's entry points for Python arrays. NumPy and SciPy arrays
// are read where they lie (views, no copies); results come back as NumPy arrays that
// own the library's matrices. The estimator over it is nmfuse/_estimator.py.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "datasets/swimmer.hpp"
#include "nmfuse/nmfuse.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using nmfuse::DenseView;
using nmfuse::index_t;
using nmfuse::Layout;

// Any 2-D array on the host, read-only, of any element type (checked here, by name).
using HostArray = nb::ndarray<nb::ro, nb::ndim<2>, nb::device::cpu>;
using HostVector = nb::ndarray<nb::ro, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using GpuArray = nb::ndarray<nb::ro, float, nb::ndim<2>, nb::device::cuda>;

// The layout and leading dimension of a 2-D array (strides in elements) whose rows or
// columns are contiguous: NumPy's C and F orders, and slices of them along the other axis.
template <class Array>
std::pair<Layout, int64_t> layout_of(const Array& a, const char* name) {
  const auto rows = int64_t(a.shape(0)), cols = int64_t(a.shape(1));
  // A stride along a side of length 1 is never used: treat it as contiguous.
  const int64_t row_step = rows == 1 ? cols : a.stride(0);
  const int64_t col_step = cols == 1 ? rows : a.stride(1);
  if (col_step == 1 && row_step >= cols) return {Layout::RowMajor, row_step};
  if (row_step == 1 && col_step >= rows) return {Layout::ColMajor, col_step};
  throw nmfuse::InvalidArgument(std::string(name) + " has strides (" + std::to_string(a.stride(0)) +
                                ", " + std::to_string(a.stride(1)) +
                                ") elements: neither its rows nor its columns are contiguous");
}

template <class T, class Array>
DenseView<const T> view_of(const Array& a, const char* name) {
  const auto [layout, ld] = layout_of(a, name);
  return {static_cast<const T*>(a.data()), index_t(a.shape(0)), index_t(a.shape(1)), layout, ld};
}

template <class T>
bool holds(const HostArray& a) {
  return a.dtype() == nb::dtype<T>();
}

// f(float()) or f(double()), as X holds.
template <class F>
auto with_dtype_of(const HostArray& X, F&& f) {
  if (holds<float>(X)) return f(float());
  if (holds<double>(X)) return f(double());
  throw nmfuse::InvalidArgument("X must be float32 or float64");
}

// Views of the starting factors W and H, given together and of X's dtype T, or none.
template <class T>
std::pair<std::optional<DenseView<const T>>, std::optional<DenseView<const T>>> starting_views(
    const std::optional<HostArray>& W0, const std::optional<HostArray>& H0) {
  if (bool(W0) != bool(H0)) throw nmfuse::InvalidArgument("W and H must be given together");
  if (!W0) return {};
  const char* type = std::is_same_v<T, float> ? "float32" : "float64";
  for (const HostArray* a : {&*W0, &*H0})
    if (!holds<T>(*a))
      throw nmfuse::InvalidArgument(std::string(a == &*W0 ? "W" : "H") +
                                    " must have the dtype of X (" + type + ")");
  return {view_of<T>(*W0, "W"), view_of<T>(*H0, "H")};
}

// A NumPy array that owns `m`: no copy.
template <class T>
nb::object numpy_of(nmfuse::Matrix<T>&& m) {
  auto* owned = new nmfuse::Matrix<T>(std::move(m));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<nmfuse::Matrix<T>*>(p); });
  const std::size_t shape[2] = {std::size_t(owned->rows()), std::size_t(owned->cols())};
  const bool row_major = owned->layout() == Layout::RowMajor;
  const int64_t strides[2] = {row_major ? owned->cols() : 1, row_major ? 1 : owned->rows()};
  return nb::ndarray<nb::numpy, T, nb::ndim<2>>(owned->data(), 2, shape, owner, strides).cast();
}

nb::dict info_of(const nmfuse::RunInfo& r) {
  nb::dict d;
  d["iterations"] = r.iterations;
  d["loss_history"] = r.loss_history;
  d["loss_iterations"] = r.loss_iterations;
  d["stop_reason"] = nmfuse::to_string(r.stop_reason);
  d["converged"] = r.converged;
  d["device"] = nmfuse::to_string(r.device);
  d["device_reason"] = r.device_reason;
  d["seconds"] = r.seconds;
  return d;
}

// The options a call runs with: Ctrl-C stops the run after its iteration (the library's
// interrupt), and verbose runs print each check, both through the interpreter.
nmfuse::Options for_python(nmfuse::Options opt, bool verbose) {
  // Once asked to stop, every later run of the call (a survey's) stops at once too.
  opt.interrupt = [stopped = std::make_shared<bool>(false)] {
    if (*stopped) return true;
    nb::gil_scoped_acquire gil;
    *stopped = PyErr_CheckSignals() != 0;  // leaves KeyboardInterrupt pending
    return *stopped;
  };
  if (verbose)
    opt.on_progress = [](const nmfuse::Progress& p) {
      nb::gil_scoped_acquire gil;
      nb::print(nb::str("iteration {}: loss {:.6g}, relative decrease {:.3g}, {:.3f} s")
                    .format(p.iteration, p.loss, p.relative_decrease, p.seconds));
      return true;
    };
  return opt;
}

// Runs `call` without the GIL; raises what the interpreter has pending (KeyboardInterrupt).
template <class Call>
auto without_gil(Call&& call) {
  auto out = [&] {
    nb::gil_scoped_release released;
    return call();
  }();
  if (PyErr_Occurred()) throw nb::python_error();
  return out;
}

// (W, H, info) as NumPy arrays and a dict.
template <class T>
nb::tuple fitted(nmfuse::Result<T>&& r) {
  nb::dict info = info_of(r);
  return nb::make_tuple(numpy_of(std::move(r.W)), numpy_of(std::move(r.H)), info);
}

// The mask of observed entries, where one was given.
std::optional<nmfuse::MaskView> mask_of(const std::optional<HostArray>& observed) {
  if (!observed) return std::nullopt;
  if (!holds<bool>(*observed) && !holds<std::uint8_t>(*observed))
    throw nmfuse::InvalidArgument("the mask must be an array of bool or uint8");
  return view_of<std::uint8_t>(*observed, "the mask");
}

nb::tuple fit_dense(const HostArray& X, const nmfuse::Options& options, bool verbose,
                    std::optional<HostArray> W0, std::optional<HostArray> H0,
                    std::optional<HostArray> observed) {
  const nmfuse::Options opt = for_python(options, verbose);
  const std::optional<nmfuse::MaskView> mask = mask_of(observed);
  return with_dtype_of(X, [&](auto value) {
    using T = decltype(value);
    const DenseView<const T> V = view_of<T>(X, "X");
    const auto [w, h] = starting_views<T>(W0, H0);
    return fitted(without_gil([&] {
      return nmfuse::detail::factorize<T>(V, opt, w ? &*w : nullptr, h ? &*h : nullptr,
                                          mask ? &*mask : nullptr);
    }));
  });
}

// A scipy.sparse CSR matrix as its three arrays: indices and indptr of one integer type.
template <class T, class I>
nmfuse::CsrView<T, I> csr_view(const HostVector& data, const HostVector& indices,
                               const HostVector& indptr, index_t rows, index_t cols,
                               bool absent_unknown) {
  if (indptr.shape(0) != std::size_t(rows) + 1)
    throw nmfuse::InvalidArgument("indptr has " + std::to_string(indptr.shape(0)) +
                                  " entries, expected rows + 1 = " + std::to_string(rows + 1));
  const auto* row_ptr = static_cast<const I*>(indptr.data());
  const auto nnz = std::size_t(row_ptr[rows]);
  if (indices.shape(0) < nnz || data.shape(0) < nnz)
    throw nmfuse::InvalidArgument("indptr ends at " + std::to_string(nnz) + ", but indices has " +
                                  std::to_string(indices.shape(0)) + " and data " +
                                  std::to_string(data.shape(0)) + " entries");
  return {row_ptr, static_cast<const I*>(indices.data()), static_cast<const T*>(data.data()),
          rows, cols, absent_unknown ? nmfuse::Absent::Unknown : nmfuse::Absent::Zero};
}

// Calls f(CsrView<T, I>) for the arrays' element and index types.
template <class F>
auto with_csr(const HostVector& data, const HostVector& indices, const HostVector& indptr,
              index_t rows, index_t cols, bool absent_unknown, F&& f) {
  if (indices.dtype() != indptr.dtype())
    throw nmfuse::InvalidArgument("indices and indptr must have one integer type");
  const bool wide = indices.dtype() == nb::dtype<std::int64_t>();
  if (!wide && indices.dtype() != nb::dtype<std::int32_t>())
    throw nmfuse::InvalidArgument("indices must be int32 or int64");
  auto with_index = [&](auto value) {
    using T = decltype(value);
    if (wide) return f(csr_view<T, std::int64_t>(data, indices, indptr, rows, cols, absent_unknown));
    return f(csr_view<T, std::int32_t>(data, indices, indptr, rows, cols, absent_unknown));
  };
  if (data.dtype() == nb::dtype<float>()) return with_index(float());
  if (data.dtype() == nb::dtype<double>()) return with_index(double());
  throw nmfuse::InvalidArgument("X must be float32 or float64");
}

nb::tuple fit_sparse(const HostVector& data, const HostVector& indices, const HostVector& indptr,
                     index_t rows, index_t cols, bool absent_unknown,
                     const nmfuse::Options& options, bool verbose, std::optional<HostArray> W0,
                     std::optional<HostArray> H0) {
  const nmfuse::Options opt = for_python(options, verbose);
  return with_csr(data, indices, indptr, rows, cols, absent_unknown, [&](auto V) {
    using T = typename decltype(V)::value_type;
    using I = typename decltype(V)::index_type;
    const auto [w, h] = starting_views<T>(W0, H0);
    return fitted(without_gil([&] {
      return nmfuse::detail::factorize<T, I>(V, opt, w ? &*w : nullptr, h ? &*h : nullptr);
    }));
  });
}

// W (k columns) as the library's m×k column-major matrix.
template <class T>
nmfuse::Matrix<T> matrix_of(const HostArray& W, const char* name) {
  const DenseView<const T> v = view_of<T>(W, name);
  nmfuse::Matrix<T> m(v.rows, v.cols, Layout::ColMajor);
  for (index_t j = 0; j < v.cols; ++j)
    for (index_t i = 0; i < v.rows; ++i) m(i, j) = v(i, j);
  return m;
}

// H (k×n) for the columns of V with W (m×k) fixed.
// `observed`: V's mask, where it has missing values.
nb::object solve_H_dense(const HostArray& X, const HostArray& W, const nmfuse::Options& options,
                         std::optional<HostArray> observed) {
  const nmfuse::Options opt = for_python(options, false);
  const std::optional<nmfuse::MaskView> mask = mask_of(observed);
  return with_dtype_of(X, [&](auto value) {
    using T = decltype(value);
    if (!holds<T>(W)) throw nmfuse::InvalidArgument("the model's factor must have the dtype of X");
    const DenseView<const T> V = view_of<T>(X, "X");
    const nmfuse::Matrix<T> fixed = matrix_of<T>(W, "W");
    return numpy_of(without_gil(
        [&] { return nmfuse::detail::solve_H<T>(V, fixed, opt, mask ? &*mask : nullptr); }));
  });
}

nb::object solve_H_sparse(const HostVector& data, const HostVector& indices,
                          const HostVector& indptr, index_t rows, index_t cols,
                          bool absent_unknown, const HostArray& W, const nmfuse::Options& options) {
  const nmfuse::Options opt = for_python(options, false);
  return with_csr(data, indices, indptr, rows, cols, absent_unknown, [&](auto V) {
    using T = typename decltype(V)::value_type;
    using I = typename decltype(V)::index_type;
    if (!holds<T>(W)) throw nmfuse::InvalidArgument("the model's factor must have the dtype of X");
    const nmfuse::Matrix<T> fixed = matrix_of<T>(W, "W");
    return numpy_of(without_gil([&] { return nmfuse::detail::solve_H<T, I>(V, fixed, opt); }));
  });
}

// A GPU array (CuPy, PyTorch: DLPack) that owns a DeviceMatrix, on V's device.
nb::object gpu_array_of(const nmfuse::DeviceMatrix& m, int device_id) {
  auto* owned = new nmfuse::DeviceMatrix(m);
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<nmfuse::DeviceMatrix*>(p); });
  const std::size_t shape[2] = {std::size_t(m.rows()), std::size_t(m.cols())};
  const bool row_major = m.layout() == Layout::RowMajor;
  const int64_t strides[2] = {row_major ? m.cols() : 1, row_major ? 1 : m.rows()};
  using Array = nb::ndarray<nb::array_api, float, nb::ndim<2>, nb::device::cuda>;
  return Array(m.data(), 2, shape, owner, strides, nb::dtype<float>(), nb::device::cuda::value,
               device_id)
      .cast();
}

// Factors a float32 array in GPU memory where it lies, on the default stream.
nb::tuple fit_gpu(const GpuArray& X, const nmfuse::Options& options, bool verbose) {
  const nmfuse::Options opt = for_python(options, verbose);
  const auto [layout, ld] = layout_of(X, "X on the GPU");
  const nmfuse::DeviceView V(X.data(), index_t(X.shape(0)), index_t(X.shape(1)), layout, ld);
  nmfuse::DeviceResult r = without_gil([&] { return nmfuse::factorize(V, opt); });
  return nb::make_tuple(gpu_array_of(r.W, X.device_id()), gpu_array_of(r.H, X.device_id()),
                        info_of(r));
}

// The consensus measures into d, the matrix (n × n NumPy array) under `matrix_key`.
void add_consensus(nb::dict& d, const nmfuse::Consensus& c, const char* matrix_key) {
  nmfuse::Matrix<double> matrix(c.samples, c.samples, Layout::ColMajor);
  std::copy(c.matrix.begin(), c.matrix.end(), matrix.data());
  d[matrix_key] = numpy_of(std::move(matrix));
  d["cophenetic"] = c.cophenetic;
  d["dispersion"] = c.dispersion;
  d["order"] = c.order;
}

// The consensus of runs given by their W (n_samples × k each): the samples are X's rows.
nb::dict consensus_of(const std::vector<HostArray>& runs) {
  auto measure = [&](auto value) {
    using T = decltype(value);
    std::vector<DenseView<const T>> H;  // Wᵀ: the library's samples are columns
    for (const HostArray& W : runs) {
      if (!holds<T>(W)) throw nmfuse::InvalidArgument("every run's W must have one dtype");
      H.push_back(view_of<T>(W, "W").transposed());
    }
    return nmfuse::consensus(H);
  };
  if (runs.empty()) throw nmfuse::InvalidArgument("consensus: no runs given");
  nb::dict d;
  add_consensus(d, with_dtype_of(runs[0], measure), "matrix");
  return d;
}

nmfuse::SurveyOptions survey_options(const std::vector<int>& ranks, int restarts,
                                     double holdout, int splits) {
  nmfuse::SurveyOptions s;
  s.ranks = ranks;
  s.restarts = restarts;
  s.holdout = holdout;
  s.splits = splits;
  return s;
}

// Each rank's measures as a dict, then (suggested rank, rule).
nb::list survey_table(const nmfuse::RankSurvey& survey) {
  nb::list out;
  for (const nmfuse::RankMeasures& m : survey.ranks) {
    nb::dict d;
    d["rank"] = m.rank;
    d["losses"] = m.losses;
    d["best_restart"] = m.best_restart;
    d["holdout_errors"] = m.holdout_errors;
    d["holdout_mean"] = m.holdout_mean;
    d["holdout_standard_error"] = m.holdout_standard_error;
    d["silhouette"] = m.silhouette;
    add_consensus(d, m.consensus, "consensus");
    out.append(d);
  }
  out.append(nb::make_tuple(survey.suggested_rank, survey.rule));
  return out;
}

// The rank survey of a dense X whose columns are the samples (only its observed entries
// where a mask is given).
nb::list survey_ranks(const HostArray& X, const nmfuse::Options& options, bool verbose,
                      const std::vector<int>& ranks, int restarts, double holdout, int splits,
                      std::optional<HostArray> observed) {
  const nmfuse::Options opt = for_python(options, verbose);
  const nmfuse::SurveyOptions s = survey_options(ranks, restarts, holdout, splits);
  const std::optional<nmfuse::MaskView> mask = mask_of(observed);
  return survey_table(with_dtype_of(X, [&](auto value) {
    using T = decltype(value);
    const DenseView<const T> V = view_of<T>(X, "X");
    return without_gil([&] {
      return mask ? nmfuse::survey_ranks(V, *mask, opt, s) : nmfuse::survey_ranks(V, opt, s);
    });
  }));
}

// The same for a CSR X.
nb::list survey_ranks_sparse(const HostVector& data, const HostVector& indices,
                             const HostVector& indptr, index_t rows, index_t cols,
                             bool absent_unknown, const nmfuse::Options& options, bool verbose,
                             const std::vector<int>& ranks, int restarts, double holdout,
                             int splits) {
  const nmfuse::Options opt = for_python(options, verbose);
  const nmfuse::SurveyOptions s = survey_options(ranks, restarts, holdout, splits);
  return survey_table(with_csr(data, indices, indptr, rows, cols, absent_unknown, [&](auto V) {
    return without_gil([&] { return nmfuse::survey_ranks(V, opt, s); });
  }));
}

nb::dict build_info() {
  const nmfuse::BuildInfo b = nmfuse::build_info();
  nb::dict d;
  d["version"] = b.version;
  d["cuda_compiled"] = b.cuda_compiled;
  d["usable_gpus"] = b.usable_gpus;
  d["gpu_status"] = b.gpu_status;
  d["blas"] = b.blas;
  d["blas_kernels"] = b.blas_kernels;
  d["blas_kernels_selected"] = b.blas_kernels_selected;
  d["dense_products"] = b.dense_products;
  d["blas_slower"] = b.blas_slower;
  return d;
}

// The swimmer set as scikit-learn lays data out: 256 images × 1024 pixels.
nb::object swimmer_images() {
  const nmfuse::Matrix<float> pixels_by_image = nmfuse::datasets::swimmer();
  nmfuse::Matrix<float> X(pixels_by_image.cols(), pixels_by_image.rows(), Layout::RowMajor);
  for (index_t i = 0; i < X.rows(); ++i)
    for (index_t j = 0; j < X.cols(); ++j) X(i, j) = pixels_by_image(j, i);
  return numpy_of(std::move(X));
}

// Its 17 parts, one per row: the torso, then limb l in position p at 1 + 4·l + p.
nb::object swimmer_parts() {
  nmfuse::Matrix<float> parts(nmfuse::datasets::kSwimmerParts, nmfuse::datasets::kSwimmerPixels,
                              Layout::RowMajor);
  for (int p = 0; p < nmfuse::datasets::kSwimmerParts; ++p) {
    const std::vector<float> part = nmfuse::datasets::swimmer_part(p);
    std::copy(part.begin(), part.end(), parts.data() + std::size_t(p) * part.size());
  }
  return numpy_of(std::move(parts));
}

}  // namespace

nb::dict online_info_of(const nmfuse::OnlineInfo& info) {
  nb::dict d;
  d["steps"] = info.steps;
  d["passes"] = info.passes;
  d["batch_cost"] = info.batch_cost;
  d["smoothed_cost"] = info.smoothed_cost;
  d["stop_reason"] = nmfuse::to_string(info.stop_reason);
  d["device"] = nmfuse::to_string(info.device);
  d["device_reason"] = info.device_reason;
  d["seconds"] = info.seconds;
  return d;
}

// nmfuse::Model<T> for online fitting (MiniBatchNMF in nmfuse/_estimator.py): batches of
// V's columns, dense or CSR, each call returning the OnlineInfo so far.
template <class T>
void bind_online_model(nb::module_& m, const char* name) {
  using Model = nmfuse::Model<T>;
  auto dense = [](const HostArray& V, const char* name = "X") {
    if (!holds<T>(V))
      throw nmfuse::InvalidArgument(std::string(name) + " must be " +
                                    (std::is_same_v<T, float> ? "float32" : "float64"));
    return view_of<T>(V, name);
  };
  auto sparse = [](auto&& call) {
    return [call](Model& self, const HostVector& data, const HostVector& indices,
                  const HostVector& indptr, index_t rows, index_t cols, bool absent_unknown) {
      return with_csr(data, indices, indptr, rows, cols, absent_unknown, [&](auto V) {
        if constexpr (std::is_same_v<typename decltype(V)::value_type, T>)
          return online_info_of(without_gil([&] { return call(self, V); }));
        else
          throw nmfuse::InvalidArgument("the batch's dtype is not the model's");
        return nb::dict();
      });
    };
  };
  nb::class_<Model>(m, name)
      .def("__init__",
           [](Model* self, const nmfuse::Options& options, bool verbose) {
             new (self) Model(for_python(options, verbose));
           },
           "options"_a, "verbose"_a = false)
      .def("partial_fit",
           [dense](Model& self, const HostArray& V, std::optional<HostArray> observed) {
             const DenseView<const T> v = dense(V);
             const std::optional<nmfuse::MaskView> mask = mask_of(observed);
             return online_info_of(without_gil(
                 [&] { return mask ? self.partial_fit(v, *mask) : self.partial_fit(v); }));
           },
           "V"_a, "observed"_a = nb::none(),
           "One step on a batch of new columns V (m×b); `observed`: its mask, if any.")
      .def("fit_online",
           [dense](Model& self, const HostArray& V, std::optional<HostArray> observed) {
             const DenseView<const T> v = dense(V);
             const std::optional<nmfuse::MaskView> mask = mask_of(observed);
             return online_info_of(without_gil(
                 [&] { return mask ? self.fit_online(v, *mask) : self.fit_online(v); }));
           },
           "V"_a, "observed"_a = nb::none(), "A fresh online fit over V's columns.")
      .def("partial_fit_sparse",
           sparse([](Model& self, auto V) { return self.partial_fit(V); }),
           "data"_a, "indices"_a, "indptr"_a, "rows"_a, "cols"_a, "absent_unknown"_a = false)
      .def("fit_online_sparse",
           sparse([](Model& self, auto V) { return self.fit_online(V); }),
           "data"_a, "indices"_a, "indptr"_a, "rows"_a, "cols"_a, "absent_unknown"_a = false)
      .def("W", [](const Model& self) { return numpy_of(nmfuse::Matrix<T>(self.W())); },
           "W (m×k), a copy.")
      .def("start_from", [dense](Model& self, const HostArray& W) { self.start_from(dense(W, "W")); },
           "W"_a, "Online steps go on from W (m×k), with no statistics yet.");
}

NB_MODULE(_nmfuse, m) {
  m.doc() = "nmfuse's C++ library; use nmfuse.NMF";

  // The library's errors as Python's: the caller's mistakes are ValueError.
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const nmfuse::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const nmfuse::OutOfDeviceMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const nmfuse::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  nb::enum_<nmfuse::Loss>(m, "Loss")
      .value("Frobenius", nmfuse::Loss::Frobenius)
      .value("KullbackLeibler", nmfuse::Loss::KullbackLeibler)
      .value("ItakuraSaito", nmfuse::Loss::ItakuraSaito)
      .value("Beta", nmfuse::Loss::Beta);
  nb::enum_<nmfuse::Solver>(m, "Solver")
      .value("Auto", nmfuse::Solver::Auto)
      .value("MU", nmfuse::Solver::MU)
      .value("HALS", nmfuse::Solver::HALS);
  nb::enum_<nmfuse::Init>(m, "Init")
      .value("Auto", nmfuse::Init::Auto)
      .value("Random", nmfuse::Init::Random)
      .value("NNDSVD", nmfuse::Init::NNDSVD)
      .value("NNDSVDa", nmfuse::Init::NNDSVDa)
      .value("NNDSVDar", nmfuse::Init::NNDSVDar)
      .value("Custom", nmfuse::Init::Custom);
  nb::enum_<nmfuse::OutOfCore>(m, "OutOfCore")
      .value("Auto", nmfuse::OutOfCore::Auto)
      .value("Off", nmfuse::OutOfCore::Off)
      .value("On", nmfuse::OutOfCore::On);
  nb::enum_<nmfuse::Device>(m, "Device")
      .value("Auto", nmfuse::Device::Auto)
      .value("Cpu", nmfuse::Device::Cpu)
      .value("Cuda", nmfuse::Device::Cuda);

  // The fields of nmfuse::Options a Python caller sets (README, "Options").
  nb::class_<nmfuse::Options>(m, "Options")
      .def(nb::init<>())
      .def_rw("rank", &nmfuse::Options::rank)
      .def_rw("loss", &nmfuse::Options::loss)
      .def_rw("beta", &nmfuse::Options::beta)
      .def_rw("solver", &nmfuse::Options::solver)
      .def_rw("init", &nmfuse::Options::init)
      .def_rw("max_iter", &nmfuse::Options::max_iter)
      .def_rw("tol", &nmfuse::Options::tol)
      .def_rw("check_every", &nmfuse::Options::check_every)
      .def_rw("seed", &nmfuse::Options::seed)
      .def_rw("alpha_W", &nmfuse::Options::alpha_W)
      .def_rw("alpha_H", &nmfuse::Options::alpha_H)
      .def_rw("l1_ratio", &nmfuse::Options::l1_ratio)
      .def_rw("hals_inner_max", &nmfuse::Options::hals_inner_max)
      .def_rw("hals_inner_tol", &nmfuse::Options::hals_inner_tol)
      .def_rw("hals_extrapolate", &nmfuse::Options::hals_extrapolate)
      .def_rw("hals_restart_dead", &nmfuse::Options::hals_restart_dead)
      .def_rw("batch_size", &nmfuse::Options::batch_size)
      .def_rw("forget_factor", &nmfuse::Options::forget_factor)
      .def_rw("max_passes", &nmfuse::Options::max_passes)
      .def_rw("max_no_improvement", &nmfuse::Options::max_no_improvement)
      .def_rw("out_of_core", &nmfuse::Options::out_of_core)
      .def_rw("out_of_core_block", &nmfuse::Options::out_of_core_block)
      .def_rw("device", &nmfuse::Options::device)
      .def_rw("allow_tf32", &nmfuse::Options::allow_tf32)
      .def("validate", &nmfuse::Options::validate);

  bind_online_model<float>(m, "OnlineModel32");
  bind_online_model<double>(m, "OnlineModel64");

  m.def("fit_dense", &fit_dense, "X"_a, "options"_a, "verbose"_a = false, "W"_a = nb::none(),
        "H"_a = nb::none(), "observed"_a = nb::none(),
        "Factor a dense X (m×n, float32 or float64, C or F order): (W, H, info).");
  m.def("fit_sparse", &fit_sparse, "data"_a, "indices"_a, "indptr"_a, "rows"_a, "cols"_a,
        "absent_unknown"_a, "options"_a, "verbose"_a = false, "W"_a = nb::none(),
        "H"_a = nb::none(), "Factor a CSR matrix given by its arrays: (W, H, info).");
  m.def("solve_H_dense", &solve_H_dense, "X"_a, "W"_a, "options"_a, "observed"_a = nb::none(),
        "H (k×n) for the columns of X with W (m×k) fixed (fitted to `observed`, if given).");
  m.def("solve_H_sparse", &solve_H_sparse, "data"_a, "indices"_a, "indptr"_a, "rows"_a, "cols"_a,
        "absent_unknown"_a, "W"_a, "options"_a,
        "H (k×n) for the columns of a CSR matrix with W (m×k) fixed.");
  m.def("fit_gpu", &fit_gpu, "X"_a, "options"_a, "verbose"_a = false,
        "Factor a float32 array in GPU memory in place: (W, H, info), W and H on the GPU.");
  m.def("swimmer_images", &swimmer_images, "The swimmer set: 256 images × 1024 pixels.");
  m.def("swimmer_parts", &swimmer_parts, "The swimmer set's 17 parts: 17 × 1024 pixels.");
  m.def("consensus", &consensus_of, "runs"_a,
        "The consensus of runs given by their W (n_samples × k each): matrix, cophenetic, "
        "dispersion, order.");
  m.def("survey_ranks", &survey_ranks, "X"_a, "options"_a, "verbose"_a, "ranks"_a,
        "restarts"_a, "holdout"_a, "splits"_a, "observed"_a = nb::none(),
        "The rank survey of X's columns: a dict per rank, then (suggested rank, rule).");
  m.def("survey_ranks_sparse", &survey_ranks_sparse, "data"_a, "indices"_a, "indptr"_a,
        "rows"_a, "cols"_a, "absent_unknown"_a, "options"_a, "verbose"_a, "ranks"_a,
        "restarts"_a, "holdout"_a, "splits"_a,
        "The rank survey of a CSR X's columns, as survey_ranks.");
  m.def("build_info", &build_info, "What this copy of nmfuse was built with and can use.");
  m.def("set_cpu_threads", &nmfuse::set_cpu_threads, "threads"_a,
        "Threads for the CPU backend (0: the libraries' defaults).");
}
