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
// Drawing the centroids over the video, scaled to the video as displayed (object-fit: contain).

// Where the frame's pixels land in the element: frame pixel (x, y), with pixel centres at
// integers (as the centroid engine reports), maps to CSS (left + (x + 0.5) * scale, ...).
// `view` (view.js) zooms and pans: element point p shows at p * zoom + (x, y).
export function displayGeometry(element, frameWidth, frameHeight, view = null) {
  const width = element.clientWidth;
  const height = element.clientHeight;
  const fit = Math.min(width / frameWidth, height / frameHeight);
  const { zoom, x, y } = view ?? { zoom: 1, x: 0, y: 0 };
  return {
    scale: fit * zoom,
    left: ((width - frameWidth * fit) / 2) * zoom + x,
    top: ((height - frameHeight * fit) / 2) * zoom + y,
    toCss(x, y) { return [this.left + (x + 0.5) * this.scale, this.top + (y + 0.5) * this.scale]; },
    toFrame(cx, cy) { return [(cx - this.left) / this.scale - 0.5, (cy - this.top) / this.scale - 0.5]; },
  };
}

const COLOURS = ['#39f', '#f93', '#6d6', '#e6e'];

export class Overlay {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext('2d');
    this.drawn = { seq: null, circles: [] };   // what is on screen now (tests read this)
    this.view = null;                          // the zoom and pan (view.js), if any
  }

  // Draw `sets` (profile -> centroid message) for the frame `seq`; `target` and `marks`
  // (calibration points and checks, see calibration.js) in frame pixels.
  // `residuals` (alignment.js): {lines, limitUm, pxPerUm}, drawn over the pads, or null.
  // `mask` (keypreview.js): {canvas, width, height}, the key preview stretched over the frame.
  draw(sets, frameWidth, frameHeight, seq, target, profiles, marks = [], residuals = null,
       mask = null) {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const cssWidth = canvas.clientWidth;
    const cssHeight = canvas.clientHeight;
    if (canvas.width !== Math.round(cssWidth * ratio) || canvas.height !== Math.round(cssHeight * ratio)) {
      canvas.width = Math.round(cssWidth * ratio);
      canvas.height = Math.round(cssHeight * ratio);
    }
    const g = this.context;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, cssWidth, cssHeight);
    const circles = [];
    if (!frameWidth) { this.drawn = { seq, circles, residuals: [] }; return; }
    const geometry = displayGeometry(canvas, frameWidth, frameHeight, this.view?.transform);
    if (mask) {
      g.imageSmoothingEnabled = false;
      g.drawImage(mask.canvas, geometry.left, geometry.top, frameWidth * geometry.scale,
                  frameHeight * geometry.scale);
    }
    profiles.forEach((profile, index) => {
      const set = sets.get(profile);
      if (!set) return;
      g.strokeStyle = COLOURS[index % COLOURS.length];
      g.lineWidth = 1.5;
      for (const p of set.points) {
        const [cx, cy] = geometry.toCss(p[0], p[1]);
        const radius = Math.max(3, Math.sqrt(p[2] / Math.PI) * geometry.scale + 2);
        g.beginPath();
        g.arc(cx, cy, radius, 0, 2 * Math.PI);
        g.stroke();
        circles.push({ profile, colour: g.strokeStyle, x: p[0], y: p[1], area: p[2],
                       orientation: p.length > 3 ? p[3] : null, cx, cy, radius });
      }
    });
    for (const mark of marks) drawMark(g, geometry, mark);
    const lines = residuals ? drawResiduals(g, geometry, residuals, cssHeight) : [];
    if (target) {
      const [tx, ty] = geometry.toCss(target.x, target.y);
      g.strokeStyle = '#f33';
      g.lineWidth = 2;
      g.beginPath();
      g.arc(tx, ty, 10, 0, 2 * Math.PI);
      g.moveTo(tx - 16, ty); g.lineTo(tx + 16, ty);
      g.moveTo(tx, ty - 16); g.lineTo(tx, ty + 16);
      g.stroke();
    }
    this.drawn = { seq, circles, geometry, marks, residuals: lines, mask };
  }

  // The drawn circle under CSS point (cx, cy), the nearest within its radius + slack.
  hit(cx, cy, slack = 4) {
    let best = null;
    let bestDistance = Infinity;
    for (const circle of this.drawn.circles) {
      const distance = Math.hypot(circle.cx - cx, circle.cy - cy);
      if (distance <= circle.radius + slack && distance < bestDistance) {
        best = circle;
        bestDistance = distance;
      }
    }
    return best;
  }
}

const MARK_COLOUR = '#ff0';
const RESIDUAL_PASS = '#3e3';
const RESIDUAL_FAIL = '#f3f';

// The alignment's residuals: per matched lead a line from the lead as corrected (pad minus
// the residual, magnified to `pxPerUm` screen px per micrometre whatever the zoom) to its pad,
// green within the verdict's tolerance and magenta beyond; a scale bar bottom left. Returns
// what was drawn (tests read it).
function drawResiduals(g, geometry, { lines, limitUm, pxPerUm }, cssHeight) {
  const drawn = [];
  g.save();
  g.lineWidth = 2;
  for (const [x, y, ex, ey] of lines) {
    const [px, py] = geometry.toCss(x, y);
    const [lx, ly] = [px - ex * pxPerUm, py - ey * pxPerUm];
    const residualUm = Math.hypot(ex, ey);
    const pass = limitUm === null || residualUm <= limitUm;
    g.strokeStyle = g.fillStyle = pass ? RESIDUAL_PASS : RESIDUAL_FAIL;
    g.beginPath();
    g.moveTo(lx, ly); g.lineTo(px, py);
    g.stroke();
    g.beginPath();
    g.arc(lx, ly, 2.5, 0, 2 * Math.PI);
    g.fill();
    drawn.push({ x, y, px, py, lx, ly, residualUm, pass, colour: g.strokeStyle });
  }
  const barUm = limitUm ?? 10;
  const [bx, by] = [12, cssHeight - 14];
  g.strokeStyle = g.fillStyle = '#fff';
  g.font = '12px system-ui, sans-serif';
  g.beginPath();
  g.moveTo(bx, by); g.lineTo(bx + barUm * pxPerUm, by);
  g.moveTo(bx, by - 4); g.lineTo(bx, by + 4);
  g.moveTo(bx + barUm * pxPerUm, by - 4); g.lineTo(bx + barUm * pxPerUm, by + 4);
  g.stroke();
  g.fillText(`residuals: ${barUm} \u00b5m (1 \u00b5m = ${pxPerUm} px)`,
             bx + barUm * pxPerUm + 8, by + 4);
  g.restore();
  return drawn;
}

// One calibration mark: a clicked point (a cross), a check circle (the nozzle found, the
// reference mark), or a ruler between the scale points with a tick per millimetre (per 10 mm
// when millimetres would be closer than 4 screen pixels).
function drawMark(g, geometry, mark) {
  g.save();
  g.strokeStyle = MARK_COLOUR;
  g.fillStyle = MARK_COLOUR;
  g.lineWidth = 1.5;
  g.font = '12px system-ui, sans-serif';
  if (mark.kind === 'point') {
    const [x, y] = geometry.toCss(mark.x, mark.y);
    g.beginPath();
    g.moveTo(x - 8, y - 8); g.lineTo(x + 8, y + 8);
    g.moveTo(x + 8, y - 8); g.lineTo(x - 8, y + 8);
    g.stroke();
    g.fillText(mark.label, x + 10, y - 10);
  } else if (mark.kind === 'circle') {
    const [x, y] = geometry.toCss(mark.x, mark.y);
    const radius = Math.max(4, mark.radius * geometry.scale);
    g.setLineDash([4, 3]);
    g.beginPath();
    g.arc(x, y, radius, 0, 2 * Math.PI);
    g.moveTo(x - 4, y); g.lineTo(x + 4, y);
    g.moveTo(x, y - 4); g.lineTo(x, y + 4);
    g.stroke();
    g.fillText(mark.label, x + radius + 4, y - 4);
  } else if (mark.kind === 'ruler') {
    const [x1, y1] = geometry.toCss(mark.x1, mark.y1);
    const [x2, y2] = geometry.toCss(mark.x2, mark.y2);
    const length = Math.hypot(x2 - x1, y2 - y1);
    g.beginPath();
    g.moveTo(x1, y1); g.lineTo(x2, y2);
    const mmCss = geometry.scale / mark.mmPerPixel;      // screen pixels per millimetre
    const every = mmCss >= 4 ? 1 : 10;
    const [ux, uy] = [(x2 - x1) / length, (y2 - y1) / length];
    for (let mm = 0; mm * mmCss <= length + 0.5; mm += every) {
      const tick = mm % (10 * every) === 0 ? 8 : 4;
      const [tx, ty] = [x1 + ux * mm * mmCss, y1 + uy * mm * mmCss];
      g.moveTo(tx - uy * tick, ty + ux * tick);
      g.lineTo(tx + uy * tick, ty - ux * tick);
    }
    g.stroke();
    g.fillText(`${mark.label} (ticks: ${every} mm)`, (x1 + x2) / 2 + 6, (y1 + y2) / 2 - 10);
  }
  g.restore();
}
