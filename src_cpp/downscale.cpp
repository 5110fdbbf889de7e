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

#include "downscale.hpp"

#include <algorithm>
#include <vector>

namespace picam {

namespace {

// Factor 2, the stream's usual case: two rows at a time, no inner loop over the block, the
// sample step a compile-time constant (1: a plane; 2: one chroma of NV12/NV21), so the compiler
// vectorises it.
template <int Step>
void halve(const PlaneView& src, std::uint8_t* out, std::ptrdiff_t out_stride, int out_width,
           int out_height) {
    for (int row = 0; row < out_height; ++row) {
        const std::uint8_t* a = src.data + static_cast<std::ptrdiff_t>(2 * row) * src.row_stride;
        const std::uint8_t* b = a + src.row_stride;
        std::uint8_t* dst = out + static_cast<std::ptrdiff_t>(row) * out_stride;
        for (int col = 0; col < out_width; ++col) {
            const unsigned sum = static_cast<unsigned>(a[Step * 2 * col]) +
                                 a[Step * (2 * col + 1)] + b[Step * 2 * col] +
                                 b[Step * (2 * col + 1)];
            dst[col] = static_cast<std::uint8_t>((sum + 2) >> 2);
        }
    }
}

}  // namespace

void box_downscale(const PlaneView& src, int factor, std::uint8_t* out, std::ptrdiff_t out_stride,
                   int out_width, int out_height) {
    if (factor == 2 && src.step == 1) {
        halve<1>(src, out, out_stride, out_width, out_height);
        return;
    }
    if (factor == 2 && src.step == 2) {
        halve<2>(src, out, out_stride, out_width, out_height);
        return;
    }
    const unsigned area = static_cast<unsigned>(factor) * static_cast<unsigned>(factor);
    std::vector<unsigned> sums(static_cast<std::size_t>(out_width));
    for (int row = 0; row < out_height; ++row) {
        std::fill(sums.begin(), sums.end(), 0U);
        for (int k = 0; k < factor; ++k) {
            const std::uint8_t* line =
                src.data + static_cast<std::ptrdiff_t>(row * factor + k) * src.row_stride;
            for (int col = 0; col < out_width; ++col) {
                const std::uint8_t* block = line + static_cast<std::ptrdiff_t>(col) * factor *
                                                       src.step;
                unsigned sum = 0;
                for (int j = 0; j < factor; ++j) {
                    sum += block[static_cast<std::ptrdiff_t>(j) * src.step];
                }
                sums[static_cast<std::size_t>(col)] += sum;
            }
        }
        std::uint8_t* dst = out + static_cast<std::ptrdiff_t>(row) * out_stride;
        for (int col = 0; col < out_width; ++col) {
            dst[col] = static_cast<std::uint8_t>((sums[static_cast<std::size_t>(col)] + area / 2) /
                                                 area);
        }
    }
}

}  // namespace picam
