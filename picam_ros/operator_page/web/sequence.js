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
// Reads the sequence number that picam_ros's synthetic source stamps into the top rows of each
// frame (picam_ros.synthetic.encode_sequence): 16x16 blocks, 32 bits then their complement, two
// grey levels. A frame without a valid stamp gives null (a real camera: see main.js).

const BLOCK = 16;
const BITS = 32;
// Luma levels 48 and 128 (limited range) decode to about 37 and 130 in RGB: split between.
const THRESHOLD = 84;

export function stripRows(width) {
  const perRow = Math.floor(width / BLOCK);
  return Math.ceil((2 * BITS) / perRow) * BLOCK;
}

export class SequenceReader {
  constructor() {
    this.canvas = document.createElement('canvas');
    this.context = this.canvas.getContext('2d', { willReadFrequently: true });
  }

  // Decode the stamp of the frame `video` presents now (call from requestVideoFrameCallback).
  read(video, width, height) {
    if (!width || !height) return null;
    const rows = stripRows(width);
    if (rows > height) return null;
    if (this.canvas.width !== width || this.canvas.height !== rows) {
      this.canvas.width = width;
      this.canvas.height = rows;
    }
    this.context.drawImage(video, 0, 0, width, rows, 0, 0, width, rows);
    const pixels = this.context.getImageData(0, 0, width, rows).data;
    const perRow = Math.floor(width / BLOCK);
    const quarter = BLOCK / 4;
    const bits = [];
    for (let i = 0; i < 2 * BITS; i++) {
      const bx = (i % perRow) * BLOCK;
      const by = Math.floor(i / perRow) * BLOCK;
      let sum = 0;
      for (let y = by + quarter; y < by + BLOCK - quarter; y++) {
        for (let x = bx + quarter; x < bx + BLOCK - quarter; x++) {
          const o = 4 * (y * width + x);
          sum += (pixels[o] + pixels[o + 1] + pixels[o + 2]) / 3;
        }
      }
      bits.push(sum / ((BLOCK / 2) ** 2) > THRESHOLD ? 1 : 0);
    }
    let value = 0;
    for (let i = 0; i < BITS; i++) {
      if (bits[i] === bits[i + BITS]) return null;
      value = value * 2 + bits[i];
    }
    return value;
  }
}
