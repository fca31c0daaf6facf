#pragma once
// A pack of consecutive rows, one per SIMD lane: the CPU backend runs the per-row math
// of kernels/row_update.hpp on Lanes<T> instead of T, so one call updates a vector
// register's worth of rows (with AVX-512, 16 in float and 8 in double; with AVX2, 8 and
// 4). Column-major factors make a pack's entries t contiguous, so loads and stores are
// plain vector moves.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/simd_width.hpp"
#include "row_update.hpp"

namespace nmfuse::cpu {

template <class T>
struct LaneMask;

template <class T>
struct Lanes {
  static constexpr int kWidth = int(kVectorBytes / sizeof(T));
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  Vec v;

  Lanes() = default;
  Lanes(T s) : v(Vec{} + s) {}  // NOLINT(google-explicit-constructor): broadcast
  static Lanes of(Vec x) {
    Lanes l;
    l.v = x;
    return l;
  }

  // The first `count` lanes from memory, the rest zero.
  static Lanes load(const T* p, int count) {
    Lanes l(T(0));
    std::memcpy(&l.v, p, sizeof(T) * count);
    return l;
  }
  void store(T* p, int count) const { std::memcpy(p, &v, sizeof(T) * count); }

  friend Lanes operator+(Lanes a, Lanes b) { return of(a.v + b.v); }
  friend Lanes operator-(Lanes a, Lanes b) { return of(a.v - b.v); }
  friend Lanes operator*(Lanes a, Lanes b) { return of(a.v * b.v); }
  friend Lanes operator/(Lanes a, Lanes b) { return of(a.v / b.v); }
  friend Lanes operator-(Lanes a) { return of(-a.v); }
  Lanes& operator+=(Lanes b) {
    v += b.v;
    return *this;
  }
  friend LaneMask<T> operator>(Lanes a, Lanes b) { return {a.v > b.v}; }
  friend LaneMask<T> operator<(Lanes a, Lanes b) { return {a.v < b.v}; }
  friend LaneMask<T> operator==(Lanes a, Lanes b) { return {a.v == b.v}; }
};

template <class T>
struct LaneMask {
  using Int = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  typedef Int Vec __attribute__((vector_size(kVectorBytes)));
  Vec v;
};

template <class T>
Lanes<T> where(LaneMask<T> m, Lanes<T> a, Lanes<T> b) {
  return Lanes<T>::of(m.v ? a.v : b.v);
}
template <class T>
Lanes<T> positive_part(Lanes<T> a) {
  return where(a > Lanes<T>(0), a, Lanes<T>(0));
}
template <class T>
Lanes<T> magnitude(Lanes<T> a) {
  return where(a < Lanes<T>(0), -a, a);
}
template <class T>
Lanes<T> power(Lanes<T> a, T exponent) {  // no vector pow: lane by lane
  for (int l = 0; l < Lanes<T>::kWidth; ++l) a.v[l] = std::pow(a.v[l], exponent);
  return a;
}
template <class T>
bool any_lane(LaneMask<T> m) {
  for (int l = 0; l < Lanes<T>::kWidth; ++l)
    if (m.v[l]) return true;
  return false;
}

}  // namespace nmfuse::cpu

namespace nmfuse::kernels {

// Lane l of a pack starting at `row` is row + l.
template <>
inline cpu::Lanes<float> restart_value<cpu::Lanes<float>>(std::int64_t row, int t) {
  cpu::Lanes<float> out;
  for (int l = 0; l < cpu::Lanes<float>::kWidth; ++l) out.v[l] = restart_value<float>(row + l, t);
  return out;
}
template <>
inline cpu::Lanes<double> restart_value<cpu::Lanes<double>>(std::int64_t row, int t) {
  cpu::Lanes<double> out;
  for (int l = 0; l < cpu::Lanes<double>::kWidth; ++l)
    out.v[l] = restart_value<double>(row + l, t);
  return out;
}

}  // namespace nmfuse::kernels
