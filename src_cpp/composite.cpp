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

// Composite kernel: see composite.hpp for the exact contract.
#include "composite.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace picam {
namespace {

// `up` blended 50/50 into `down` where mask is 0xFF, `down` where it is 0 (branch-free).
inline std::uint8_t blend(std::uint8_t down, std::uint8_t up, std::uint8_t mask) {
    const auto average = static_cast<std::uint8_t>((down + up + 1) >> 1);
    return static_cast<std::uint8_t>(down ^ ((down ^ average) & mask));
}

// [begin, end) clipped to [0, limit).
struct Span {
    int begin, end;
    bool empty() const { return begin >= end; }
};
Span clipped(int begin, int end, int limit) {
    return Span{std::max(begin, 0), std::min(end, limit)};
}

}  // namespace

void composite_i420(const I420View& down, const I420View& up, const I420Target& out,
                    const CompositeSettings& settings) {
    const int width = down.y.width;
    const int height = down.y.height;
    const int chroma_w = width / 2;
    const int chroma_h = height / 2;
    const I420View& source = settings.mode == CompositeMode::kOnlyUp ? up : down;

    // The moved window in chroma samples (block columns/rows) of the output, and the shift that
    // takes an output block to its up block.
    const int wc = chroma_w / 2;
    const int hc = chroma_h / 2;
    const int shift_x = settings.offset_x / 2;
    const int shift_y = settings.offset_y / 2;
    const bool blending = settings.mode == CompositeMode::kNormal;
    // Offsets are bounded by the binding (|offset| <= 2^20), so these sums cannot overflow.
    const Span window_cols = clipped((chroma_w - wc) / 2 + shift_x,
                                     (chroma_w - wc) / 2 + wc + shift_x, chroma_w);
    const Span window_rows = clipped((chroma_h - hc) / 2 + shift_y,
                                     (chroma_h - hc) / 2 + hc + shift_y, chroma_h);

    const Crosshair& cross = settings.crosshair;
    const int before = cross.thickness / 2;
    const Span cross_rows = cross.enabled
        ? clipped(height / 2 + cross.nozzle_y - before,
                  height / 2 + cross.nozzle_y - before + cross.thickness, height)
        : Span{0, 0};
    const Span cross_cols = cross.enabled
        ? clipped(width / 2 + cross.nozzle_x - before,
                  width / 2 + cross.nozzle_x - before + cross.thickness, width)
        : Span{0, 0};
    // Chroma samples touched by the crosshair's luma rows/columns.
    const Span cross_chroma_rows = cross_rows.empty()
        ? Span{0, 0} : Span{cross_rows.begin / 2, (cross_rows.end + 1) / 2};
    const Span cross_chroma_cols = cross_cols.empty()
        ? Span{0, 0} : Span{cross_cols.begin / 2, (cross_cols.end + 1) / 2};

    // Keys of one block row, at chroma resolution and expanded to luma resolution.
    const int window_n = window_cols.empty() ? 0 : window_cols.end - window_cols.begin;
    std::vector<std::uint8_t> key(static_cast<std::size_t>(window_n));
    std::vector<std::uint8_t> key2(static_cast<std::size_t>(2 * window_n));
    const std::size_t luma_bytes = static_cast<std::size_t>(width);
    const std::size_t chroma_bytes = static_cast<std::size_t>(chroma_w);

    for (int cy = 0; cy < chroma_h; ++cy) {
        std::uint8_t* out_u = out.u.row(cy);
        std::uint8_t* out_v = out.v.row(cy);
        std::uint8_t* out_y0 = out.y.row(2 * cy);
        std::uint8_t* out_y1 = out.y.row(2 * cy + 1);
        std::memcpy(out_y0, source.y.row(2 * cy), luma_bytes);
        std::memcpy(out_y1, source.y.row(2 * cy + 1), luma_bytes);
        std::memcpy(out_u, source.u.row(cy), chroma_bytes);
        std::memcpy(out_v, source.v.row(cy), chroma_bytes);

        if (blending && window_n > 0 && cy >= window_rows.begin && cy < window_rows.end) {
            const int up_cy = cy - shift_y;
            const int c0 = window_cols.begin;
            const std::uint8_t* up_u = up.u.row(up_cy) + (c0 - shift_x);
            const std::uint8_t* up_v = up.v.row(up_cy) + (c0 - shift_x);
            const std::uint8_t u_max = settings.u_max;
            const std::uint8_t v_min = settings.v_min;
            std::uint8_t* k = key.data();
            std::uint8_t* k2 = key2.data();
            for (int i = 0; i < window_n; ++i) {
                k[i] = static_cast<std::uint8_t>(-static_cast<int>((up_u[i] <= u_max) &
                                                                   (up_v[i] >= v_min)));
            }
            for (int i = 0; i < window_n; ++i) {
                out_u[c0 + i] = blend(out_u[c0 + i], up_u[i], k[i]);
                out_v[c0 + i] = blend(out_v[c0 + i], up_v[i], k[i]);
                k2[2 * i] = k[i];
                k2[2 * i + 1] = k[i];
            }
            const int x0 = 2 * c0;
            const int up_x0 = x0 - 2 * shift_x;
            for (int r = 0; r < 2; ++r) {
                std::uint8_t* out_row = (r == 0 ? out_y0 : out_y1) + x0;
                const std::uint8_t* up_row = up.y.row(2 * up_cy + r) + up_x0;
                for (int i = 0; i < 2 * window_n; ++i) {
                    out_row[i] = blend(out_row[i], up_row[i], k2[i]);
                }
            }
        }

        if (!cross_chroma_rows.empty() || !cross_chroma_cols.empty()) {
            for (int r = 0; r < 2; ++r) {
                const int y = 2 * cy + r;
                std::uint8_t* row = r == 0 ? out_y0 : out_y1;
                if (y >= cross_rows.begin && y < cross_rows.end) {
                    std::memset(row, cross.y, luma_bytes);
                } else if (!cross_cols.empty()) {
                    std::memset(row + cross_cols.begin, cross.y,
                                static_cast<std::size_t>(cross_cols.end - cross_cols.begin));
                }
            }
            if (cy >= cross_chroma_rows.begin && cy < cross_chroma_rows.end) {
                std::memset(out_u, cross.u, chroma_bytes);
                std::memset(out_v, cross.v, chroma_bytes);
            } else if (!cross_chroma_cols.empty()) {
                const auto n = static_cast<std::size_t>(cross_chroma_cols.end -
                                                        cross_chroma_cols.begin);
                std::memset(out_u + cross_chroma_cols.begin, cross.u, n);
                std::memset(out_v + cross_chroma_cols.begin, cross.v, n);
            }
        }
    }
}

}  // namespace picam
