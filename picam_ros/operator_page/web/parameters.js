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
// The keying panel: one row per node parameter, changed by dragging its handle or by typing a
// value and pressing Enter; nothing else changes a value. Each accepted change can be undone
// (the Undo button or Ctrl-Z), which sets the previous value through the same parameter
// service, so the node's validation applies to an undo as to any change.
//
// For people, not for the parameter table: a gate that can be "not set" (u_min ... v_max: -1;
// max_area: 0, no limit) is a checkbox beside its slider, never a slider at the far left, and a
// parameter whose range is too wide to drag (the area limits: 1 .. 2^31) is a typed field.

import { DragSlider } from './slider.js';

const UNDO_DEPTH = 50;
const GATES = ['luma_min', 'luma_max', 'u_min', 'u_max', 'v_min', 'v_max'];
const fieldOf = (name) => name.slice(name.indexOf('.') + 1);
const SLIDER_SPAN = 65536;    // wider ranges are typed: one pixel of slider would be thousands

export class ParameterPanel {
  // send(message, {onDone, onRefused}) is the page's request to the server; onPreview(
  // {profile, gates} or null) follows a keying gate's slider while it is dragged.
  constructor(box, undoButton, send, onPreview = () => {}) {
    this.onPreview = onPreview;
    this.box = box;
    this.undoButton = undoButton;
    this.send = send;
    this.rows = new Map();       // name -> row state
    this.done = [];              // accepted changes, oldest first: {name, before, after}
    this.enabled = false;
    this.undoButton.addEventListener('click', () => this.undo());
    this.showUndo();
  }

  build(specs) {
    this.box.replaceChildren();
    this.rows.clear();
    for (const spec of specs) this.rows.set(spec.name, this.row(spec));
    this.setEnabled(this.enabled);
  }

  row(spec) {
    const element = document.createElement('div');
    element.className = 'param';
    element.dataset.name = spec.name;
    const label = document.createElement('label');
    label.textContent = spec.name;
    label.title = spec.description;
    const number = document.createElement('input');
    number.type = 'text';            // no spinner, no wheel or arrow stepping: typed and Enter
    number.inputMode = 'decimal';
    number.className = 'value';
    number.setAttribute('aria-label', spec.name);
    const reason = document.createElement('div');
    reason.className = 'reason';
    const current = spec.value ?? spec.min ?? 0;
    const unset = spec.unset ?? null;
    const state = { spec, element, number, reason, acknowledged: current, slider: null,
                    unset, gate: null, lastSet: null };
    // The slider spans the values that set the gate (not the "not set" value below them).
    const low = unset !== null && spec.min !== null && unset <= spec.min ? unset + 1 : spec.min ?? 0;
    const high = spec.max ?? 255;
    if (high - low <= SLIDER_SPAN) {
      state.slider = new DragSlider({
        min: low, max: high, step: spec.kind === 'integer' ? 1 : 'any',
        value: current === unset ? low : current,
        onInput: (value) => {
          number.value = format(value);
          if (GATES.includes(fieldOf(spec.name))) this.onPreview(this.gatesWith(state, value));
        },
        onCommit: (value) => this.commit(state, value),
        onEnd: () => this.onPreview(null),
      });
    }
    if (unset !== null) {
      const gate = document.createElement('input');
      gate.type = 'checkbox';
      gate.className = 'gate';
      gate.title = unset === 0 ? 'limit on (off: no limit)' : 'gate on (off: not set)';
      gate.setAttribute('aria-label', `${spec.name} on`);
      gate.addEventListener('change', () => {
        // On: the value it had before it was switched off, else the end that keys the least.
        const on = state.lastSet ?? (spec.name.endsWith('_max') ? high : low);
        this.commit(state, gate.checked ? on : unset);
      });
      state.gate = gate;
    }
    number.addEventListener('change', () => {
      const text = number.value.trim();
      if (text === '' && state.unset !== null) { this.show(state, state.acknowledged); return; }
      const value = Number(text);
      if (text === '' || !Number.isFinite(value)) {
        reason.textContent = `${spec.name}: "${text.slice(0, 20)}" is not a number`;
        this.show(state, state.acknowledged);
        return;
      }
      if (value !== state.acknowledged) this.commit(state, value);
    });
    number.placeholder = unset === 0 ? 'no limit' : 'off';
    number.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') { this.show(state, state.acknowledged); number.blur(); }
    });
    const line = document.createElement('div');
    line.className = 'param-line';
    if (state.gate) line.append(state.gate);
    if (state.slider) line.append(state.slider.element);
    line.append(number);
    element.append(label, line, reason);
    this.box.append(element);
    this.show(state, current);
    return state;
  }

  // The gates of the dragged slider's profile: its value being dragged, the others as the
  // node has them (null: not set).
  gatesWith(dragged, value) {
    const profile = dragged.spec.name.split('.')[0];
    const gates = {};
    for (const field of GATES) {
      const state = this.rows.get(`${profile}.${field}`);
      const current = state === dragged ? value : state?.acknowledged;
      gates[field] = current === undefined || current === state?.unset ? null : current;
    }
    gates.luma_min ??= 0;
    gates.luma_max ??= 255;
    return { profile, gates };
  }

  show(state, value) {
    const off = state.unset !== null && value === state.unset;
    if (state.slider && !off) state.slider.value = value;
    if (!off) state.lastSet = value;
    state.number.value = off ? '' : format(value);
    if (state.gate) state.gate.checked = !off;
    state.element.classList.toggle('off', off);
  }

  commit(state, value, undoing = null) {
    const before = state.acknowledged;
    state.reason.textContent = '';
    this.send({ action: 'set_parameter', name: state.spec.name, value }, {
      onDone: () => {
        state.acknowledged = value;
        this.show(state, value);
        if (!undoing) {
          this.done.push({ name: state.spec.name, before, after: value });
          if (this.done.length > UNDO_DEPTH) this.done.shift();
        }
        state.reason.textContent = undoing ? `undone: back to ${format(value)}` : '';
        this.showUndo();
      },
      onRefused: (why) => {
        state.reason.textContent = why;
        this.show(state, state.acknowledged);
        if (undoing) this.done.push(undoing);   // still there to undo
        this.showUndo();
      },
    });
  }

  // Set the newest accepted change's parameter back to its value before that change.
  undo() {
    if (!this.enabled) return false;
    const change = this.done.pop();
    if (!change) return false;
    const state = this.rows.get(change.name);
    this.showUndo();
    if (state) this.commit(state, change.before, change);
    return true;
  }

  showUndo() {
    const last = this.done[this.done.length - 1];
    this.undoButton.disabled = !this.enabled || !last;
    const before = last && last.before === this.rows.get(last.name)?.unset
      ? (last.before === 0 ? 'no limit' : 'off') : format(last?.before);
    this.undoButton.textContent = last ? `undo ${last.name} \u2192 ${before}` : 'undo';
  }

  setEnabled(enabled, reason = '') {
    this.enabled = enabled;
    for (const state of this.rows.values()) {
      state.slider?.setDisabled(!enabled);
      state.number.disabled = !enabled;
      if (state.gate) state.gate.disabled = !enabled;
      state.element.title = enabled ? '' : reason;
    }
    this.showUndo();
  }
}

function format(value) {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}
