// Copyright 2026 picam_ros maintainers
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// pybind11 bindings for the frame conversions: validate the buffers, then run the plain C++
// kernels (convert.hpp) with the GIL released. Like bindings.cpp, written against the
// pybind11 2.9 API without pybind11/numpy.h: arrays cross through the buffer protocol only,
// so any pybind11 >= 2.9 works with any numpy (1.21 ... 2.x).
#include "convert_bindings.hpp"

#include <cstdint>
#include <string>

#include "convert.hpp"
#include "downscale.hpp"
#include "rgbx.hpp"

namespace py = pybind11;

namespace {

[[noreturn]] void fail(const std::string& message) { throw py::value_error(message); }

std::string shape_of(const py::buffer_info& info) {
    std::string text = "(";
    for (py::ssize_t i = 0; i < info.ndim; ++i) {
        text += (i ? ", " : "") + std::to_string(info.shape[i]);
    }
    return text + ")";
}

py::buffer_info request(const py::object& obj, const char* name, bool writable) {
    if (!PyObject_CheckBuffer(obj.ptr())) {
        fail(std::string(name) + ": expected a uint8 array, got " +
             std::string(Py_TYPE(obj.ptr())->tp_name));
    }
    py::buffer_info info = py::reinterpret_borrow<py::buffer>(obj).request(writable);
    const std::string& format = info.format;
    const bool uint8 = format == "B" || format == "@B" || format == "=B" || format == "<B" ||
                       format == ">B" || format == "!B";
    if (info.itemsize != 1 || !uint8) {
        fail(std::string(name) + ": expected dtype uint8, got buffer format '" + format + "'");
    }
    return info;
}

// A (rows, cols) plane whose samples are 1 (planar) or 2 (interleaved) bytes apart.
void require_plane(const py::buffer_info& info, const char* name, py::ssize_t rows,
                   py::ssize_t cols) {
    if (info.ndim != 2 || info.shape[0] != rows || info.shape[1] != cols) {
        fail(std::string(name) + ": expected shape (" + std::to_string(rows) + ", " +
             std::to_string(cols) + "), got " + shape_of(info));
    }
    if ((info.strides[1] != 1 && info.strides[1] != 2) ||
        info.strides[0] < cols * info.strides[1]) {
        fail(std::string(name) + ": samples must be 1 or 2 bytes apart with rows in order");
    }
}

// Packed pixels of `channels` bytes from 4:2:0 planes: the checked source view, the output and
// its row stride. The buffers stay requested (and so alive) for the caller's scope.
struct PackedCall {
    py::buffer_info y, u, v, out;
    picam::Yuv420View src;
    std::uint8_t* dst;
    std::ptrdiff_t dst_stride;
};

PackedCall packed_from_yuv420(const py::object& y_obj, const py::object& u_obj,
                              const py::object& v_obj, const py::object& out_obj, int channels) {
    PackedCall call;
    call.y = request(y_obj, "y", false);
    const py::buffer_info& y = call.y;
    if (y.ndim != 2 || y.strides[1] != 1 || y.strides[0] < y.shape[1]) {
        fail("y: expected a 2-D plane with contiguous rows, got shape " + shape_of(y));
    }
    const py::ssize_t height = y.shape[0], width = y.shape[1];
    if (height % 2 || width % 2 || height < 2 || width < 2 || height > INT32_MAX ||
        width > INT32_MAX / channels) {
        fail("y: width and height must be even and positive for 4:2:0, got " + shape_of(y));
    }
    call.u = request(u_obj, "u", false);
    call.v = request(v_obj, "v", false);
    require_plane(call.u, "u", height / 2, width / 2);
    require_plane(call.v, "v", height / 2, width / 2);
    if (call.u.strides[0] != call.v.strides[0] || call.u.strides[1] != call.v.strides[1]) {
        fail("u and v must have the same strides");
    }
    call.out = request(out_obj, "out", true);
    const py::buffer_info& out = call.out;
    if (out.ndim != 3 || out.shape[0] != height || out.shape[1] != width ||
        out.shape[2] != channels || out.strides[2] != 1 || out.strides[1] != channels ||
        out.strides[0] < channels * width) {
        fail("out: expected a (" + std::to_string(height) + ", " + std::to_string(width) +
             ", " + std::to_string(channels) + ") array of packed pixels, got " +
             shape_of(out));
    }
    call.src = picam::Yuv420View{static_cast<const std::uint8_t*>(y.ptr), y.strides[0],
                                 static_cast<const std::uint8_t*>(call.u.ptr),
                                 static_cast<const std::uint8_t*>(call.v.ptr),
                                 call.u.strides[0], static_cast<int>(call.u.strides[1]),
                                 static_cast<int>(width), static_cast<int>(height)};
    call.dst = static_cast<std::uint8_t*>(out.ptr);
    call.dst_stride = out.strides[0];
    return call;
}

void yuv420_to_bgr(const py::object& y_obj, const py::object& u_obj, const py::object& v_obj,
                   const py::object& out_obj) {
    const PackedCall call = packed_from_yuv420(y_obj, u_obj, v_obj, out_obj, 3);
    py::gil_scoped_release release;
    picam::yuv420_to_bgr(call.src, call.dst, call.dst_stride);
}

void interleave_planes(const py::object& first_obj, const py::object& second_obj,
                       const py::object& out_obj) {
    const py::buffer_info first = request(first_obj, "first", false);
    if (first.ndim != 2 || first.shape[0] > INT32_MAX || first.shape[1] > INT32_MAX) {
        fail("first: expected a 2-D plane, got shape " + shape_of(first));
    }
    const py::ssize_t rows = first.shape[0], cols = first.shape[1];
    const py::buffer_info second = request(second_obj, "second", false);
    require_plane(first, "first", rows, cols);
    require_plane(second, "second", rows, cols);
    if (first.strides[0] != second.strides[0] || first.strides[1] != second.strides[1]) {
        fail("first and second must have the same strides");
    }
    const py::buffer_info out = request(out_obj, "out", true);
    py::ssize_t size = 1;
    py::ssize_t expected_stride = 1;
    bool contiguous = true;
    for (py::ssize_t i = out.ndim - 1; i >= 0; --i) {
        contiguous = contiguous && (out.shape[i] == 1 || out.strides[i] == expected_stride);
        expected_stride *= out.shape[i];
        size *= out.shape[i];
    }
    if (size != 2 * rows * cols || !contiguous) {
        fail("out: expected a C-contiguous array of " + std::to_string(2 * rows * cols) +
             " bytes, got shape " + shape_of(out));
    }
    const auto* a = static_cast<const std::uint8_t*>(first.ptr);
    const auto* b = static_cast<const std::uint8_t*>(second.ptr);
    auto* dst = static_cast<std::uint8_t*>(out.ptr);
    const std::ptrdiff_t stride = first.strides[0];
    const int step = static_cast<int>(first.strides[1]);
    py::gil_scoped_release release;
    picam::interleave_planes(a, b, stride, step, static_cast<int>(cols), static_cast<int>(rows),
                             dst);
}

void yuv420_to_rgbx(const py::object& y_obj, const py::object& u_obj, const py::object& v_obj,
                    const py::object& out_obj, bool full_range) {
    const PackedCall call = packed_from_yuv420(y_obj, u_obj, v_obj, out_obj, 4);
    const picam::YuvRange range = full_range ? picam::YuvRange::kFull : picam::YuvRange::kLimited;
    py::gil_scoped_release release;
    picam::yuv420_to_rgbx(call.src, range, call.dst, call.dst_stride);
}

void box_downscale(const py::object& src_obj, const py::object& out_obj, int factor) {
    if (factor < 1 || factor > 16) {
        fail("factor: expected 1 to 16, got " + std::to_string(factor));
    }
    const py::buffer_info src = request(src_obj, "src", false);
    if (src.ndim != 2 || src.shape[0] > INT32_MAX || src.shape[1] > INT32_MAX) {
        fail("src: expected a 2-D plane, got shape " + shape_of(src));
    }
    require_plane(src, "src", src.shape[0], src.shape[1]);
    const py::buffer_info out = request(out_obj, "out", true);
    if (out.ndim != 2 || out.strides[1] != 1 || out.strides[0] < out.shape[1]) {
        fail("out: expected a 2-D plane with contiguous rows, got shape " + shape_of(out));
    }
    if (out.shape[0] * factor > src.shape[0] || out.shape[1] * factor > src.shape[1]) {
        fail("out: " + shape_of(out) + " times " + std::to_string(factor) +
             " does not fit in src " + shape_of(src));
    }
    const picam::PlaneView view{static_cast<const std::uint8_t*>(src.ptr), src.strides[0],
                                static_cast<int>(src.strides[1]), static_cast<int>(src.shape[1]),
                                static_cast<int>(src.shape[0])};
    auto* dst = static_cast<std::uint8_t*>(out.ptr);
    const std::ptrdiff_t dst_stride = out.strides[0];
    const int width = static_cast<int>(out.shape[1]), height = static_cast<int>(out.shape[0]);
    py::gil_scoped_release release;
    picam::box_downscale(view, factor, dst, dst_stride, width, height);
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
    m.def("yuv420_to_rgbx", &yuv420_to_rgbx, py::arg("y"), py::arg("u"), py::arg("v"),
          py::arg("out"), py::arg("full_range") = false,
          "4:2:0 planes (u, v planar or interleaved views) -> RGBX in out (H, W, 4), BT.601 "
          "limited range (bit-identical to cv2.COLOR_YUV2BGR_I420, channels reversed) or full "
          "range (JFIF). Releases the GIL.");
    m.def("box_downscale", &box_downscale, py::arg("src"), py::arg("out"), py::arg("factor"),
          "out[r, c] = rounded mean of src's factor x factor block at (r * factor, c * factor); "
          "src samples 1 or 2 bytes apart (NV12/NV21 chroma), out rows contiguous; a remainder "
          "of src beyond out * factor is left out. Releases the GIL.");
}
