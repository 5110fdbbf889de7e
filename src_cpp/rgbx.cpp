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

// 4:2:0 YUV -> packed RGBX; see rgbx.hpp.
#include "rgbx.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace picam {

namespace {

// 20-bit fixed point. Limited: the coefficients of convert.cpp (OpenCV's); full: JFIF
// (1.402, -0.714136, -0.344136, 1.772), luma at unit gain.
constexpr int kShift = 20;
constexpr int kHalf = 1 << (kShift - 1);

struct Coefficients {
    int luma_gain;
    int luma_offset;
    int red_v;
    int green_v;
    int green_u;
    int blue_u;
};

constexpr Coefficients kLimited{1220542, 16, 1673527, -852492, -409993, 2116026};
constexpr Coefficients kFull{1 << kShift, 0, 1470104, -748826, -360853, 1858077};

inline std::uint32_t saturate(int value) {
    return static_cast<std::uint32_t>(std::min(255, std::max(0, value >> kShift)));
}

// Per-pixel chroma terms of one chroma row, each sample's terms written for both its pixels.
inline void chroma_terms(const Coefficients& c, const std::uint8_t* u, const std::uint8_t* v,
                         std::size_t step, std::size_t n, int* red, int* green, int* blue) {
    for (std::size_t i = 0; i < n; ++i) {
        const int cu = static_cast<int>(u[i * step]) - 128;
        const int cv = static_cast<int>(v[i * step]) - 128;
        const int r = kHalf + c.red_v * cv;
        const int g = kHalf + c.green_v * cv + c.green_u * cu;
        const int b = kHalf + c.blue_u * cu;
        red[2 * i] = r;
        red[2 * i + 1] = r;
        green[2 * i] = g;
        green[2 * i + 1] = g;
        blue[2 * i] = b;
        blue[2 * i + 1] = b;
    }
}

}  // namespace

// x86-64's baseline (SSE2) has no 32-bit multiply or min/max in vectors: also build an AVX2
// clone, picked at load time. aarch64 (the Pi) vectorises the one version with NEON.
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
__attribute__((target_clones("avx2", "default")))
#endif
#endif
void yuv420_to_rgbx(const Yuv420View& src, YuvRange range, std::uint8_t* rgbx,
                    std::ptrdiff_t rgbx_stride) {
    const Coefficients& c = range == YuvRange::kFull ? kFull : kLimited;
    // Unsigned indices (Python extensions build with -fwrapv) and a unit-stride inner loop
    // over per-pixel chroma terms, so the compiler vectorises it.
    const std::size_t width = static_cast<std::size_t>(src.width);
    const std::size_t step = static_cast<std::size_t>(src.chroma_step);
    std::vector<int> terms(3 * width);
    int* red = terms.data();
    int* green = red + width;
    int* blue = green + width;
    for (int row = 0; row < src.height; row += 2) {
        const std::ptrdiff_t chroma_row = (row / 2) * src.chroma_stride;
        const std::uint8_t* u = src.u + chroma_row;
        const std::uint8_t* v = src.v + chroma_row;
        if (step == 1) {   // planar (i420): a constant step lets this loop vectorise too
            chroma_terms(c, u, v, 1, width / 2, red, green, blue);
        } else {
            chroma_terms(c, u, v, step, width / 2, red, green, blue);
        }
        for (int half = 0; half < 2; ++half) {
            const std::uint8_t* y = src.y + (row + half) * src.y_stride;
            std::uint8_t* out = rgbx + (row + half) * rgbx_stride;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            auto* out32 = reinterpret_cast<std::uint32_t*>(out);
            if (reinterpret_cast<std::uintptr_t>(out) % alignof(std::uint32_t) == 0) {
                for (std::size_t x = 0; x < width; ++x) {
                    const int luma = std::max(0, static_cast<int>(y[x]) - c.luma_offset) *
                                     c.luma_gain;
                    out32[x] = saturate(luma + red[x]) | saturate(luma + green[x]) << 8 |
                               saturate(luma + blue[x]) << 16 | 0xff000000u;
                }
                continue;
            }
#endif
            for (std::size_t x = 0; x < width; ++x) {
                const int luma = std::max(0, static_cast<int>(y[x]) - c.luma_offset) *
                                 c.luma_gain;
                out[4 * x] = static_cast<std::uint8_t>(saturate(luma + red[x]));
                out[4 * x + 1] = static_cast<std::uint8_t>(saturate(luma + green[x]));
                out[4 * x + 2] = static_cast<std::uint8_t>(saturate(luma + blue[x]));
                out[4 * x + 3] = 0xff;
            }
        }
    }
}

}  // namespace picam
