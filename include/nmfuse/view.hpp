#pragma once
// Non-owning views of dense matrices on the host, and the owning Matrix that results use.
#include <cstdint>
#include <type_traits>
#include <vector>

namespace nmfuse {

using index_t = std::int64_t;

enum class Layout { RowMajor, ColMajor };

// A dense matrix someone else owns. ld is the distance between consecutive rows
// (RowMajor) or columns (ColMajor); 0 means packed.
template <class T>
struct DenseView {
  using value_type = std::remove_const_t<T>;
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  Layout layout = Layout::RowMajor;
  index_t ld = 0;

  DenseView() = default;
  DenseView(T* data_, index_t rows_, index_t cols_, Layout layout_ = Layout::RowMajor,
            index_t ld_ = 0)
      : data(data_), rows(rows_), cols(cols_), layout(layout_),
        ld(ld_ != 0 ? ld_ : (layout_ == Layout::RowMajor ? cols_ : rows_)) {}

  // A view of mutable data converts to a view of const data.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T>>>
  DenseView(const DenseView<U>& other)  // NOLINT(google-explicit-constructor)
      : data(other.data), rows(other.rows), cols(other.cols), layout(other.layout),
        ld(other.ld) {}

  T& operator()(index_t i, index_t j) const {
    return layout == Layout::RowMajor ? data[i * ld + j] : data[j * ld + i];
  }

  // The same memory read as the transpose.
  DenseView transposed() const {
    DenseView t = *this;
    t.rows = cols;
    t.cols = rows;
    t.layout = layout == Layout::RowMajor ? Layout::ColMajor : Layout::RowMajor;
    return t;
  }
};

// An owned, packed dense matrix.
template <class T>
class Matrix {
 public:
  using value_type = T;
  Matrix() = default;
  Matrix(index_t rows, index_t cols, Layout layout)
      : rows_(rows), cols_(cols), layout_(layout),
        data_(static_cast<std::size_t>(rows * cols), T(0)) {}

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  Layout layout() const { return layout_; }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  std::size_t size() const { return data_.size(); }

  T& operator()(index_t i, index_t j) { return data_[offset(i, j)]; }
  const T& operator()(index_t i, index_t j) const { return data_[offset(i, j)]; }

  DenseView<T> view() { return {data(), rows_, cols_, layout_}; }
  DenseView<const T> view() const { return {data(), rows_, cols_, layout_}; }

 private:
  std::size_t offset(index_t i, index_t j) const {
    return static_cast<std::size_t>(layout_ == Layout::RowMajor ? i * cols_ + j
                                                                : j * rows_ + i);
  }
  index_t rows_ = 0;
  index_t cols_ = 0;
  Layout layout_ = Layout::ColMajor;
  std::vector<T> data_;
};

}  // namespace nmfuse
