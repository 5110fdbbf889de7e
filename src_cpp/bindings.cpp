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

// pybind11 bindings for picam_ros._centroids: convert and validate, then call the plain C++
// engine with the GIL released. Written against the pybind11 2.9 API (Ubuntu 22.04 / Humble)
// and deliberately without pybind11/numpy.h: arrays cross the boundary through the buffer
// protocol only, so any pybind11 >= 2.9 works with any numpy (1.21 ... 2.x).
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "centroids.hpp"
#include "composite_bindings.hpp"
#include "convert_bindings.hpp"

namespace py = pybind11;

namespace {

// Byte layout of one record of picam_ros.centroids.CENTROID_DTYPE (packed, native endian).
// centroids.py checks these against the dtype at import time, so the two cannot drift apart.
struct RecordField {
    const char* name;
    std::size_t offset;
};
constexpr RecordField kRecordFields[] = {
    {"x", 0},       {"y", 8},       {"area", 16},           {"bbox_x", 20},   {"bbox_y", 24},
    {"bbox_w", 28}, {"bbox_h", 32}, {"touches_border", 36}, {"mean_luma", 37},
    {"mu20", 41},   {"mu11", 49},   {"mu02", 57},           {"orientation", 65},
    {"major_axis", 69}, {"minor_axis", 73},
};
constexpr std::size_t kRecordSize = 77;

template <class T>
void put(std::uint8_t* record, std::size_t offset, T value) {
    std::memcpy(record + offset, &value, sizeof value);
}

void write_record(const picam::Blob& blob, std::uint8_t* record) {
    put(record, 0, blob.x);
    put(record, 8, blob.y);
    put(record, 16, blob.area);
    put(record, 20, blob.bbox_x);
    put(record, 24, blob.bbox_y);
    put(record, 28, blob.bbox_w);
    put(record, 32, blob.bbox_h);
    put(record, 36, static_cast<std::uint8_t>(blob.touches_border ? 1 : 0));
    put(record, 37, blob.mean_luma);
    put(record, 41, blob.mu20);
    put(record, 49, blob.mu11);
    put(record, 57, blob.mu02);
    put(record, 65, blob.orientation);
    put(record, 69, blob.major_axis);
    put(record, 73, blob.minor_axis);
}

[[noreturn]] void fail(const std::string& message) { throw py::value_error(message); }

std::string shape_text(py::ssize_t rows, py::ssize_t cols) {
    return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

bool is_uint8_format(const std::string& format) {
    // numpy exports "B"; other exporters may prefix a byte-order/size character.
    return format == "B" || format == "@B" || format == "=B" || format == "<B" ||
           format == ">B" || format == "!B";
}

// Holds the exported buffer (keeping the memory alive) while the engine reads it.
struct HeldPlane {
    py::buffer_info info;
    picam::PlaneView view;
};

HeldPlane hold_plane(const py::object& obj, const char* name) {
    HeldPlane held;
    if (obj.is_none()) {
        return held;
    }
    if (!PyObject_CheckBuffer(obj.ptr())) {
        fail(std::string(name) + ": expected a 2-D uint8 array, got " +
             std::string(Py_TYPE(obj.ptr())->tp_name));
    }
    held.info = py::reinterpret_borrow<py::buffer>(obj).request();
    const py::buffer_info& info = held.info;
    if (info.itemsize != 1 || !is_uint8_format(info.format)) {
        fail(std::string(name) + ": expected dtype uint8, got buffer format '" + info.format +
             "' with " + std::to_string(info.itemsize) + "-byte items");
    }
    if (info.ndim != 2) {
        fail(std::string(name) + ": expected a 2-D array, got " + std::to_string(info.ndim) +
             "-D");
    }
    if (info.shape[0] < 1 || info.shape[1] < 1) {
        fail(std::string(name) + ": array is empty, shape " +
             shape_text(info.shape[0], info.shape[1]));
    }
    if (info.strides[1] != 1) {
        fail(std::string(name) + ": rows must be contiguous (column stride 1 byte), got column "
             "stride " + std::to_string(info.strides[1]));
    }
    if (info.shape[0] > INT32_MAX || info.shape[1] > INT32_MAX) {
        fail(std::string(name) + ": array too large, shape " +
             shape_text(info.shape[0], info.shape[1]));
    }
    held.view.data = static_cast<const std::uint8_t*>(info.ptr);
    held.view.row_stride = info.strides[0];
    held.view.width = static_cast<int>(info.shape[1]);
    held.view.height = static_cast<int>(info.shape[0]);
    return held;
}

void require_shape(const HeldPlane& plane, const char* name, int rows, int cols,
                   const char* why) {
    if (plane.view.height != rows || plane.view.width != cols) {
        fail(std::string(name) + ": expected shape " + shape_text(rows, cols) + " " + why +
             ", got " + shape_text(plane.view.height, plane.view.width));
    }
}

picam::ByteRange byte_range(int lo, int hi, const char* name) {
    if (lo < 0 || lo > 255 || hi < 0 || hi > 255) {
        fail(std::string(name) + ": range [" + std::to_string(lo) + ", " + std::to_string(hi) +
             "] is outside 0..255");
    }
    if (lo > hi) {
        fail(std::string(name) + ": min " + std::to_string(lo) + " > max " + std::to_string(hi));
    }
    return picam::ByteRange{static_cast<std::uint8_t>(lo), static_cast<std::uint8_t>(hi)};
}

// A gate given as (-1, -1) is off.
picam::ChromaGate chroma_gate(int lo, int hi, const char* name) {
    if (lo == -1 && hi == -1) {
        return picam::ChromaGate{};
    }
    return picam::ChromaGate{true, byte_range(lo, hi, name)};
}

// All planes of one call, validated against each other and against the keying.
struct HeldImage {
    HeldPlane luma, u, v, uv;
    picam::ImageView view;
};

HeldImage hold_image(const py::object& luma, const py::object& u, const py::object& v,
                     const py::object& uv, const std::string& uv_order,
                     const picam::Keying& keying) {
    HeldImage held;
    held.luma = hold_plane(luma, "luma");
    held.u = hold_plane(u, "u");
    held.v = hold_plane(v, "v");
    held.uv = hold_plane(uv, "uv");
    const int height = held.luma.view.height;
    const int width = held.luma.view.width;
    if (height > picam::kMaxSide || width > picam::kMaxSide) {
        fail("luma: frame of " + shape_text(height, width) + " has a side over the engine's "
             "limit of " + std::to_string(picam::kMaxSide) + " pixels");
    }
    if (static_cast<std::uint64_t>(height) * static_cast<std::uint64_t>(width) >
        picam::kMaxPixels) {
        fail("luma: frame of " + shape_text(height, width) + " exceeds the engine's limit of " +
             std::to_string(picam::kMaxPixels) + " pixels");
    }
    if (uv_order != "uv" && uv_order != "vu") {
        fail("uv_order: expected 'uv' (NV12) or 'vu' (NV21), got '" + uv_order + "'");
    }
    const bool planar = held.u.view.present() || held.v.view.present();
    if (planar && held.uv.view.present()) {
        fail("uv: give either planar u/v (I420) or interleaved uv (NV12/NV21), not both");
    }
    const int chroma_rows = (height + 1) / 2;
    const int chroma_cols = (width + 1) / 2;
    const char* half = "(half the luma size, rounded up)";
    if (held.u.view.present()) {
        require_shape(held.u, "u", chroma_rows, chroma_cols, half);
    }
    if (held.v.view.present()) {
        require_shape(held.v, "v", chroma_rows, chroma_cols, half);
    }
    if (held.uv.view.present()) {
        require_shape(held.uv, "uv", chroma_rows, 2 * chroma_cols,
                      "(half the luma rows, one U/V pair per two luma columns)");
    }
    const bool interleaved = held.uv.view.present();
    if (keying.u.enabled && !held.u.view.present() && !interleaved) {
        fail("u: the U gate (u_min/u_max) is set but no U plane was given (pass u= or uv=)");
    }
    if (keying.v.enabled && !held.v.view.present() && !interleaved) {
        fail("v: the V gate (v_min/v_max) is set but no V plane was given (pass v= or uv=)");
    }
    held.view.luma = held.luma.view;
    held.view.u = held.u.view;
    held.view.v = held.v.view;
    held.view.uv = held.uv.view;
    held.view.uv_is_vu = uv_order == "vu";
    return held;
}

picam::Region region_in(const picam::PlaneView& luma, int x, int y, int w, int h) {
    if (x < 0 || y < 0 || w < 1 || h < 1 || x > luma.width - w || y > luma.height - h) {
        fail("roi: (x=" + std::to_string(x) + ", y=" + std::to_string(y) + ", w=" +
             std::to_string(w) + ", h=" + std::to_string(h) + ") is not a non-empty rectangle "
             "inside the " + std::to_string(luma.width) + "x" + std::to_string(luma.height) +
             " frame");
    }
    return picam::Region{x, y, w, h};
}

picam::Keying keying_from(int luma_min, int luma_max, int u_min, int u_max, int v_min,
                          int v_max, bool invert) {
    picam::Keying keying;
    keying.luma = byte_range(luma_min, luma_max, "luma");
    keying.u = chroma_gate(u_min, u_max, "u");
    keying.v = chroma_gate(v_min, v_max, "v");
    keying.invert = invert;
    return keying;
}

// One engine per thread: its scratch is reused across calls, and calls run without the GIL.
picam::CentroidEngine& thread_engine() {
    static thread_local picam::CentroidEngine engine;
    return engine;
}

// Its blob list, reused the same way (the engine releases it when far larger than a call needs).
std::vector<picam::Blob>& thread_blobs() {
    static thread_local std::vector<picam::Blob> blobs;
    return blobs;
}

py::tuple find_centroids(const py::object& luma, const py::object& u, const py::object& v,
                         const py::object& uv, const std::string& uv_order, int luma_min,
                         int luma_max, int u_min, int u_max, int v_min, int v_max, bool invert,
                         int roi_x, int roi_y, int roi_w, int roi_h, int connectivity,
                         long long min_area, long long max_area, long long max_centroids) {
    const picam::Keying keying = keying_from(luma_min, luma_max, u_min, u_max, v_min, v_max,
                                             invert);
    const HeldImage image = hold_image(luma, u, v, uv, uv_order, keying);
    const picam::Region region = region_in(image.view.luma, roi_x, roi_y, roi_w, roi_h);
    if (connectivity != 4 && connectivity != 8) {
        fail("connectivity: expected 4 or 8, got " + std::to_string(connectivity));
    }
    if (min_area < 0 || max_area < 0 || max_centroids < 0) {
        fail("min_area, max_area and max_centroids must be >= 0");
    }
    picam::BlobFilter filter;
    filter.connectivity = connectivity;
    filter.min_area = static_cast<std::uint64_t>(min_area);
    filter.max_area = static_cast<std::uint64_t>(max_area);
    filter.max_blobs = static_cast<std::size_t>(max_centroids);

    std::vector<picam::Blob>& blobs = thread_blobs();
    std::size_t dropped = 0;
    {
        py::gil_scoped_release release;
        dropped = thread_engine().find(image.view, keying, region, filter, blobs);
    }
    // A bytearray (mutable, so numpy views of it are writable) of packed records.
    const std::size_t size = blobs.size() * kRecordSize;
    py::object records = py::reinterpret_steal<py::object>(
        PyByteArray_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size)));
    if (!records) {
        throw py::error_already_set();
    }
    auto* out = reinterpret_cast<std::uint8_t*>(PyByteArray_AsString(records.ptr()));
    for (std::size_t i = 0; i < blobs.size(); ++i) {
        write_record(blobs[i], out + i * kRecordSize);
    }
    return py::make_tuple(records, dropped);
}

void key_mask(const py::object& luma, const py::object& u, const py::object& v,
              const py::object& uv, const std::string& uv_order, int luma_min, int luma_max,
              int u_min, int u_max, int v_min, int v_max, bool invert, int roi_x, int roi_y,
              int roi_w, int roi_h, const py::object& out) {
    const picam::Keying keying = keying_from(luma_min, luma_max, u_min, u_max, v_min, v_max,
                                             invert);
    const HeldImage image = hold_image(luma, u, v, uv, uv_order, keying);
    const picam::Region region = region_in(image.view.luma, roi_x, roi_y, roi_w, roi_h);
    if (!PyObject_CheckBuffer(out.ptr())) {
        fail("out: expected a writable 2-D uint8 array");
    }
    const py::buffer_info target = py::reinterpret_borrow<py::buffer>(out).request(true);
    if (target.itemsize != 1 || !is_uint8_format(target.format) || target.ndim != 2 ||
        target.shape[0] != image.view.luma.height || target.shape[1] != image.view.luma.width ||
        target.strides[1] != 1) {
        fail("out: expected a writable uint8 array of the luma's shape with contiguous rows");
    }
    auto* pixels = static_cast<std::uint8_t*>(target.ptr);
    const std::ptrdiff_t stride = target.strides[0];
    {
        py::gil_scoped_release release;
        thread_engine().key_mask(image.view, keying, region, pixels, stride);
    }
}

}  // namespace

PYBIND11_MODULE(_centroids, m) {
    m.doc() = "picam_ros native kernels: the centroid engine (see picam_ros.centroids).";

    py::list fields;
    for (const RecordField& field : kRecordFields) {
        fields.append(py::make_tuple(field.name, field.offset));
    }
    m.attr("RECORD_FIELDS") = fields;
    m.attr("RECORD_ITEMSIZE") = kRecordSize;
    m.attr("MAX_PIXELS") = picam::kMaxPixels;

    m.def("find_centroids", &find_centroids, py::arg("luma"), py::arg("u"), py::arg("v"),
          py::arg("uv"), py::arg("uv_order"), py::arg("luma_min"), py::arg("luma_max"),
          py::arg("u_min"), py::arg("u_max"), py::arg("v_min"), py::arg("v_max"),
          py::arg("invert"), py::arg("roi_x"), py::arg("roi_y"), py::arg("roi_w"),
          py::arg("roi_h"), py::arg("connectivity"), py::arg("min_area"), py::arg("max_area"),
          py::arg("max_centroids"),
          "Key and label one frame; returns (bytearray of packed CENTROID_DTYPE records, dropped). "
          "Chroma gates given as (-1, -1) are off. Use picam_ros.centroids.find_centroids.");
    m.def("key_mask", &key_mask, py::arg("luma"), py::arg("u"), py::arg("v"), py::arg("uv"),
          py::arg("uv_order"), py::arg("luma_min"), py::arg("luma_max"), py::arg("u_min"),
          py::arg("u_max"), py::arg("v_min"), py::arg("v_max"), py::arg("invert"),
          py::arg("roi_x"), py::arg("roi_y"), py::arg("roi_w"), py::arg("roi_h"), py::arg("out"),
          "Write the key (0/255) of the ROI's pixels into `out` (other pixels untouched).");

    // Frame conversion kernels (src_cpp/convert*.cpp, used by picam_ros.frames).
    register_convert(m);
    // Two-camera composite (src_cpp/composite*.cpp, used by picam_ros.composite).
    register_composite(m);
}
