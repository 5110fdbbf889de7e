// pybind11 bindings for the frame conversions: validate numpy views, then run the plain C++
// kernels (convert.hpp) with the GIL released. Written against the pybind11 2.9 API.
#include "convert_bindings.hpp"

#include <pybind11/numpy.h>

#include <string>

#include "convert.hpp"

namespace py = pybind11;

namespace {

[[noreturn]] void fail(const std::string& message) { throw py::value_error(message); }

std::string shape_of(const py::array& a) {
    std::string text = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        text += (i ? ", " : "") + std::to_string(a.shape(i));
    }
    return text + ")";
}

void require_uint8(const py::array& a, const char* name) {
    if (a.dtype().kind() != 'u' || a.itemsize() != 1) {
        fail(std::string(name) + " must be a uint8 array");
    }
}

// A (rows, cols) uint8 plane whose samples are 1 (planar) or 2 (interleaved) bytes apart.
void require_plane(const py::array& a, const char* name, py::ssize_t rows, py::ssize_t cols) {
    require_uint8(a, name);
    if (a.ndim() != 2 || a.shape(0) != rows || a.shape(1) != cols) {
        fail(std::string(name) + " must have shape (" + std::to_string(rows) + ", " +
             std::to_string(cols) + "), got " + shape_of(a));
    }
    if ((a.strides(1) != 1 && a.strides(1) != 2) || a.strides(0) < cols * a.strides(1)) {
        fail(std::string(name) + ": samples must be 1 or 2 bytes apart with rows in order");
    }
}

void yuv420_to_bgr(const py::array& y, const py::array& u, const py::array& v, py::array& out) {
    require_uint8(y, "y");
    if (y.ndim() != 2 || y.strides(1) != 1 || y.strides(0) < y.shape(1)) {
        fail("y must be a 2-D uint8 plane with contiguous rows, got shape " + shape_of(y));
    }
    const py::ssize_t height = y.shape(0), width = y.shape(1);
    if (height % 2 || width % 2) {
        fail("width and height must be even for 4:2:0, got " + shape_of(y));
    }
    require_plane(u, "u", height / 2, width / 2);
    require_plane(v, "v", height / 2, width / 2);
    if (u.strides(0) != v.strides(0) || u.strides(1) != v.strides(1)) {
        fail("u and v must have the same strides");
    }
    require_uint8(out, "out");
    if (out.ndim() != 3 || out.shape(0) != height || out.shape(1) != width || out.shape(2) != 3 ||
        out.strides(2) != 1 || out.strides(1) != 3 || out.strides(0) < 3 * width) {
        fail("out must be a (" + std::to_string(height) + ", " + std::to_string(width) +
             ", 3) uint8 array with packed pixels, got " + shape_of(out));
    }
    if (!out.writeable()) {
        fail("out is read-only");
    }
    picam::Yuv420View src{static_cast<const std::uint8_t*>(y.data()), y.strides(0),
                          static_cast<const std::uint8_t*>(u.data()),
                          static_cast<const std::uint8_t*>(v.data()), u.strides(0),
                          static_cast<int>(u.strides(1)), static_cast<int>(width),
                          static_cast<int>(height)};
    auto* dst = static_cast<std::uint8_t*>(out.mutable_data());
    const std::ptrdiff_t dst_stride = out.strides(0);
    py::gil_scoped_release release;
    picam::yuv420_to_bgr(src, dst, dst_stride);
}

void interleave_planes(const py::array& first, const py::array& second, py::array& out) {
    require_uint8(first, "first");
    if (first.ndim() != 2) {
        fail("first must be a 2-D plane, got shape " + shape_of(first));
    }
    const py::ssize_t rows = first.shape(0), cols = first.shape(1);
    require_plane(first, "first", rows, cols);
    require_plane(second, "second", rows, cols);
    if (first.strides(0) != second.strides(0) || first.strides(1) != second.strides(1)) {
        fail("first and second must have the same strides");
    }
    require_uint8(out, "out");
    if (out.size() != 2 * rows * cols || !(out.flags() & py::array::c_style)) {
        fail("out must be a C-contiguous uint8 array of " + std::to_string(2 * rows * cols) +
             " bytes");
    }
    if (!out.writeable()) {
        fail("out is read-only");
    }
    const auto* a = static_cast<const std::uint8_t*>(first.data());
    const auto* b = static_cast<const std::uint8_t*>(second.data());
    auto* dst = static_cast<std::uint8_t*>(out.mutable_data());
    const std::ptrdiff_t stride = first.strides(0);
    const int step = static_cast<int>(first.strides(1));
    py::gil_scoped_release release;
    picam::interleave_planes(a, b, stride, step, static_cast<int>(cols), static_cast<int>(rows),
                             dst);
}

}  // namespace

void register_convert(py::module_& m) {
    m.def("yuv420_to_bgr", &yuv420_to_bgr, py::arg("y"), py::arg("u"), py::arg("v"),
          py::arg("out"),
          "4:2:0 planes (u, v planar or interleaved views) -> BGR in out (H, W, 3), BT.601 "
          "limited range, bit-identical to cv2.COLOR_YUV2BGR_I420. Releases the GIL.");
    m.def("interleave_planes", &interleave_planes, py::arg("first"), py::arg("second"),
          py::arg("out"),
          "Write first/second (h, w) sample planes as interleaved pairs into out (2*h*w "
          "bytes): V, U gives NV21 chroma. Releases the GIL.");
}
