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

// Pixel-format conversions for picam_ros frames; see convert.hpp.
#include "convert.hpp"

#include <algorithm>

namespace picam {

namespace {

// BT.601 limited range in 20-bit fixed point (1.164, 1.596, -0.813, -0.391, 2.018 * 2^20).
constexpr int kShift = 20;
constexpr int kHalf = 1 << (kShift - 1);
constexpr int kCy = 1220542;
constexpr int kCvr = 1673527;
constexpr int kCvg = -852492;
constexpr int kCug = -409993;
constexpr int kCub = 2116026;
// (luma term + chroma term) >> kShift lies in [-259, 526]; the table saturates it to a byte.
constexpr int kSaturateOffset = 384;
constexpr int kSaturateSize = 1024;

struct Tables {
    int luma[256];
    int red_v[256];
    int green_v[256];
    int green_u[256];
    int blue_u[256];
    std::uint8_t saturate[kSaturateSize];

    Tables() {
        for (int i = 0; i < 256; ++i) {
            luma[i] = std::max(0, i - 16) * kCy;
            red_v[i] = kHalf + kCvr * (i - 128);
            green_v[i] = kHalf + kCvg * (i - 128);
            green_u[i] = kCug * (i - 128);
            blue_u[i] = kHalf + kCub * (i - 128);
        }
        for (int i = 0; i < kSaturateSize; ++i) {
            saturate[i] = static_cast<std::uint8_t>(std::min(255, std::max(0, i - kSaturateOffset)));
        }
    }
};

const Tables& tables() {
    static const Tables instance;
    return instance;
}

inline void put_pixel(const Tables& t, std::uint8_t* out, std::uint8_t luma, int r_uv, int g_uv,
                      int b_uv) {
    const int y = t.luma[luma];
    const std::uint8_t* sat = t.saturate + kSaturateOffset;
    out[0] = sat[(y + b_uv) >> kShift];
    out[1] = sat[(y + g_uv) >> kShift];
    out[2] = sat[(y + r_uv) >> kShift];
}

}  // namespace

void yuv420_to_bgr(const Yuv420View& src, std::uint8_t* bgr, std::ptrdiff_t bgr_stride) {
    const Tables& t = tables();
    const std::size_t half_width = static_cast<std::size_t>(src.width / 2);
    const std::size_t step = static_cast<std::size_t>(src.chroma_step);
    for (int row = 0; row < src.height; row += 2) {
        const std::uint8_t* y0 = src.y + row * src.y_stride;
        const std::uint8_t* y1 = y0 + src.y_stride;
        const std::ptrdiff_t chroma_row = (row / 2) * src.chroma_stride;
        const std::uint8_t* u = src.u + chroma_row;
        const std::uint8_t* v = src.v + chroma_row;
        std::uint8_t* out0 = bgr + row * bgr_stride;
        std::uint8_t* out1 = out0 + bgr_stride;
        for (std::size_t i = 0; i < half_width; ++i) {
            const std::uint8_t cu = u[i * step];
            const std::uint8_t cv = v[i * step];
            const int r_uv = t.red_v[cv];
            const int g_uv = t.green_v[cv] + t.green_u[cu];
            const int b_uv = t.blue_u[cu];
            const std::size_t x = 2 * i;
            put_pixel(t, out0 + 3 * x, y0[x], r_uv, g_uv, b_uv);
            put_pixel(t, out0 + 3 * x + 3, y0[x + 1], r_uv, g_uv, b_uv);
            put_pixel(t, out1 + 3 * x, y1[x], r_uv, g_uv, b_uv);
            put_pixel(t, out1 + 3 * x + 3, y1[x + 1], r_uv, g_uv, b_uv);
        }
    }
}

void interleave_planes(const std::uint8_t* first, const std::uint8_t* second,
                       std::ptrdiff_t in_stride, int in_step, int width, int height,
                       std::uint8_t* out) {
    // Unsigned indices: Python extensions build with -fwrapv, under which signed index
    // arithmetic may wrap and the loops would not be vectorised.
    const std::size_t n = static_cast<std::size_t>(width);
    for (int row = 0; row < height; ++row) {
        const std::uint8_t* a = first + row * in_stride;
        const std::uint8_t* b = second + row * in_stride;
        std::uint8_t* o = out + static_cast<std::ptrdiff_t>(row) * 2 * width;
        if (in_step == 1) {
            for (std::size_t i = 0; i < n; ++i) {
                o[2 * i] = a[i];
                o[2 * i + 1] = b[i];
            }
        } else {
            const std::size_t step = static_cast<std::size_t>(in_step);
            for (std::size_t i = 0; i < n; ++i) {
                o[2 * i] = a[i * step];
                o[2 * i + 1] = b[i * step];
            }
        }
    }
}

}  // namespace picam
