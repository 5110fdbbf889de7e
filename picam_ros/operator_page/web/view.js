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
// How the operator looks at the video: zoom (wheel, trackpad pinch, + - 0 keys) about the
// cursor, pan by dragging, and a magnifier under the cursor for click-to-target. A 1024-pixel
// frame fits a laptop screen at about one screen pixel per frame pixel, where pads 14 px apart
// and a lead 2.4 px from its pad cannot be told apart; zoomed 4x they can.
//
// The view is one affine map, element point p -> p * zoom + (x, y), applied to the video (and
// the no-video placeholder) as a CSS transform and to the overlay's geometry, so the markers
// follow the image exactly.

const MAX_ZOOM = 16;
const DRAG_PX = 4;            // a press that moves less than this is a click, not a pan
const LOUPE_PX = 160;         // magnifier size (CSS px)
const LOUPE_ZOOM = 4;         // magnifier: screen pixels per displayed pixel

export class View {
  // stage: the element holding video and overlay; layers: elements transformed with the
  // video; onChange(): redraw the overlay.
  constructor(stage, layers, onChange) {
    this.stage = stage;
    this.layers = layers;
    this.onChange = onChange;
    this.zoom = 1;
    this.x = 0;
    this.y = 0;
    this.press = null;
    this.dragged = false;     // the last press was a pan: its click is not a target
    stage.addEventListener('wheel', (event) => this.onWheel(event), { passive: false });
  }

  get transform() { return { zoom: this.zoom, x: this.x, y: this.y }; }

  // Zoom by `factor` keeping the stage point (cx, cy) where it is.
  zoomAt(factor, cx, cy) {
    const zoom = Math.min(Math.max(this.zoom * factor, 1), MAX_ZOOM);
    const ratio = zoom / this.zoom;
    this.x = cx - (cx - this.x) * ratio;
    this.y = cy - (cy - this.y) * ratio;
    this.zoom = zoom;
    this.apply();
  }

  zoomAtCentre(factor) {
    this.zoomAt(factor, this.stage.clientWidth / 2, this.stage.clientHeight / 2);
  }

  reset() {
    this.zoom = 1;
    this.x = 0;
    this.y = 0;
    this.apply();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  }

  // Keep the zoomed image covering the stage (no panning off into the void), then show it.
  apply() {
    const width = this.stage.clientWidth;
    const height = this.stage.clientHeight;
    this.x = Math.min(0, Math.max(this.x, width - width * this.zoom));
    this.y = Math.min(0, Math.max(this.y, height - height * this.zoom));
    const css = this.zoom === 1 ? ''
      : `translate(${this.x}px, ${this.y}px) scale(${this.zoom})`;
    for (const layer of this.layers) layer.style.transform = css;
    this.stage.dataset.zoom = this.zoom.toFixed(2);
    this.onChange();
  }

  onWheel(event) {
    event.preventDefault();     // the page itself does not scroll or zoom
    const rect = this.stage.getBoundingClientRect();
    // Trackpad pinch arrives as a wheel event with ctrlKey and small deltas.
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    this.zoomAt(Math.exp(-delta * (event.ctrlKey ? 0.01 : 0.002)),
                event.clientX - rect.left, event.clientY - rect.top);
  }

  // Pointer handling on the overlay: a drag pans; pointerUp says whether it was a click.
  pointerDown(event) {
    if (event.button !== 0) return;
    this.press = { id: event.pointerId, x: event.clientX, y: event.clientY, moved: false };
  }

  pointerMove(event) {
    const press = this.press;
    if (!press || event.pointerId !== press.id) return;
    const dx = event.clientX - press.x;
    const dy = event.clientY - press.y;
    if (!press.moved && Math.hypot(dx, dy) < DRAG_PX) return;
    if (!press.moved) event.target.setPointerCapture?.(event.pointerId);
    press.moved = true;
    press.x = event.clientX;
    press.y = event.clientY;
    if (this.zoom > 1) this.panBy(dx, dy);
  }

  pointerUp(event) {
    const press = this.press;
    this.press = null;
    this.dragged = Boolean(press && press.moved);
    if (press?.moved) event.target.releasePointerCapture?.(event.pointerId);
  }
}

// A loupe under the cursor: the video region around it enlarged, the markers drawn over it
// and a cross at the point a click would target.
export class Magnifier {
  constructor(canvas, video) {
    this.canvas = canvas;
    this.video = video;
    this.context = canvas.getContext('2d');
    this.enabled = true;
  }

  hide() { this.canvas.hidden = true; }

  // (cx, cy): cursor in stage CSS px; geometry: the overlay's (zoomed) frame <-> CSS map.
  show(cx, cy, geometry, circles, frameWidth, frameHeight) {
    if (!this.enabled || !geometry || !frameWidth) { this.hide(); return; }
    const [fx, fy] = geometry.toFrame(cx, cy);
    if (fx < -0.5 || fy < -0.5 || fx > frameWidth - 0.5 || fy > frameHeight - 0.5) {
      this.hide();
      return;
    }
    const ratio = window.devicePixelRatio || 1;
    const size = Math.round(LOUPE_PX * ratio);
    if (this.canvas.width !== size) { this.canvas.width = size; this.canvas.height = size; }
    const scale = geometry.scale * LOUPE_ZOOM;        // loupe CSS px per frame pixel
    const span = LOUPE_PX / scale;                    // frame pixels across the loupe
    const g = this.context;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.imageSmoothingEnabled = false;
    g.fillStyle = '#111';
    g.fillRect(0, 0, LOUPE_PX, LOUPE_PX);
    const sx = fx + 0.5 - span / 2;
    const sy = fy + 0.5 - span / 2;
    if (this.video.videoWidth) {
      g.drawImage(this.video, sx, sy, span, span, 0, 0, LOUPE_PX, LOUPE_PX);
    }
    const toLoupe = (x, y) => [(x + 0.5 - sx) * scale, (y + 0.5 - sy) * scale];
    g.lineWidth = 1.5;
    for (const circle of circles) {
      const [lx, ly] = toLoupe(circle.x, circle.y);
      if (lx < -20 || ly < -20 || lx > LOUPE_PX + 20 || ly > LOUPE_PX + 20) continue;
      g.strokeStyle = circle.colour ?? '#39f';
      g.beginPath();
      g.arc(lx, ly, Math.max(3, (circle.radius / geometry.scale) * scale), 0, 2 * Math.PI);
      g.stroke();
    }
    g.strokeStyle = '#f33';
    g.beginPath();
    g.moveTo(LOUPE_PX / 2 - 10, LOUPE_PX / 2); g.lineTo(LOUPE_PX / 2 + 10, LOUPE_PX / 2);
    g.moveTo(LOUPE_PX / 2, LOUPE_PX / 2 - 10); g.lineTo(LOUPE_PX / 2, LOUPE_PX / 2 + 10);
    g.stroke();
    // Beside the cursor, on the side with room.
    const stage = this.canvas.parentElement;
    const left = cx + 24 + LOUPE_PX < stage.clientWidth ? cx + 24 : cx - 24 - LOUPE_PX;
    const top = Math.min(Math.max(cy - LOUPE_PX / 2, 0), stage.clientHeight - LOUPE_PX);
    Object.assign(this.canvas.style, { left: `${left}px`, top: `${top}px` });
    this.canvas.hidden = false;
  }
}
