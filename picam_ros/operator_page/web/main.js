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
// The operator page: video, centroid overlay in step with the frame shown, targets, modes,
// keying sliders and calibration, over one WebSocket to picam_ros.operator_page.server.
//
// Overlay sync: the server pushes each centroid set with the sequence number and capture stamp
// of its frame and keeps a short history. For every frame the video presents
// (requestVideoFrameCallback) the page reads that frame's sequence stamp from its pixels (the
// synthetic source's stamp, which survives the codec) and draws the sets with the same
// sequence; a set that arrives after its frame is drawn as soon as it arrives if that frame
// is still on screen. A frame without a readable stamp (a real camera), or sets without a
// sequence (the ROS path: PointCloud2 headers carry only the capture stamp), show the newest
// sets.

import { directionOf, nearestInArc, DIRECTIONS } from './navigation.js';
import { Overlay } from './overlay.js';
import { SequenceReader } from './sequence.js';
import { keepWhep } from './whep.js';

const HISTORY = 128;        // sets kept per profile (covers > 4 s of video at 30 fps)
const SHIFT_STEP_PX = 10;   // Shift+direction moves the target this many frame pixels

const $ = (id) => document.getElementById(id);

class OperatorPage {
  constructor() {
    this.video = $('video');
    this.overlay = new Overlay($('overlay'));
    this.reader = new SequenceReader();
    this.history = new Map();     // profile -> [centroid messages], oldest first
    this.shown = new Map();       // profile -> the set drawn now
    this.hello = null;
    this.authorised = false;
    this.token = '';
    this.frameSeq = null;
    this.frameSize = [0, 0];
    this.target = null;
    this.nextId = 1;
    this.pending = new Map();     // id -> {onDone, onRefused}
    this.presentedAt = [];        // performance.now() of frames presented in the last second
    this.lastFrameAt = 0;         // performance.now() of the latest presented frame
    this.frameIntervalMs = 40;    // smoothed time between presented frames
    this.whepSessions = 0;        // WHEP sessions opened (re-negotiated after a failure)
    this.whepSession = null;      // the current session's URL (WHEP Location)
    this.streamLog = [];          // [performance.now(), stream state] of the last changes
    this.fps = 0;
    this.lastDropsFromServer = 0;
    this.status = {};
    this.streamState = 'starting';
    this.ready = false;
    this.readyAt = null;
    this.mode = null;
    this.calibrationStep = null;
    this.scale = null;   // the scale step: camera, distance_mm, the points clicked so far
    this.refusals = [];
    this.syncLog = [];            // per presented frame: its sequence and the drawn sets' (tests)
  }

  start() {
    const hash = new URLSearchParams(location.hash.slice(1));
    this.token = hash.get('token') || sessionStorage.getItem('picam-operator-token') || '';
    if (hash.get('token')) history.replaceState(null, '', location.pathname + location.search);
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.token = $('token-input').value.trim();
      $('token-input').value = '';
      this.authenticate();
    });
    this.connect();
    this.bindInput();
    setInterval(() => this.tickStatus(), 500);
  }

  // -- socket -----------------------------------------------------------------------------
  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    ws.onclose = () => {
      this.setState('down', 'server connection lost; retrying');
      this.authorised = false;
      this.showAccess();
      setTimeout(() => this.connect(), 1000);
    };
  }

  send(message, handlers = {}) {
    const id = this.nextId++;
    this.pending.set(id, handlers);
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.refused({ id, reason: 'not connected to the server' });
      return id;
    }
    this.ws.send(JSON.stringify({ ...message, id }));
    return id;
  }

  authenticate() {
    if (!this.token) return;
    this.send({ action: 'auth', token: this.token }, {
      onDone: () => sessionStorage.setItem('picam-operator-token', this.token),
    });
  }

  onMessage(message) {
    switch (message.type) {
      case 'hello': this.onHello(message); break;
      case 'authorised':
        this.authorised = true;
        this.showAccess();
        this.settle(message);
        break;
      case 'centroids': this.onCentroids(message); break;
      case 'status': this.status = message; if (message.mode) this.showMode(message.mode); break;
      case 'done': this.settle(message); break;
      case 'refused': this.refused(message); break;
      default: break;
    }
  }

  settle(message) {
    const handlers = this.pending.get(message.id);
    this.pending.delete(message.id);
    handlers?.onDone?.(message);
  }

  refused(message) {
    this.refusals.push(message.reason);
    if (this.refusals.length > 50) this.refusals.shift();
    const handlers = this.pending.get(message.id);
    this.pending.delete(message.id);
    $('message').textContent = message.reason;
    handlers?.onRefused?.(message.reason);
  }

  onHello(hello) {
    this.hello = hello;
    this.setState('connecting', '');
    this.buildModes(hello);
    this.buildParameters(hello);
    this.buildCalibration(hello);
    this.authenticate();
    if (!this.videoStarted) {
      this.videoStarted = true;
      this.startVideo(hello.video);
    }
  }

  // -- video and sync ---------------------------------------------------------------------
  async startVideo(video) {
    const element = this.video;
    element.requestVideoFrameCallback((now, meta) => this.onFrame(now, meta));
    try {
      if (video.url) {
        element.src = video.url;
        element.loop = true;
        this.streamState = 'file';
        await element.play();
      } else if (video.whep) {
        const url = video.whep.replace('{host}', location.hostname);
        keepWhep(element, url, {
          onState: (state) => {
            this.streamState = state;
            this.streamLog.push([Math.round(performance.now()), state]);
            if (this.streamLog.length > 50) this.streamLog.shift();
          },
          lastFrameAt: () => this.lastFrameAt,
          frameIntervalMs: () => this.frameIntervalMs,
          onSession: (count) => { this.whepSessions = count; },
          onSessionUrl: (session) => { this.whepSession = session; },
        });
      } else {
        this.streamState = 'no video configured';
      }
    } catch (error) {
      this.streamState = `error: ${error.message}`;
      setTimeout(() => { this.videoStarted = false; this.startVideo(video); }, 2000);
    }
  }

  onFrame(now, meta) {
    this.video.requestVideoFrameCallback((t, m) => this.onFrame(t, m));
    this.presentedAt.push(now);
    const at = performance.now();
    // Gaps longer than a second (a stall, a new session) do not count as the camera's pace.
    if (this.lastFrameAt && at - this.lastFrameAt < 1000) {
      this.frameIntervalMs += 0.1 * (at - this.lastFrameAt - this.frameIntervalMs);
    }
    this.lastFrameAt = at;
    while (this.presentedAt.length && this.presentedAt[0] < now - 1000) this.presentedAt.shift();
    this.frameSize = [meta.width, meta.height];
    try {
      this.frameSeq = this.reader.read(this.video, meta.width, meta.height);
    } catch (error) {   // a cross-origin video without CORS cannot be read: no stamps
      this.frameSeq = null;
    }
    this.framePresentedAt = performance.timeOrigin + meta.presentationTime;
    this.redraw();
    const shown = [...this.shown.values()];
    this.syncLog.push({
      frame: this.frameSeq,
      sets: shown.map((s) => s.seq),
      // capture (stamp of the set's frame) to presentation, same host clock: glass-to-glass
      latencyMs: shown.length ? this.framePresentedAt - shown[0].stamp_ns / 1e6 : null,
    });
    if (this.syncLog.length > 500) this.syncLog.shift();
    if (!this.ready && this.hello) {
      this.ready = true;
      this.readyAt = performance.now();
      this.setState('live', '');
      this.tickStatus();
    }
  }

  onCentroids(set) {
    let list = this.history.get(set.profile);
    if (!list) { list = []; this.history.set(set.profile, list); }
    list.push(set);
    if (list.length > HISTORY) list.shift();
    if (this.frameSeq === null || set.seq === null) {
      this.redraw();
    } else if (set.seq === this.frameSeq) {
      this.redraw();
      // The set came after its frame was presented: drawn now, logged with its delay.
      this.syncLog.push({ frame: this.frameSeq, sets: [set.seq], late: true,
                          delayMs: performance.timeOrigin + performance.now() - this.framePresentedAt });
      if (this.syncLog.length > 500) this.syncLog.shift();
    }
  }

  // The set of each profile that belongs to the frame on screen (newest when it has no stamp).
  setsForFrame() {
    const sets = new Map();
    for (const [profile, list] of this.history) {
      let chosen = null;
      const newest = list[list.length - 1];
      if (this.frameSeq === null || newest?.seq === null) {
        chosen = list[list.length - 1] ?? null;
      } else {
        for (let i = list.length - 1; i >= 0; i--) {
          if (list[i].seq === this.frameSeq) { chosen = list[i]; break; }
        }
      }
      if (chosen) sets.set(profile, chosen);
    }
    return sets;
  }

  redraw() {
    this.shown = this.setsForFrame();
    // The machine's ONLYUP shows only the up camera (leads), ONLYDOWN only the board (pads).
    const visible = this.hello?.views?.[this.mode];
    if (visible) {
      for (const profile of [...this.shown.keys()]) {
        if (!visible.includes(profile)) this.shown.delete(profile);
      }
    }
    const [width, height] = this.frameSize[0] ? this.frameSize : this.firstSetSize();
    const profiles = this.hello?.profiles ?? [...this.history.keys()];
    this.overlay.draw(this.shown, width, height, this.frameSeq, this.target, profiles);
  }

  firstSetSize() {
    for (const set of this.shown.values()) return [set.width, set.height];
    return [0, 0];
  }

  points() {
    return this.overlay.drawn.circles;
  }

  // -- targets and keys -------------------------------------------------------------------
  selectTarget(x, y, profile = '') {
    const previous = this.target;
    this.target = { x, y, profile };
    this.redraw();
    $('target').textContent = `${x.toFixed(2)}, ${y.toFixed(2)} px ${profile}`;
    const message = { action: 'select_target', x, y };
    if (profile) message.profile = profile;
    if (this.frameSeq !== null) message.seq = this.frameSeq;
    this.send(message, {
      onDone: (answer) => {
        if (answer.mm) {
          $('target').textContent += ` = ${answer.mm[0].toFixed(3)}, ${answer.mm[1].toFixed(3)} mm`;
        }
      },
      onRefused: () => { this.target = previous; this.redraw(); },
    });
  }

  bindInput() {
    const canvas = $('overlay');
    const stage = $('stage');
    canvas.addEventListener('click', (event) => {
      stage.focus();
      const rect = canvas.getBoundingClientRect();
      const cx = event.clientX - rect.left;
      const cy = event.clientY - rect.top;
      const geometry = this.overlay.drawn.geometry;
      if (!geometry) return;
      if (this.calibrationStep === 'scale') {
        this.scaleClick(...geometry.toFrame(cx, cy));
        return;
      }
      if (this.calibrationStep) {
        const [x, y] = geometry.toFrame(cx, cy);
        this.calibrationClick(this.calibrationStep, x, y);
        return;
      }
      const hit = this.overlay.hit(cx, cy);
      if (hit) this.selectTarget(hit.x, hit.y, hit.profile);
      else this.selectTarget(...geometry.toFrame(cx, cy));
    });
    canvas.addEventListener('mousemove', (event) => {
      const rect = canvas.getBoundingClientRect();
      const hit = this.overlay.hit(event.clientX - rect.left, event.clientY - rect.top);
      const tip = $('tooltip');
      if (!hit) { tip.hidden = true; return; }
      const angle = hit.orientation === null ? 'n/a' : `${hit.orientation.toFixed(1)}\u00b0`;
      tip.textContent = `${hit.profile}: (${hit.x.toFixed(2)}, ${hit.y.toFixed(2)}) ` +
        `area ${hit.area} px, orientation ${angle}`;
      tip.style.left = `${hit.cx + hit.radius + 4}px`;
      tip.style.top = `${hit.cy}px`;
      tip.hidden = false;
    });
    stage.addEventListener('keydown', (event) => this.onKey(event));
    document.addEventListener('keydown', (event) => {
      if (event.target === document.body) this.onKey(event);
    });
  }

  onKey(event) {
    if (event.code === 'BracketLeft' || event.code === 'BracketRight') {
      const sign = event.code === 'BracketLeft' ? -1 : 1;
      this.send({ action: 'rotate', degrees: sign * (event.shiftKey ? 10 : 1) });
      event.preventDefault();
      return;
    }
    const direction = directionOf(event);
    if (!direction) return;
    event.preventDefault();
    const [width, height] = this.frameSize[0] ? this.frameSize : this.firstSetSize();
    const from = this.target ?? { x: (width - 1) / 2, y: (height - 1) / 2 };
    if (event.shiftKey) {
      const [dx, dy] = DIRECTIONS[direction];
      const x = Math.min(Math.max(from.x + dx * SHIFT_STEP_PX, 0), Math.max(width - 1, 0));
      const y = Math.min(Math.max(from.y + dy * SHIFT_STEP_PX, 0), Math.max(height - 1, 0));
      this.selectTarget(x, y);
      return;
    }
    const next = nearestInArc(this.points(), from, direction);
    if (next) this.selectTarget(next.x, next.y, next.profile);
  }

  // -- modes, parameters, calibration -----------------------------------------------------
  buildModes(hello) {
    const box = $('modes');
    box.replaceChildren();
    for (const mode of hello.modes) {
      const button = document.createElement('button');
      button.textContent = mode;
      button.dataset.mode = mode;
      button.setAttribute('aria-pressed', 'false');
      button.disabled = !hello.features.modes;
      button.title = hello.features.modes ? `switch to ${mode}` : 'modes need the composite node';
      button.addEventListener('click', () => this.send({ action: 'set_mode', mode }, {
        onDone: () => this.showMode(mode),
      }));
      box.append(button);
    }
  }

  showMode(mode) {
    const changed = this.mode !== mode;
    this.mode = mode;
    if (changed) this.redraw();
    for (const button of $('modes').children) {
      button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
    }
  }

  buildParameters(hello) {
    const box = $('parameters');
    box.replaceChildren();
    for (const spec of hello.parameters) {
      const row = document.createElement('div');
      row.className = 'param';
      row.dataset.name = spec.name;
      const label = document.createElement('label');
      label.textContent = spec.name;
      label.title = spec.description;
      const slider = document.createElement('input');
      slider.type = 'range';
      slider.min = spec.min ?? 0;
      slider.max = spec.max ?? 255;
      slider.step = spec.kind === 'integer' ? 1 : 'any';
      const number = document.createElement('input');
      number.type = 'number';
      number.step = slider.step;
      const reason = document.createElement('div');
      reason.className = 'reason';
      const current = spec.value ?? spec.min ?? 0;
      slider.value = number.value = current;
      row.acknowledged = current;
      const submit = (value) => {
        reason.textContent = '';
        this.send({ action: 'set_parameter', name: spec.name, value }, {
          onDone: () => { row.acknowledged = value; slider.value = number.value = value; },
          onRefused: (why) => {
            reason.textContent = why;
            slider.value = number.value = row.acknowledged;
          },
        });
      };
      slider.addEventListener('change', () => submit(Number(slider.value)));
      number.addEventListener('change', () => submit(Number(number.value)));
      label.append(document.createElement('br'), slider, number);
      row.append(label, reason);
      box.append(row);
    }
  }

  buildCalibration(hello) {
    const box = $('calibration');
    box.replaceChildren();
    for (const { step, mode } of hello.calibration_steps) {
      const row = document.createElement('div');
      row.className = 'calib';
      const button = document.createElement('button');
      button.textContent = step === 'nozzle' ? `1. click the nozzle centre (${mode})`
        : `2. click the reference mark (${mode})`;
      button.disabled = !hello.features.calibration;
      button.dataset.step = step;
      const reason = document.createElement('div');
      reason.className = 'reason';
      button.addEventListener('click', () => {
        this.calibrationStep = step;
        reason.textContent = 'click on the video';
        if (hello.features.modes) this.send({ action: 'set_mode', mode }, { onDone: () => this.showMode(mode) });
      });
      row.append(button, reason);
      box.append(row);
      if (step === 'nozzle') box.append(this.findNozzleRow(hello, mode));
    }
    if (hello.scale_modes) box.append(this.scaleRow(hello));
  }

  // Scale: two points of one camera's view a known distance apart (pad pitch, a ruler).
  scaleRow(hello) {
    const row = document.createElement('div');
    row.className = 'calib';
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
    const button = document.createElement('button');
    button.textContent = '3. scale: click two points this many mm apart';
    button.disabled = !hello.features.calibration;
    button.dataset.step = 'scale';
    const reason = document.createElement('div');
    reason.className = 'reason';
    button.addEventListener('click', () => {
      const mode = hello.scale_modes[camera.value];
      this.calibrationStep = 'scale';
      this.scale = { camera: camera.value, distance_mm: Number(distance.value), points: [] };
      reason.textContent = `click the first point (${mode})`;
      if (hello.features.modes) this.send({ action: 'set_mode', mode }, { onDone: () => this.showMode(mode) });
    });
    const mm = document.createElement('label');
    mm.append(distance, ' mm, ', camera, ' camera');
    row.append(mm, button, reason);
    return row;
  }

  scaleClick(x, y) {
    const reason = document.querySelector('#calibration button[data-step="scale"] + .reason');
    const scale = this.scale;
    scale.points.push(x, y);
    if (scale.points.length < 4) {
      if (reason) reason.textContent = `first point ${x.toFixed(1)}, ${y.toFixed(1)}: click the second`;
      return;
    }
    this.calibrationStep = null;
    const [x1, y1, x2, y2] = scale.points;
    if (reason) reason.textContent = 'sent';
    this.send({ action: 'calibration_scale', camera: scale.camera, x1, y1, x2, y2,
                distance_mm: scale.distance_mm }, {
      onDone: (answer) => { if (reason) reason.textContent = `done: ${describeAnswer(answer.answer)}`; },
      onRefused: (why) => { if (reason) reason.textContent = why; },
    });
  }

  // The machine finds the nozzle itself (the round blob nearest the up image's centre).
  findNozzleRow(hello, mode) {
    const row = document.createElement('div');
    row.className = 'calib';
    const button = document.createElement('button');
    button.textContent = `or find the nozzle automatically (${mode})`;
    button.disabled = !hello.features.calibration;
    button.dataset.step = 'find_nozzle';
    const reason = document.createElement('div');
    reason.className = 'reason';
    button.addEventListener('click', () => {
      this.calibrationStep = null;
      reason.textContent = 'finding the nozzle';
      const find = () => this.send({ action: 'find_nozzle' }, {
        onDone: (answer) => { reason.textContent = `done: ${describeAnswer(answer.answer)}`; },
        onRefused: (why) => { reason.textContent = why; },
      });
      if (hello.features.modes) {
        this.send({ action: 'set_mode', mode }, {
          onDone: () => { this.showMode(mode); find(); },
          onRefused: (why) => { reason.textContent = why; },
        });
      } else find();
    });
    row.append(button, reason);
    return row;
  }

  calibrationClick(step, x, y) {
    this.calibrationStep = null;
    const reason = document.querySelector(`#calibration button[data-step="${step}"] + .reason`);
    if (reason) reason.textContent = `sent ${x.toFixed(1)}, ${y.toFixed(1)}`;
    this.send({ action: 'calibration_click', step, x, y }, {
      onDone: (answer) => {
        if (reason) reason.textContent = `done: ${describeAnswer(answer.answer)}`;
      },
      onRefused: (why) => { if (reason) reason.textContent = why; },
    });
  }

  // -- status -----------------------------------------------------------------------------
  setState(state, text) {
    $('state').dataset.state = state;
    $('state').textContent = state;
    if (text) $('message').textContent = text;
  }

  showAccess() {
    $('access').dataset.authorised = String(this.authorised);
    $('access').textContent = this.authorised ? 'operator' : 'view-only';
  }

  tickStatus() {
    this.fps = this.presentedAt.length;
    const quality = this.video.getVideoPlaybackQuality?.();
    const pageDrops = quality ? quality.droppedVideoFrames : 0;
    let blobs = 0;
    let latest = null;
    for (const set of this.shown.values()) {
      blobs += set.points.length;
      if (!latest || set.stamp_ns > latest.stamp_ns) latest = set;
    }
    $('st-fps').textContent = String(this.fps);
    $('st-drops').textContent = `${this.status.drops ?? 0} / page ${pageDrops}`;
    $('st-blobs').textContent = String(blobs);
    $('st-processing').textContent = this.status.processing_ms?.toFixed?.(2) ?? '-';
    const latency = latest && this.framePresentedAt ? this.framePresentedAt - latest.stamp_ns / 1e6 : NaN;
    $('st-latency').textContent = latency > 0 && latency < 10000 ? latency.toFixed(0) : '-';
    $('st-stream').textContent = this.status.stream_state ? `${this.streamState}, ${this.status.stream_state}` : this.streamState;
    $('st-seq').textContent = this.frameSeq === null ? '-' : String(this.frameSeq);
  }
}

// A calibration service's answer (the machine node's JSON summary) as one line of text.
function describeAnswer(answer) {
  if (answer === undefined || answer === null) return 'ok';
  if (typeof answer !== 'object') return String(answer);
  return Object.entries(answer).map(([key, value]) => {
    const text = typeof value === 'number' ? String(Math.round(value * 1000) / 1000) : String(value);
    return `${key} ${text}`;
  }).join(', ');
}

const page = new OperatorPage();
window.picamOperator = page;
page.start();
