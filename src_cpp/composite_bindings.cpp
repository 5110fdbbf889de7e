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

// pybind11 bindings for the composite kernel: validate every buffer (shapes, strides, dtype,
// writability, overlap) and every setting, then run the plain C++ kernel with the GIL released.
// Buffer protocol only (no pybind11/numpy.h), like the other bindings.
#include "composite_bindings.hpp"

#include <cstdint>
#include <string>

#include "composite.hpp"

namespace py = pybind11;

namespace {

constexpr int kMaxOffset = 1 << 20;

[[noreturn]] void fail(const std::string& message) { throw py::value_error(message); }

std::string shape_text(py::ssize_t rows, py::ssize_t cols) {
    return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

struct HeldPlane {
    py::buffer_info info;
    std::uint8_t* data = nullptr;
    std::ptrdiff_t stride = 0;
    // The bytes the plane spans, for the overlap check.
    std::uintptr_t first = 0, last = 0;
};

HeldPlane hold(const py::object& obj, const std::string& name, py::ssize_t rows,
               py::ssize_t cols, bool writable) {
    if (!PyObject_CheckBuffer(obj.ptr())) {
        fail(name + ": expected a 2-D uint8 array, got " +
             std::string(Py_TYPE(obj.ptr())->tp_name));
    }
    HeldPlane held;
    held.info = py::reinterpret_borrow<py::buffer>(obj).request(writable);
    const py::buffer_info& info = held.info;
    const std::string& format = info.format;
    const bool uint8 = format == "B" || format == "@B" || format == "=B" || format == "<B" ||
                       format == ">B" || format == "!B";
    if (info.itemsize != 1 || !uint8) {
        fail(name + ": expected dtype uint8, got buffer format '" + format + "'");
    }
    if (info.ndim != 2 || info.shape[0] != rows || info.shape[1] != cols) {
        fail(name + ": expected shape " + shape_text(rows, cols) + ", got " +
             (info.ndim == 2 ? shape_text(info.shape[0], info.shape[1])
                             : std::to_string(info.ndim) + "-D"));
    }
    if (info.strides[1] != 1) {
        fail(name + ": rows must be contiguous (column stride 1), got " +
             std::to_string(info.strides[1]));
    }
    held.data = static_cast<std::uint8_t*>(info.ptr);
    held.stride = info.strides[0];
    const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(held.data);
    const std::ptrdiff_t span = (rows - 1) * held.stride;
    held.first = span < 0 ? base + span : base;
    held.last = (span < 0 ? base : base + span) + static_cast<std::uintptr_t>(cols) - 1;
    return held;
}

picam::PlaneView view_of(const HeldPlane& plane, int cols, int rows) {
    picam::PlaneView view;
    view.data = plane.data;
    view.row_stride = plane.stride;
    view.width = cols;
    view.height = rows;
    return view;
}

std::uint8_t byte_value(int value, const char* name) {
    if (value < 0 || value > 255) {
        fail(std::string(name) + ": " + std::to_string(value) + " is outside 0..255");
    }
    return static_cast<std::uint8_t>(value);
}

int bounded(int value, const char* name) {
    if (value < -kMaxOffset || value > kMaxOffset) {
        fail(std::string(name) + ": " + std::to_string(value) + " is outside -" +
             std::to_string(kMaxOffset) + ".." + std::to_string(kMaxOffset));
    }
    return value;
}

void composite_i420(const py::object& down_y, const py::object& down_u, const py::object& down_v,
                    const py::object& up_y, const py::object& up_u, const py::object& up_v,
                    const py::object& out_y, const py::object& out_u, const py::object& out_v,
                    int mode, int offset_x, int offset_y, int u_max, int v_min, bool crosshair,
                    int nozzle_x, int nozzle_y, int thickness, int cross_y, int cross_u,
                    int cross_v) {
    if (!PyObject_CheckBuffer(down_y.ptr())) {
        fail("down.y: expected a 2-D uint8 array, got " +
             std::string(Py_TYPE(down_y.ptr())->tp_name));
    }
    const py::buffer_info probe = py::reinterpret_borrow<py::buffer>(down_y).request();
    if (probe.ndim != 2) {
        fail("down.y: expected a 2-D array, got " + std::to_string(probe.ndim) + "-D");
    }
    const py::ssize_t height = probe.shape[0], width = probe.shape[1];
    if (height < 2 || width < 2 || height % 2 || width % 2 || height > kMaxOffset ||
        width > kMaxOffset) {
        fail("down.y: width and height must be even, 2.." + std::to_string(kMaxOffset) +
             " for 4:2:0, got shape " + shape_text(height, width));
    }
    const py::ssize_t ch = height / 2, cw = width / 2;
    HeldPlane planes[9] = {
        hold(down_y, "down.y", height, width, false), hold(down_u, "down.u", ch, cw, false),
        hold(down_v, "down.v", ch, cw, false),        hold(up_y, "up.y", height, width, false),
        hold(up_u, "up.u", ch, cw, false),            hold(up_v, "up.v", ch, cw, false),
        hold(out_y, "out.y", height, width, true),    hold(out_u, "out.u", ch, cw, true),
        hold(out_v, "out.v", ch, cw, true),
    };
    const char* names[9] = {"down.y", "down.u", "down.v", "up.y", "up.u",
                            "up.v",   "out.y",  "out.u",  "out.v"};
    for (int o = 6; o < 9; ++o) {
        for (int i = 0; i < 9; ++i) {
            if (i != o && planes[i].first <= planes[o].last && planes[o].first <= planes[i].last) {
                fail(std::string(names[o]) + ": overlaps " + names[i] +
                     " (the output must be a separate buffer)");
            }
        }
    }
    if (mode < 0 || mode > 2) {
        fail("mode: expected 0 (normal), 1 (only up) or 2 (only down), got " +
             std::to_string(mode));
    }
    if (offset_x % 2 || offset_y % 2) {
        fail("offset: (" + std::to_string(offset_x) + ", " + std::to_string(offset_y) +
             ") must be even (whole 4:2:0 chroma samples)");
    }
    if (thickness < 1 || thickness > kMaxOffset) {
        fail("thickness: " + std::to_string(thickness) + " is outside 1.." +
             std::to_string(kMaxOffset));
    }
    picam::CompositeSettings settings;
    settings.mode = static_cast<picam::CompositeMode>(mode);
    settings.offset_x = bounded(offset_x, "offset_x");
    settings.offset_y = bounded(offset_y, "offset_y");
    settings.u_max = byte_value(u_max, "u_max");
    settings.v_min = byte_value(v_min, "v_min");
    settings.crosshair.enabled = crosshair;
    settings.crosshair.nozzle_x = bounded(nozzle_x, "nozzle_x");
    settings.crosshair.nozzle_y = bounded(nozzle_y, "nozzle_y");
    settings.crosshair.thickness = thickness;
    settings.crosshair.y = byte_value(cross_y, "crosshair_y");
    settings.crosshair.u = byte_value(cross_u, "crosshair_u");
    settings.crosshair.v = byte_value(cross_v, "crosshair_v");

    const int w = static_cast<int>(width), h = static_cast<int>(height);
    const int cwi = w / 2, chi = h / 2;
    const picam::I420View down{view_of(planes[0], w, h), view_of(planes[1], cwi, chi),
                               view_of(planes[2], cwi, chi)};
    const picam::I420View up{view_of(planes[3], w, h), view_of(planes[4], cwi, chi),
                             view_of(planes[5], cwi, chi)};
    const picam::I420Target out{{planes[6].data, planes[6].stride},
                                {planes[7].data, planes[7].stride},
                                {planes[8].data, planes[8].stride}};
    py::gil_scoped_release release;
    picam::composite_i420(down, up, out, settings);
}

}  // namespace

void register_composite(py::module_& m) {
    m.def("composite_i420", &composite_i420, py::arg("down_y"), py::arg("down_u"),
          py::arg("down_v"), py::arg("up_y"), py::arg("up_u"), py::arg("up_v"), py::arg("out_y"),
          py::arg("out_u"), py::arg("out_v"), py::arg("mode"), py::arg("offset_x"),
          py::arg("offset_y"), py::arg("u_max"), py::arg("v_min"), py::arg("crosshair"),
          py::arg("nozzle_x"), py::arg("nozzle_y"), py::arg("thickness"), py::arg("crosshair_y"),
          py::arg("crosshair_u"), py::arg("crosshair_v"),
          "Composite two I420 frames (see src_cpp/composite.hpp) into the out planes. "
          "Use picam_ros.composite.Compositor.");
}
