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
// The guided calibration: one row per step with its state (to do, armed, sent, done, failed),
// a cancel for an armed step (or Esc), the points clicked drawn on the video, and a check
// after each step drawn where it can be judged: the nozzle circle after the nozzle step, the
// reference mark after the datum step, a millimetre ruler between the scale points. A summary
// of what the machine's calibration file holds comes with the status.

const STEP_TITLES = {
  nozzle: (mode) => `1. click the nozzle centre (${mode})`,
  find_nozzle: (mode) => `or find the nozzle automatically (${mode})`,
  reference: (mode) => `2. click the reference mark (${mode})`,
  scale: () => '3. scale: click two points this many mm apart',
};

export class CalibrationPanel {
  // page: send(message, handlers), setMode(mode, then), say(text, kind), redraw().
  constructor(box, summaryBox, page) {
    this.box = box;
    this.summaryBox = summaryBox;
    this.page = page;
    this.rows = new Map();    // step -> {button, cancel, result, state}
    this.armed = null;        // {step, mode, points: [x, y, ...]}
    this.checks = new Map();  // step -> marks drawn after it succeeded
    this.hello = null;
  }

  build(hello) {
    this.hello = hello;
    this.box.replaceChildren();
    this.rows.clear();
    const needs = hello.features.calibration ? 'token' : 'calibration needs the machine node';
    for (const { step, mode } of hello.calibration_steps) {
      this.box.append(this.row(step, mode, needs));
      if (step === 'nozzle') this.box.append(this.row('find_nozzle', mode, needs));
    }
    if (hello.scale_modes) this.box.append(this.scaleRow(hello, needs));
  }

  row(step, mode, needs, extra = null) {
    const element = document.createElement('div');
    element.className = 'calib';
    element.dataset.step = step;
    element.dataset.state = 'todo';
    const button = document.createElement('button');
    button.textContent = STEP_TITLES[step](mode);
    button.dataset.needs = needs;
    button.dataset.step = step;
    const cancel = document.createElement('button');
    cancel.textContent = 'cancel';
    cancel.className = 'cancel';
    cancel.hidden = true;
    cancel.addEventListener('click', () => this.cancel());
    const result = document.createElement('div');
    result.className = 'reason';
    this.rows.set(step, { element, button, cancel, result });
    button.addEventListener('click', () => this.start(step, mode));
    if (extra) element.append(extra);
    element.append(button, cancel, result);
    return element;
  }

  scaleRow(hello, needs) {
    const camera = document.createElement('select');
    camera.id = 'scale-camera';
    for (const name of Object.keys(hello.scale_modes)) camera.append(new Option(name, name));
    const distance = document.createElement('input');
    distance.id = 'scale-distance';
    distance.type = 'number';
    distance.min = '0';
    distance.step = 'any';
    distance.value = '1';
    distance.title = 'distance between the two points on the object, mm';
    const label = document.createElement('label');
    label.append(distance, ' mm, ', camera, ' camera');
    this.scaleInputs = { camera, distance };
    return this.row('scale', '', needs, label);
  }

  show(step, state, text) {
    const row = this.rows.get(step);
    if (!row) return;
    row.element.dataset.state = state;
    row.result.textContent = text;
    row.cancel.hidden = state !== 'armed';
  }

  start(step, mode) {
    if (this.armed) this.cancel();
    if (step === 'find_nozzle') { this.findNozzle(mode); return; }
    if (step === 'scale') {
      const { camera, distance } = this.scaleInputs;
      mode = this.hello.scale_modes[camera.value];
      this.armed = { step, mode, points: [], camera: camera.value,
                     distance_mm: Number(distance.value) };
      this.show(step, 'armed', `click the first point (${mode}); Esc or cancel to stop`);
    } else {
      this.armed = { step, mode, points: [] };
      this.show(step, 'armed', `click on the video (${mode}); Esc or cancel to stop`);
    }
    this.page.setMode(mode);
    this.page.redraw();
  }

  cancel() {
    if (!this.armed) return false;
    const { step } = this.armed;
    this.armed = null;
    this.show(step, 'todo', 'cancelled: nothing was sent');
    this.page.say(`calibration step "${step}" cancelled`, 'info');
    this.page.redraw();
    return true;
  }

  // A click on the video while a step is armed: taken by the step (true), else not (false).
  click(x, y) {
    const armed = this.armed;
    if (!armed) return false;
    armed.points.push(x, y);
    if (armed.step === 'scale') {
      if (armed.points.length < 4) {
        this.show('scale', 'armed', `first point ${x.toFixed(1)}, ${y.toFixed(1)}: click the second`);
        this.page.redraw();
        return true;
      }
      const [x1, y1, x2, y2] = armed.points;
      this.send('scale', { action: 'calibration_scale', camera: armed.camera, x1, y1, x2, y2,
                           distance_mm: armed.distance_mm }, armed);
      return true;
    }
    this.send(armed.step, { action: 'calibration_click', step: armed.step, x, y }, armed);
    return true;
  }

  findNozzle(mode) {
    this.show('find_nozzle', 'sent', 'finding the nozzle\u2026');
    this.page.setMode(mode, () => this.send('find_nozzle', { action: 'find_nozzle' },
                                            { step: 'find_nozzle', mode, points: [] }));
  }

  send(step, message, armed) {
    this.armed = null;
    this.show(step, 'sent', 'sent; waiting for the machine');
    this.page.redraw();
    this.page.send(message, {
      onDone: (answer) => {
        const result = typeof answer.answer === 'object' && answer.answer ? answer.answer : {};
        this.checks.set(checkKey(step, armed), checkMarks(step, armed, result));
        this.show(step, 'done', `done: ${describe(step, armed, result)}`);
        this.page.say(`calibration step "${step}" done`, 'ok');
        this.page.redraw();
      },
      onRefused: (why) => {
        this.show(step, 'failed', `failed: ${why}`);
        this.page.redraw();
      },
    });
  }

  // Marks for the overlay in `mode`: the points of the armed step and the checks of the
  // steps done in that camera's view.
  marks(mode) {
    const marks = [];
    for (const list of this.checks.values()) {
      for (const mark of list) if (mark.mode === mode) marks.push(mark);
    }
    const armed = this.armed;
    if (armed && armed.mode === mode) {
      for (let i = 0; i < armed.points.length; i += 2) {
        marks.push({ kind: 'point', x: armed.points[i], y: armed.points[i + 1],
                     label: `point ${i / 2 + 1}`, mode });
      }
    }
    return marks;
  }

  // What the calibration file holds (status.calibration from the operator node).
  showSummary(summary) {
    if (!summary) return;
    if (summary.error) { this.summaryBox.textContent = `calibration file: ${summary.error}`; return; }
    const line = (camera, what) => {
      const entry = summary[camera];
      if (!entry) return `${camera}: -`;
      const point = entry.point ? `${what} (${entry.point[0]}, ${entry.point[1]}) px`
        : `${what} not set`;
      return `${camera} camera: ${point}, ${entry.mm_per_pixel.toPrecision(4)} mm/px`;
    };
    this.summaryBox.textContent = `${line('up', 'nozzle')}; ${line('down', 'reference')}`;
  }
}

function checkKey(step, armed) {
  return step === 'scale' ? `scale-${armed.camera}` : step === 'find_nozzle' ? 'nozzle' : step;
}

function checkMarks(step, armed, result) {
  const mode = armed.mode;
  if (step === 'nozzle' || step === 'find_nozzle') {
    const x = result.nozzle_x ?? armed.points[0];
    const y = result.nozzle_y ?? armed.points[1];
    const radius = result.diameter_px ? result.diameter_px / 2 : 12;
    return [{ kind: 'circle', x, y, radius, label: 'nozzle', mode }];
  }
  if (step === 'reference') {
    return [{ kind: 'circle', x: result.datum_x ?? armed.points[0],
              y: result.datum_y ?? armed.points[1], radius: 8, label: 'reference', mode }];
  }
  const [x1, y1, x2, y2] = armed.points;
  return [{ kind: 'ruler', x1, y1, x2, y2, mode,
            mmPerPixel: result.mm_per_pixel ?? armed.distance_mm / Math.hypot(x2 - x1, y2 - y1),
            label: `${armed.distance_mm} mm` }];
}

function describe(step, armed, result) {
  const saved = result.saved === false ? '; applied until the node stops (no calibration file)'
    : result.saved ? '; saved' : '';
  const shift = typeof result['composite.offset_x'] === 'number'
    ? `; composite shift (${result['composite.offset_x']}, ${result['composite.offset_y']}) px` : '';
  const at = (x, y) => `(${Number(x).toFixed(1)}, ${Number(y).toFixed(1)}) px`;
  const [px, py] = armed.points;
  if (step === 'nozzle') {
    return `nozzle centre at ${at(result.nozzle_x ?? px, result.nozzle_y ?? py)}${shift}${saved}`;
  }
  if (step === 'find_nozzle') {
    return `nozzle found at ${at(result.nozzle_x, result.nozzle_y)}, ` +
      `${Number(result.diameter_px).toFixed(1)} px across, roundness ` +
      `${Number(result.roundness).toFixed(2)}${shift}${saved}`;
  }
  if (step === 'reference') {
    return `reference mark at ${at(result.datum_x ?? px, result.datum_y ?? py)}${shift}${saved}`;
  }
  const scale = result.mm_per_pixel;
  if (typeof scale !== 'number') return 'ok';
  return `${result.camera ?? armed.camera} camera: ${scale.toPrecision(4)} mm per pixel ` +
    `(${(1 / scale).toFixed(1)} px per mm)${saved}`;
}
