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

// Centroid engine: key pixels by luma/chroma ranges and measure the connected blobs in one pass.
//
// Plain C++17, no Python types: the pybind11 layer (bindings.cpp) converts and validates, this
// layer assumes its documented preconditions.
//
// Algorithm (CentroidEngine::find): each row is keyed in blocks of 64 pixels straight from the
// frame (a block with no pixel in range costs one vector min-reduction, so a mostly dark board
// is read at close to memory speed), the keyed pixels are cut into runs, and each run is
// connected to the runs of the row above (4-connectivity: the runs' x ranges overlap;
// 8-connectivity: they overlap or touch diagonally). Components are kept in a union-find over
// *run labels*, not pixels, and each label carries the running integer sums of its blob, so no
// label image or mask is ever built: memory is two rows of runs, one chroma gate row, and arrays
// proportional to the number of components, all reused across calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace picam {

// A 2-D array of bytes with unit column stride and any (even negative) row stride.
struct PlaneView {
    const std::uint8_t* data = nullptr;  // pixel (0, 0); nullptr means "no plane"
    std::ptrdiff_t row_stride = 0;       // bytes from one row to the next
    int width = 0;                       // bytes per row that belong to the image
    int height = 0;

    bool present() const { return data != nullptr; }
    const std::uint8_t* row(int y) const {
        return data + static_cast<std::ptrdiff_t>(y) * row_stride;
    }
};

// A 4:2:0 frame: full-resolution luma plus optional chroma at half resolution in both axes.
// Luma pixel (x, y) uses chroma sample (x / 2, y / 2).
struct ImageView {
    PlaneView luma;
    PlaneView u;   // planar chroma (I420): ceil(W/2) x ceil(H/2)
    PlaneView v;
    PlaneView uv;  // interleaved chroma (NV12/NV21): 2*ceil(W/2) bytes x ceil(H/2) rows
    bool uv_is_vu = true;  // NV21 stores V first, NV12 stores U first
};

struct ByteRange {
    std::uint8_t lo = 0;
    std::uint8_t hi = 255;  // inclusive; lo <= hi
};

struct ChromaGate {
    bool enabled = false;
    ByteRange range;
};

// A pixel is keyed when luma is in range and every enabled chroma gate passes; `invert` keys the
// complement instead. Enabled gates need the matching chroma plane (u/v, or uv).
struct Keying {
    ByteRange luma;
    ChromaGate u;
    ChromaGate v;
    bool invert = false;
};

// The searched rectangle, in luma pixels; must lie inside the frame and be non-empty.
struct Region {
    int x = 0;
    int y = 0;
    int width = 0;
    int height = 0;
};

struct BlobFilter {
    int connectivity = 4;          // 4 or 8
    std::uint64_t min_area = 1;    // blobs smaller than this are ignored
    std::uint64_t max_area = 0;    // blobs larger than this are ignored; 0 = no limit
    std::size_t max_blobs = 1000;  // keep the largest this many (ties: raster order)
};

struct Blob {
    double x = 0.0;  // mean of pixel x coordinates (full frame, pixel centres at integers)
    double y = 0.0;
    std::uint32_t area = 0;
    std::int32_t bbox_x = 0;
    std::int32_t bbox_y = 0;
    std::int32_t bbox_w = 0;
    std::int32_t bbox_h = 0;
    bool touches_border = false;  // the box touches the edge of the searched region
    float mean_luma = 0.0f;
    // Second-order central moments, raw (not divided by the area), as cv2.moments' mu20, mu11,
    // mu02: mu20 = sum (x - x_mean)^2 over the blob's pixels, and so on.
    double mu20 = 0.0;
    double mu11 = 0.0;
    double mu02 = 0.0;
    // Equivalent ellipse (the solid ellipse with the same second moments): angle of its major
    // axis from +x towards +y (image coordinates, y down), 0.5 * atan2(2 mu11, mu20 - mu02) in
    // radians, (-pi/2, pi/2]; full axis lengths 4 * sqrt(eigenvalue / area), in pixels.
    float orientation = 0.0f;
    float major_axis = 0.0f;
    float minor_axis = 0.0f;
};

// Exact accumulator of the per-blob second-order sums (sum x^2, 2 * sum x*y, sum y^2). With at
// most kMaxPixels (< 2^31) pixels per frame and coordinates below kMaxSide (2^20), each sum is
// below 2^31 * 2^41 = 2^72: too big for int64, so 128-bit integers where the compiler has them
// (GCC and Clang on every 64-bit target), unsigned because every term is nonnegative (a run's
// term is zero-extended and added with one add and one add-with-carry), and WideSigned for the
// central moments' numerators, which can be negative. Elsewhere (32-bit ARM) doubles, exact
// while each sum stays below 2^53, i.e. for blobs with area * side^2 < 2^53 (any blob of a
// 4096x4096 frame).
#if defined(__SIZEOF_INT128__)
using WideSum = unsigned __int128;
using WideSigned = __int128;
#else
using WideSum = double;
using WideSigned = double;
#endif

// Largest frame the engine accepts: keeps run labels in 32 bits and every per-blob sum exact in
// int64 (see LabelStats); the side limit keeps all column arithmetic far from int overflow.
constexpr std::uint64_t kMaxPixels = (std::uint64_t{1} << 31) - 1;
constexpr int kMaxSide = 1 << 20;

// Reusable engine. Not thread-safe: use one per thread (its scratch is reused between calls).
class CentroidEngine {
public:
    // Finds every blob of keyed pixels inside `region`, applies `filter` and writes the kept
    // blobs to `out` (largest area first, ties in raster order of the blob's first pixel).
    // Returns how many blobs passed the area filter but were cut by `filter.max_blobs`.
    // `out`'s storage is reused: pass the same vector on every call so a frame of many blobs
    // allocates nothing (it is released when more than 8x and 4 MiB larger than needed).
    // Preconditions: planes consistent with each other, region inside the frame,
    // width, height <= kMaxSide, width * height <= kMaxPixels, connectivity 4 or 8.
    std::size_t find(const ImageView& image, const Keying& keying, const Region& region,
                     const BlobFilter& filter, std::vector<Blob>& out);

    // Writes the key (0 or 255) of every pixel of `region` to `out` (same coordinates as the
    // frame, row stride `out_stride`); pixels outside the region are left untouched.
    void key_mask(const ImageView& image, const Keying& keying, const Region& region,
                  std::uint8_t* out, std::ptrdiff_t out_stride);

private:
    // Running sums of one run label. Only meaningful at union-find roots.
    struct LabelStats {
        std::int64_t area;
        std::int64_t twice_sum_x;  // sum of 2x: each run adds len*(x0+x1-1), always even
        std::int64_t sum_y;
        std::int64_t sum_luma;
        std::int32_t x_min, x_max, y_min, y_max;
        WideSum sum_xx;        // sum of x^2, 2 x*y, y^2 over the label's pixels (see WideSum)
        WideSum twice_sum_xy;  // (2 x*y so a run adds y * len * (x0 + x1 - 1), no halving)
        WideSum sum_yy;
    };
    struct Run {
        std::int32_t x0;     // first pixel (full-frame x)
        std::int32_t x1;     // one past the last pixel
        std::uint32_t label; // a label of the run's component (not necessarily the root)
    };

    std::uint32_t find_root(std::uint32_t label);
    std::uint32_t unite(std::uint32_t a, std::uint32_t b);
    void release_oversized_scratch();

    std::vector<std::uint8_t> chroma_row_;   // chroma gate of one row, expanded to full width
    std::vector<std::uint8_t> chroma_half_;  // chroma gate of one row at chroma resolution
    std::vector<std::int64_t> squares_below_;  // [k] = sum of i^2 for i < k, k <= frame width
    std::vector<Run> runs_above_;
    std::vector<Run> runs_here_;
    std::vector<std::uint32_t> parent_;
    std::vector<LabelStats> stats_;
    std::vector<std::uint64_t> order_;  // sort keys of the kept blobs (area, label)
};

}  // namespace picam
