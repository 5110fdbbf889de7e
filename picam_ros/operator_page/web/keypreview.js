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
// The live key preview: while a keying slider is dragged (before anything is sent to the
// node), the pixels the key would select are tinted over the video. The page keys the frame it
// shows itself: the decoded video's RGB turned back into Y'CbCr (BT.601, limited range: the
// conversion browsers apply to the stream's 4:2:0 frames) and gated as the centroid engine
// gates (luma in [luma_min, luma_max], U and V in their ranges when set). So it costs the node
// and the network nothing; it is as exact as the codec: luma above 235 reads as 235 (the
// browser clips it to white), and compression moves a pixel by a few levels, so a pixel within
// a few levels of a threshold can fall on the other side. Area limits are not previewed.

const MAX_WIDTH = 640;        // the mask is computed at most this wide (every pixel up to it)
const MIN_INTERVAL_MS = 100;  // at most 10 masks a second while dragging
const TINT = [255, 0, 255, 120];

export class KeyPreview {
  // onStale() is called once a throttled mask is due again (the dragged value moved on).
  constructor(video, onStale = () => {}) {
    this.video = video;
    this.onStale = onStale;
    this.timer = null;
    this.gates = null;        // {luma_min, luma_max, u_min, u_max, v_min, v_max} (null: off)
    this.profile = '';
    this.source = document.createElement('canvas');
    this.mask = document.createElement('canvas');
    this.madeAt = -Infinity;
    this.made = null;         // {canvas, width, height, selected, gates} of the last mask
    this.costMs = [];         // time to make each mask (the preview's cost on this browser)
  }

  // Start (or update) the preview of `profile` with these gates; null stops it.
  set(profile, gates) {
    this.profile = profile;
    this.gates = gates;
    this.madeAt = -Infinity;
    if (!gates) this.made = null;
  }

  // The mask for the frame on screen (frameWidth x frameHeight), made again at most every
  // MIN_INTERVAL_MS; null when off or no frame is decoded.
  render(frameWidth, frameHeight) {
    if (!this.gates || !frameWidth || this.video.readyState < 2) return null;
    const now = performance.now();
    if (this.made && now - this.madeAt < MIN_INTERVAL_MS) {
      if (this.timer === null) {
        this.timer = setTimeout(() => { this.timer = null; this.onStale(); },
                                MIN_INTERVAL_MS - (now - this.madeAt));
      }
      return this.made;
    }
    const started = now;
    const width = Math.min(frameWidth, MAX_WIDTH);
    const height = Math.round(frameHeight * width / frameWidth);
    for (const canvas of [this.source, this.mask]) {
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
    }
    const read = this.source.getContext('2d', { willReadFrequently: true });
    read.drawImage(this.video, 0, 0, width, height);
    const pixels = read.getImageData(0, 0, width, height).data;
    const out = new ImageData(width, height);
    const selected = keyPixels(pixels, out.data, this.gates);
    this.mask.getContext('2d').putImageData(out, 0, 0);
    this.madeAt = performance.now();
    this.costMs.push(this.madeAt - started);
    if (this.costMs.length > 50) this.costMs.shift();
    this.made = { canvas: this.mask, width, height, selected, gates: { ...this.gates },
                  profile: this.profile };
    return this.made;
  }
}

// Tint into `out` (RGBA) the pixels of `rgba` the gates select; return how many.
export function keyPixels(rgba, out, gates) {
  const { luma_min: yMin, luma_max: yMax } = gates;
  const [uMin, uMax] = [gates.u_min ?? -1, gates.u_max ?? -1];
  const [vMin, vMax] = [gates.v_min ?? -1, gates.v_max ?? -1];
  const chroma = uMin >= 0 || uMax >= 0 || vMin >= 0 || vMax >= 0;
  let selected = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const r = rgba[i];
    const g = rgba[i + 1];
    const b = rgba[i + 2];
    const y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
    let keep = y >= yMin - 0.5 && y < yMax + 0.5;
    if (keep && chroma) {
      const u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255;
      const v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255;
      keep = (uMin < 0 || u >= uMin - 0.5) && (uMax < 0 || u < uMax + 0.5)
        && (vMin < 0 || v >= vMin - 0.5) && (vMax < 0 || v < vMax + 0.5);
    }
    if (keep) {
      out[i] = TINT[0]; out[i + 1] = TINT[1]; out[i + 2] = TINT[2]; out[i + 3] = TINT[3];
      selected += 1;
    }
  }
  return selected;
}
