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

// Pixel-format conversions for picam_ros frames (plain C++, no Python types).
//
// Planes are addressed by pointer + row stride in bytes; chroma samples may be planar (step 1)
// or interleaved NV12/NV21 (step 2, with u and v pointing at their first sample).
#pragma once

#include <cstddef>
#include <cstdint>

namespace picam {

struct Yuv420View {
    const std::uint8_t* y;
    std::ptrdiff_t y_stride;
    const std::uint8_t* u;
    const std::uint8_t* v;
    std::ptrdiff_t chroma_stride;  // bytes between chroma rows
    int chroma_step;               // bytes between chroma samples in a row: 1 planar, 2 NV
    int width;                     // even
    int height;                    // even
};

// 4:2:0 YUV (BT.601 limited range) -> packed BGR, each chroma sample shared by a 2x2 block.
// Same 20-bit fixed-point arithmetic and rounding as OpenCV's COLOR_YUV2BGR_I420, so the
// results are bit-identical to cv2.cvtColor.
void yuv420_to_bgr(const Yuv420View& src, std::uint8_t* bgr, std::ptrdiff_t bgr_stride);

// Interleave two (height x width) sample planes into rows of pairs: out[2i] = first[i],
// out[2i + 1] = second[i] (first = V, second = U for NV21). Packed output rows of 2*width.
void interleave_planes(const std::uint8_t* first, const std::uint8_t* second,
                       std::ptrdiff_t in_stride, int in_step, int width, int height,
                       std::uint8_t* out);

}  // namespace picam
