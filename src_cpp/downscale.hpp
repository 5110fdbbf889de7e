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

// Downscaling for the operator's stream (plain C++, no Python types).
//
// A Pi 5 encodes H.264 in software: a stream at half the capture size costs x264 a quarter of
// the work. A box filter on the 4:2:0 planes is all the stream needs, and far cheaper than
// ffmpeg's scaler: each output sample is the rounded mean of a factor x factor block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace picam {

// A sample plane: pointer to its first sample, bytes between rows and between samples in a row
// (1 planar, 2 for one half of interleaved NV12/NV21 chroma).
struct PlaneView {
    const std::uint8_t* data;
    std::ptrdiff_t row_stride;
    int step;
    int width;
    int height;
};

// out (out_width x out_height, rows out_stride bytes apart) = the rounded mean of each
// factor x factor block of src, blocks from the top-left corner; src must cover
// out_width * factor columns and out_height * factor rows (a remainder is left out).
void box_downscale(const PlaneView& src, int factor, std::uint8_t* out, std::ptrdiff_t out_stride,
                   int out_width, int out_height);

}  // namespace picam
