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

// 4:2:0 YUV -> packed RGBX (R, G, B, 255 per pixel) for the JPEG encoder (plain C++).
//
// Pillow wraps such a buffer as an 'RGBX' image without a copy, and libjpeg-turbo reads it as
// JCS_EXT_RGBX with its SIMD RGB -> YCbCr conversion. That is faster than Pillow's 'YCbCr'
// route (a C pack from Pillow's 4-byte pixels plus libjpeg's plain-C null colour convert).
#pragma once

#include <cstddef>
#include <cstdint>

#include "convert.hpp"

namespace picam {

// The YCbCr flavour of the source: BT.601 limited range (ffmpeg's yuv420p, as
// cv2.COLOR_YUV2BGR_I420 assumes; bit-identical to it) or full range (JFIF/sYCC, what
// rpicam-vid writes for --codec yuv420).
enum class YuvRange { kLimited, kFull };

// Each chroma sample is shared by its 2x2 block (nearest). rgbx rows are rgbx_stride bytes
// apart and hold 4 * width bytes each.
void yuv420_to_rgbx(const Yuv420View& src, YuvRange range, std::uint8_t* rgbx,
                    std::ptrdiff_t rgbx_stride);

}  // namespace picam
