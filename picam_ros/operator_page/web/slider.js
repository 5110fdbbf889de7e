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
// A slider that changes only when its handle is dragged. A native <input type=range> jumps to
// a click on its track and takes the arrow keys once focused; on a machine both move a
// threshold the operator did not mean to move (150 -> 128 from a stray click). Here a click on
// the track does nothing, the slider never takes focus (so the keys stay with navigation), and
// a value is committed once, when the drag ends.

const THUMB_PX = 14;

export class DragSlider {
  // onInput(value) while dragging (to show the number), onCommit(value) once at the end,
  // onEnd() when a drag ends, committed or not.
  constructor({ min, max, step, value, onInput, onCommit, onEnd = () => {} }) {
    this.onEnd = onEnd;
    this.min = min;
    this.max = max > min ? max : min + 1;
    this.step = step;
    this.onInput = onInput;
    this.onCommit = onCommit;
    this.disabled = false;
    this.element = document.createElement('div');
    this.element.className = 'slider';
    this.element.setAttribute('role', 'slider');
    this.element.setAttribute('aria-valuemin', String(min));
    this.element.setAttribute('aria-valuemax', String(max));
    this.track = document.createElement('div');
    this.track.className = 'slider-track';
    this.thumb = document.createElement('div');
    this.thumb.className = 'slider-thumb';
    this.element.append(this.track, this.thumb);
    this.drag = null;
    this.thumb.addEventListener('pointerdown', (event) => this.begin(event));
    this.thumb.addEventListener('pointermove', (event) => this.move(event));
    this.thumb.addEventListener('pointerup', (event) => this.end(event));
    this.thumb.addEventListener('pointercancel', () => this.cancel());
    this.value = value;
  }

  get value() { return this.current; }

  set value(value) {
    this.current = Math.min(Math.max(Number(value), this.min), this.max);
    const fraction = (this.current - this.min) / (this.max - this.min);
    this.thumb.style.left = `calc(${fraction * 100}% - ${fraction * THUMB_PX}px)`;
    this.element.setAttribute('aria-valuenow', String(this.current));
  }

  setDisabled(disabled) {
    this.disabled = disabled;
    this.element.classList.toggle('disabled', disabled);
    this.element.setAttribute('aria-disabled', String(disabled));
    if (disabled) this.cancel();
  }

  // The value under clientX, snapped to the step (an integer slider gives integers).
  valueAt(clientX) {
    const rect = this.element.getBoundingClientRect();
    const usable = Math.max(rect.width - THUMB_PX, 1);
    const fraction = Math.min(Math.max((clientX - rect.left - THUMB_PX / 2) / usable, 0), 1);
    const raw = this.min + fraction * (this.max - this.min);
    return this.step === 'any' ? raw : Math.round(raw / this.step) * this.step;
  }

  begin(event) {
    if (this.disabled || event.button !== 0) return;
    event.preventDefault();
    this.thumb.setPointerCapture(event.pointerId);
    this.drag = { pointer: event.pointerId, from: this.current };
    this.element.classList.add('dragging');
  }

  move(event) {
    if (!this.drag || event.pointerId !== this.drag.pointer) return;
    this.value = this.valueAt(event.clientX);
    this.onInput(this.current);
  }

  end(event) {
    if (!this.drag || event.pointerId !== this.drag.pointer) return;
    const { from } = this.drag;
    this.drag = null;
    this.element.classList.remove('dragging');
    this.onEnd();
    if (this.current !== from) this.onCommit(this.current);
  }

  cancel() {
    if (!this.drag) return;
    this.value = this.drag.from;
    this.onInput(this.current);
    this.drag = null;
    this.element.classList.remove('dragging');
    this.onEnd();
  }
}
