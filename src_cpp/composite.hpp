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

// Composite of the two cameras of the machine (down-looking board camera, up-looking component
// camera) with the nozzle crosshair, I420 in and I420 out, in one pass over the output.
//
// Plain C++17, no Python types: composite_bindings.cpp converts and validates, this layer
// assumes the documented preconditions.
//
// Geometry (W x H luma, both even; Wc = W / 2, Hc = H / 2 chroma samples). The kernel works in
// 2x2 luma blocks, one per chroma sample, so luma and chroma can never disagree:
// - The window is wc = Wc / 2 by hc = Hc / 2 blocks (half the frame width and height, rounded
//   down to whole blocks) starting at block (wx0, wy0) = ((Wc - wc) / 2, (Hc - hc) / 2): the
//   centred window, luma [2 wx0, 2 (wx0 + wc)) x [2 wy0, 2 (wy0 + hc)).
// - The offset (dx, dy) is in luma pixels and must be even (whole chroma samples). The up
//   frame's window content is drawn at the window moved by (dx, dy): output pixel (x, y) in the
//   moved window shows up pixel (x - dx, y - dy), which always lies in the up frame's own
//   centred window. Parts of the moved window outside the frame are dropped (any offset is
//   valid, even one that pushes the whole window off the frame).
// - Key: decided once per up chroma sample, U <= u_max and V >= v_min; it applies to that
//   sample's 2x2 luma pixels and to the chroma sample itself.
// - Blend where keyed: out = (down + up + 1) >> 1 for the 4 luma values and for U and V
//   (50/50, rounding halves up). Elsewhere out = down.
// - Crosshair (drawn last, in every mode): the luma rows [cy - t/2, cy - t/2 + t) and columns
//   [cx - t/2, cx - t/2 + t) with (cx, cy) = (W / 2 + nozzle_x, H / 2 + nozzle_y), clipped to
//   the frame, take luma `y`; a chroma sample takes (u, v) when any of its 2x2 luma pixels is on
//   the crosshair.
#pragma once

#include <cstddef>
#include <cstdint>

#include "centroids.hpp"  // PlaneView

namespace picam {

// Writable counterpart of PlaneView.
struct MutablePlane {
    std::uint8_t* data = nullptr;
    std::ptrdiff_t row_stride = 0;
    std::uint8_t* row(int y) const { return data + static_cast<std::ptrdiff_t>(y) * row_stride; }
};

struct I420View {
    PlaneView y, u, v;  // y: W x H, u and v: W/2 x H/2
};

struct I420Target {
    MutablePlane y, u, v;
};

enum class CompositeMode : int { kNormal = 0, kOnlyUp = 1, kOnlyDown = 2 };

struct Crosshair {
    bool enabled = true;
    int nozzle_x = 0;  // crosshair centre relative to the frame centre, luma pixels
    int nozzle_y = 0;
    int thickness = 1;  // >= 1
    std::uint8_t y = 235, u = 128, v = 128;
};

struct CompositeSettings {
    CompositeMode mode = CompositeMode::kNormal;
    int offset_x = 0;  // even
    int offset_y = 0;  // even
    std::uint8_t u_max = 150;
    std::uint8_t v_min = 90;
    Crosshair crosshair;
};

// Writes the composite of `down` and `up` (same even size) into `out` (same size; must not
// overlap the inputs). Every output byte of the image area is written.
void composite_i420(const I420View& down, const I420View& up, const I420Target& out,
                    const CompositeSettings& settings);

}  // namespace picam
