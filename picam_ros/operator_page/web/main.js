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
// The operator page: video, centroid overlay locked to the frame shown, targets, modes,
// keying, calibration and alignment, over one WebSocket to picam_ros.operator_page.server.
//
// Overlay sync: the server pushes each centroid set with the sequence number and capture stamp
// of its frame and keeps a short history. For every frame the video presents
// (requestVideoFrameCallback) the page reads that frame's sequence stamp from its pixels (the
// synthetic source's stamp, which survives the codec) and draws the set with the same
// sequence. When sets come for every frame, a frame whose set has not arrived yet shows none
// until it does; when they are decimated (the machine node: 2 Hz), the newest set of an
// earlier frame is drawn and the status bar says how many frames older it is. A profile from
// another camera than the one stamping the video (leads over the board in NORMAL) is drawn by
// capture stamp: its newest set captured no later than the frame shown. A frame without a
// readable stamp (a real camera) shows the newest sets, held while the mode is FROZEN.
//
// Keys: navigation keys act whatever has focus, except a field that takes typing (text,
// number, select); Ctrl-Z undoes the last keying change. Controls that need the token are
// disabled, with the reason shown, until the page holds it.

import { AlignmentPanel } from './alignment.js';
import { CalibrationPanel } from './calibration.js';
import { directionOf, nearestInArc, DIRECTIONS } from './navigation.js';
import { KeyPreview } from './keypreview.js';
import { displayGeometry, Overlay } from './overlay.js';
import { ParameterPanel } from './parameters.js';
import { SequenceReader } from './sequence.js';
import { Magnifier, View } from './view.js';
import { describeStream, keepWhep } from './whep.js';

const HISTORY = 128;        // sets kept per profile (covers > 4 s of video at 30 fps)
const SHIFT_STEP_PX = 10;   // Shift+direction moves the target this many frame pixels
const STALE_VIDEO_MS = 1500;   // no frame for this long (and 8 frame intervals): no video
// Input types that do not take typing: the navigation keys stay navigation on them.
const NOT_TYPING = new Set(['button', 'checkbox', 'radio', 'range', 'submit', 'reset', 'color',
                            'file', 'image']);

const $ = (id) => document.getElementById(id);

// Whether a key pressed on `element` belongs to it (typing, choosing) rather than navigation.
export function takesKeys(element) {
  if (!(element instanceof Element)) return false;
  if (element.isContentEditable) return true;
  if (element.tagName === 'TEXTAREA' || element.tagName === 'SELECT') return true;
  return element.tagName === 'INPUT' && !NOT_TYPING.has(element.type);
}

class OperatorPage {
  constructor() {
    this.video = $('video');
    this.overlay = new Overlay($('overlay'));
    this.reader = new SequenceReader();
    this.history = new Map();     // profile -> [centroid messages], oldest first
    this.shown = new Map();       // profile -> the set drawn now
    this.frozen = null;           // sets held in FROZEN when frames carry no sequence
    this.hello = null;
    this.authorised = false;
    this.token = '';
    this.frameSeq = null;
    this.frameSize = [0, 0];
    this.target = null;           // the last target the server accepted (published)
    this.pendingTarget = null;    // the last one asked for (navigation continues from it)
    this.nextId = 1;
    this.pending = new Map();     // id -> {onDone, onRefused}
    this.presentedAt = [];        // performance.now() of frames presented in the last second
    this.lastFrameAt = 0;         // performance.now() of the latest presented frame
    this.frameIntervalMs = 40;    // smoothed time between presented frames
    this.whepSessions = 0;        // WHEP sessions opened (re-negotiated after a failure)
    this.whepSession = null;      // the current session's URL (WHEP Location)
    this.whepUrl = '';
    this.streamLog = [];          // [performance.now(), stream state] of the last changes
    this.fps = 0;
    this.status = {};
    this.streamState = 'starting';
    this.videoShown = false;      // a frame was presented recently
    this.ready = false;
    this.readyAt = null;
    this.mode = null;
    this.refusals = [];
    this.latency = null;          // {frame, ms}: capture -> display of the newest stamped frame
    this.syncLog = [];            // per presented frame: its sequence and the drawn sets' (tests)
    this.keyPreview = new KeyPreview(this.video, () => this.redraw());
    this.parameters = new ParameterPanel($('parameters'), $('undo'),
                                         (message, handlers) => this.send(message, handlers),
                                         (preview) => this.previewKey(preview));
    this.alignment = new AlignmentPanel($('alignment'), $('align'),
                                        (message, handlers) => this.send(message, handlers),
                                        () => this.redraw());
    this.view = new View($('stage'), [this.video, $('placeholder')], () => this.redraw());
    this.overlay.view = this.view;
    this.magnifier = new Magnifier($('magnifier'), this.video);
    this.navigateProfile = '';    // '' : every profile's centroids; else only that profile's
    this.calibration = new CalibrationPanel($('calibration'), $('calibration-summary'), {
      send: (message, handlers) => this.send(message, handlers),
      setMode: (mode, then) => this.setModeThen(mode, then),
      say: (text, kind) => this.say(text, kind),
      redraw: () => this.redraw(),
    });
  }

  start() {
    const hash = new URLSearchParams(location.hash.slice(1));
    this.token = hash.get('token') || sessionStorage.getItem('picam-operator-token') || '';
    if (hash.get('token')) history.replaceState(null, '', location.pathname + location.search);
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.token = $('token-input').value.trim();
      $('token-input').value = '';
      $('token-input').blur();
      this.authenticate();
    });
    this.connect();
    this.bindInput();
    this.showAccess();
    setInterval(() => this.tickStatus(), 500);
  }

  // -- socket -----------------------------------------------------------------------------
  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    ws.onclose = () => {
      this.setState('down', 'the page lost its connection to the operator node; retrying');
      this.authorised = false;
      this.showAccess();
      setTimeout(() => this.connect(), 1000);
    };
  }

  send(message, handlers = {}) {
    const id = this.nextId++;
    this.pending.set(id, handlers);
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.refused({ id, reason: 'not connected to the operator node' });
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
      case 'status':
        this.status = message;
        if (message.mode) this.showMode(message.mode);
        this.alignment.fromStatus(message.alignment);
        this.calibration.showSummary(message.calibration);
        break;
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
    this.say(message.reason, 'error');
    handlers?.onRefused?.(message.reason);
  }

  // One line in the header: 'error' (orange), 'ok' (green) or 'info'.
  say(text, kind = 'info') {
    $('message').textContent = text;
    $('message').dataset.kind = kind;
  }

  // A state change asked for on a page without the token: refused here, in words.
  viewOnly(what) {
    this.refused({ id: null, reason: `view-only: ${what} needs the operator token` });
  }

  onHello(hello) {
    this.hello = hello;
    this.helloAt ??= performance.now();
    this.setState('connecting', '');
    this.buildModes(hello);
    this.parameters.build(hello.parameters);
    this.calibration.build(hello);
    this.buildViewControls(hello);
    this.showAccess();
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
        this.whepUrl = url;
        keepWhep(element, url, {
          onState: (state) => {
            this.streamState = state;
            this.streamLog.push([Math.round(performance.now()), state]);
            if (this.streamLog.length > 50) this.streamLog.shift();
            this.showVideoState();
          },
          lastFrameAt: () => this.lastFrameAt,
          frameIntervalMs: () => this.frameIntervalMs,
          onSession: (count) => { this.whepSessions = count; },
          onSessionUrl: (session) => { this.whepSession = session; },
        });
      } else {
        this.streamState = 'no video configured (whep_url and video_url are empty)';
      }
    } catch (error) {
      this.streamState = `error: ${error.message}`;
      setTimeout(() => { this.videoStarted = false; this.startVideo(video); }, 2000);
    }
    this.showVideoState();
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
    this.measureLatency();
    const shown = [...this.shown.values()];
    this.syncLog.push({
      frame: this.frameSeq,
      presentedMs: this.framePresentedAt,
      sets: shown.map((s) => s.seq),
      byProfile: Object.fromEntries([...this.shown].map(([profile, s]) => [profile, s.seq])),
      // capture (stamp of the frame's own set) to presentation, same host clock
      latencyMs: this.latency?.frame === this.frameSeq && this.frameSeq !== null
        ? this.latency.ms : null,
    });
    if (this.syncLog.length > 500) this.syncLog.shift();
    if (!this.videoShown) { this.videoShown = true; this.showVideoState(); }
    if (!this.ready && this.hello) {
      this.ready = true;
      this.readyAt = performance.now();
      this.tickStatus();
    }
  }

  // Capture -> display of the frame on screen, from the stamp of its own set (its capture
  // time): the video's latency, not the age of a centroid set.
  measureLatency() {
    if (this.frameSeq === null || !this.framePresentedAt) return;
    // A frame shown again (FROZEN holds one) is no new capture: its first showing counts.
    if (this.latency?.frame === this.frameSeq) return;
    for (const profile of this.stampingProfiles()) {
      const set = this.history.get(profile)?.findLast((s) => s.seq === this.frameSeq);
      if (set) {
        this.latency = { frame: this.frameSeq, ms: this.framePresentedAt - set.stamp_ns / 1e6 };
        return;
      }
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
      this.measureLatency();
      this.redraw();
      // The set came after its frame was presented: drawn now, logged with its delay.
      this.syncLog.push({ frame: this.frameSeq, sets: [set.seq], late: true,
                          delayMs: performance.timeOrigin + performance.now() - this.framePresentedAt });
      if (this.syncLog.length > 500) this.syncLog.shift();
    } else if (this.sparse(list)) {
      this.redraw();
    }
  }

  // Profiles whose sets are numbered like the frames of the video in this mode.
  stampingProfiles() {
    const byMode = this.hello?.stamping;
    if (byMode && this.mode && byMode[this.mode]) return [byMode[this.mode]];
    return this.hello?.profiles ?? [...this.history.keys()];
  }

  // Sets come for some frames only (decimated centroids).
  sparse(list) {
    const n = list.length;
    return n >= 2 && list[n - 1].seq !== null && list[n - 2].seq !== null
      && list[n - 1].seq - list[n - 2].seq > 1;
  }

  // The set of each profile that belongs to the frame on screen (see the file's comment).
  setsForFrame() {
    if (this.mode === 'FROZEN' && this.frameSeq === null) {
      this.frozen ??= new Map(this.shown);
      return this.frozen;
    }
    this.frozen = null;
    const sets = new Map();
    const stamping = this.stampingProfiles();
    const seq = this.frameSeq;
    for (const [profile, list] of this.history) {
      const newest = list[list.length - 1];
      let chosen = null;
      if (seq === null || newest?.seq === null || newest?.seq === undefined) {
        chosen = newest ?? null;
      } else if (stamping.includes(profile)) {
        chosen = list.findLast((s) => s.seq === seq) ?? null;
        if (!chosen && this.sparse(list)) chosen = list.findLast((s) => s.seq < seq) ?? null;
      } else {
        const stamp = this.frameStampOrNearest(stamping, seq);
        chosen = stamp === null ? newest : list.findLast((s) => s.stamp_ns / 1e6 <= stamp) ?? null;
      }
      if (chosen) sets.set(profile, chosen);
    }
    return sets;
  }

  // Capture stamp (ms) of frame `seq`, or of the newest earlier frame with a set.
  frameStampOrNearest(stamping, seq) {
    let best = null;
    for (const profile of stamping) {
      const set = this.history.get(profile)?.findLast((s) => s.seq !== null && s.seq <= seq);
      if (set && (best === null || set.seq > best.seq)) best = set;
    }
    return best ? best.stamp_ns / 1e6 : null;
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
    // The residuals sit on the pads: drawn where the video shows the board.
    const residuals = !visible || visible.includes('pads') ? this.alignment.residuals() : null;
    this.overlay.draw(this.shown, width, height, this.frameSeq, this.target, profiles,
                      this.calibration.marks(this.mode), residuals, this.keyMask(width, height));
    this.showPlaceholderSize(width, height);
  }

  // -- key preview (keypreview.js) ---------------------------------------------------------
  previewKey(preview) {
    this.keyPreview.set(preview?.profile ?? '', preview?.gates ?? null);
    this.redraw();
  }

  // The preview mask, when the video shows the previewed profile's camera on its own (on the
  // machine: the leads in ONLYUP, the pads in ONLYDOWN; NORMAL blends the leads into the
  // board); the note under the sliders says what is shown.
  keyMask(width, height) {
    const preview = this.keyPreview;
    const note = $('key-preview');
    if (!preview.gates) { note.textContent = ''; return null; }
    const camera = this.hello?.stamping?.[this.mode];
    const alone = !this.hello?.stamping
      || (camera === preview.profile && (this.mode === 'ONLYUP' || this.mode === 'ONLYDOWN'));
    if (!alone) {
      const view = preview.profile === 'leads' ? 'ONLYUP' : 'ONLYDOWN';
      note.textContent = `key preview: switch to ${view} to see the ${preview.profile} camera `
        + 'alone (this view blends both cameras)';
      return null;
    }
    const mask = preview.render(width, height);
    note.textContent = mask ? `key preview (${preview.profile}): ${mask.selected} of `
      + `${mask.width * mask.height} pixels selected, tinted (from the video as shown, before `
      + 'anything is sent)' : '';
    return mask;
  }

  firstSetSize() {
    for (const set of this.shown.values()) if (set.width) return [set.width, set.height];
    return [0, 0];
  }

  points() {
    return this.overlay.drawn.circles;
  }

  // -- targets and keys -------------------------------------------------------------------
  // The target is drawn and listed once the server has published it, never before.
  selectTarget(x, y, profile = '') {
    if (!this.authorised) { this.viewOnly('selecting a target'); return; }
    const asked = { x, y, profile };
    this.pendingTarget = asked;
    const message = { action: 'select_target', x, y };
    if (profile) message.profile = profile;
    if (this.frameSeq !== null) message.seq = this.frameSeq;
    this.send(message, {
      onDone: (answer) => {
        this.target = asked;
        if (this.pendingTarget === asked) this.pendingTarget = null;
        let text = `${x.toFixed(2)}, ${y.toFixed(2)} px ${profile}`;
        if (answer.mm) text += ` = ${answer.mm[0].toFixed(3)}, ${answer.mm[1].toFixed(3)} mm`;
        $('target').textContent = text;
        this.redraw();
      },
      onRefused: () => { if (this.pendingTarget === asked) this.pendingTarget = null; },
    });
  }

  bindInput() {
    const canvas = $('overlay');
    const stage = $('stage');
    canvas.addEventListener('pointerdown', (event) => this.view.pointerDown(event));
    canvas.addEventListener('pointermove', (event) => this.view.pointerMove(event));
    canvas.addEventListener('pointerup', (event) => this.view.pointerUp(event));
    canvas.addEventListener('mouseleave', () => { this.magnifier.hide(); $('tooltip').hidden = true; });
    canvas.addEventListener('click', (event) => {
      stage.focus();
      if (this.view.dragged) { this.view.dragged = false; return; }   // a pan, not a click
      const rect = canvas.getBoundingClientRect();
      const cx = event.clientX - rect.left;
      const cy = event.clientY - rect.top;
      const geometry = this.overlay.drawn.geometry;
      if (!geometry) return;
      if (this.calibration.click(...geometry.toFrame(cx, cy))) return;
      const hit = this.overlay.hit(cx, cy);
      if (hit) this.selectTarget(hit.x, hit.y, hit.profile);
      else this.selectTarget(...geometry.toFrame(cx, cy));
    });
    canvas.addEventListener('mousemove', (event) => {
      const rect = canvas.getBoundingClientRect();
      const hit = this.overlay.hit(event.clientX - rect.left, event.clientY - rect.top);
      const [width, height] = this.frameSize[0] ? this.frameSize : this.firstSetSize();
      this.magnifier.show(event.clientX - rect.left, event.clientY - rect.top,
                          this.overlay.drawn.geometry, this.overlay.drawn.circles, width, height);
      const tip = $('tooltip');
      if (!hit) { tip.hidden = true; return; }
      const angle = hit.orientation === null ? 'n/a' : `${hit.orientation.toFixed(1)}\u00b0`;
      tip.textContent = `${hit.profile}: (${hit.x.toFixed(2)}, ${hit.y.toFixed(2)}) ` +
        `area ${hit.area} px, orientation ${angle}`;
      tip.style.left = `${hit.cx + hit.radius + 4}px`;
      tip.style.top = `${hit.cy}px`;
      tip.hidden = false;
    });
    // Capture phase: the keys reach navigation before a focused button or slider sees them.
    window.addEventListener('keydown', (event) => {
      if (takesKeys(event.target)) return;
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'z') {
        event.preventDefault();
        if (!this.authorised) this.viewOnly('undo');
        else if (!this.parameters.undo()) this.say('nothing to undo', 'info');
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      this.onKey(event);
    }, { capture: true });
  }

  onKey(event) {
    if (event.key === 'Escape' && this.calibration.cancel()) {
      event.preventDefault();
      return;
    }
    const zoom = { '+': 1.5, '=': 1.5, '-': 1 / 1.5 }[event.key];
    if (zoom || event.key === '0') {
      event.preventDefault();
      if (zoom) this.view.zoomAtCentre(zoom); else this.view.reset();
      return;
    }
    if (event.code === 'BracketLeft' || event.code === 'BracketRight') {
      event.preventDefault();
      const degrees = (event.code === 'BracketLeft' ? -1 : 1) * (event.shiftKey ? 10 : 1);
      if (!this.authorised) { this.viewOnly('rotating'); return; }
      this.send({ action: 'rotate', degrees }, {
        onDone: () => this.say(`rotate ${degrees > 0 ? '+' : ''}${degrees}\u00b0 sent`, 'ok'),
      });
      return;
    }
    const direction = directionOf(event);
    if (!direction) return;
    event.preventDefault();
    const [width, height] = this.frameSize[0] ? this.frameSize : this.firstSetSize();
    const from = this.pendingTarget ?? this.target ?? { x: (width - 1) / 2, y: (height - 1) / 2 };
    if (event.shiftKey) {
      const [dx, dy] = DIRECTIONS[direction];
      const x = Math.min(Math.max(from.x + dx * SHIFT_STEP_PX, 0), Math.max(width - 1, 0));
      const y = Math.min(Math.max(from.y + dy * SHIFT_STEP_PX, 0), Math.max(height - 1, 0));
      this.selectTarget(x, y);
      return;
    }
    const points = this.points().filter((p) => !this.navigateProfile
                                                 || p.profile === this.navigateProfile);
    const next = nearestInArc(points, from, direction);
    if (next) this.selectTarget(next.x, next.y, next.profile);
  }

  // -- modes and calibration --------------------------------------------------------------
  buildModes(hello) {
    const box = $('modes');
    box.replaceChildren();
    for (const mode of hello.modes) {
      const button = document.createElement('button');
      button.textContent = mode;
      button.dataset.mode = mode;
      button.setAttribute('aria-pressed', 'false');
      button.dataset.needs = hello.features.modes ? 'token' : 'modes need the composite node';
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

  // View: zoom readout and reset, the magnifier, and which profile the keys navigate.
  buildViewControls(hello) {
    const box = $('navigate');
    box.replaceChildren();
    for (const profile of ['', ...hello.profiles]) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = profile || 'all';
      button.dataset.profile = profile;
      button.setAttribute('aria-pressed', String(profile === this.navigateProfile));
      button.addEventListener('click', () => {
        this.navigateProfile = profile;
        for (const other of box.children) {
          other.setAttribute('aria-pressed', String(other.dataset.profile === profile));
        }
      });
      box.append(button);
    }
    $('zoom-reset').onclick = () => this.view.reset();
    $('magnifier-toggle').onclick = () => {
      this.magnifier.enabled = !this.magnifier.enabled;
      $('magnifier-toggle').setAttribute('aria-pressed', String(this.magnifier.enabled));
      if (!this.magnifier.enabled) this.magnifier.hide();
    };
  }

  // The calibration panel's way to switch the view a step is clicked in, then go on.
  setModeThen(mode, then = null) {
    if (!this.hello?.features.modes) { then?.(); return; }
    this.send({ action: 'set_mode', mode }, {
      onDone: () => { this.showMode(mode); then?.(); },
    });
  }

  // -- states -----------------------------------------------------------------------------
  setState(state, text) {
    $('state').dataset.state = state;
    $('state').textContent = state;
    if (text) this.say(text, state === 'down' ? 'error' : 'info');
  }

  // Every control that changes state is enabled only with the token (and the feature).
  showAccess() {
    const on = this.authorised;
    const reason = 'view-only: type the operator token (logged by the operator node) to change anything';
    $('access').dataset.authorised = String(on);
    $('access').textContent = on ? 'operator' : 'view-only';
    $('token-form').hidden = on;
    $('view-only').hidden = on;
    $('view-only').textContent = reason;
    document.body.classList.toggle('view-only', !on);
    if (on && /wrong token|view-only/.test($('message').textContent)) this.say('', 'info');
    for (const button of document.querySelectorAll('button[data-needs]')) {
      const needs = button.dataset.needs;
      button.disabled = needs !== 'token' || !on;
      button.title = needs !== 'token' ? needs : on ? '' : reason;
    }
    for (const field of document.querySelectorAll('#calibration input, #calibration select')) {
      field.disabled = !on || !this.hello?.features.calibration;
    }
    this.parameters.setEnabled(on, reason);
    this.alignment.setEnabled(Boolean(this.hello?.features.align), on, reason);
  }

  // The header and the placeholder say whether video is playing and, if not, why in words.
  showVideoState() {
    const words = describeStream(this.streamState, this.whepUrl);
    const placeholder = $('placeholder');
    placeholder.hidden = this.videoShown;
    $('placeholder-text').textContent = `No video: ${words}`;
    if (!this.hello || $('state').dataset.state === 'down') return;
    if (this.videoShown) {
      const frozen = this.mode === 'FROZEN';
      const held = this.frameSeq === null ? '' : ` at frame ${this.frameSeq}`;
      this.setState(frozen ? 'frozen' : 'live', '');
      $('state').textContent = frozen ? `FROZEN: video and markers held${held}` : 'live';
    } else {
      this.setState('no-video', '');
      $('state').textContent = 'no video';
    }
  }

  // The placeholder takes the frame's place, so the markers drawn over it sit where they would.
  showPlaceholderSize(width, height) {
    const frame = $('placeholder-frame');
    const stage = $('stage');
    const [w, h] = width && height ? [width, height] : [4, 3];
    const g = displayGeometry(stage, w, h);
    Object.assign(frame.style, { left: `${g.left}px`, top: `${g.top}px`,
                                 width: `${w * g.scale}px`, height: `${h * g.scale}px` });
  }

  tickStatus() {
    this.fps = this.presentedAt.length;
    const stall = Math.max(STALE_VIDEO_MS, 8 * this.frameIntervalMs);
    const live = this.lastFrameAt > 0 && performance.now() - this.lastFrameAt < stall
      && this.streamState !== 'starting';
    if (this.videoShown && !live && !(this.video.paused && this.streamState === 'file')) {
      this.videoShown = false;
      this.frameSeq = null;      // the frame's stamp is gone with it: newest sets from now
      this.frameSize = [0, 0];
      this.redraw();
    }
    this.showVideoState();
    const quality = this.video.getVideoPlaybackQuality?.();
    const pageDrops = quality ? quality.droppedVideoFrames : 0;
    let blobs = 0;
    let oldest = null;
    for (const set of this.shown.values()) {
      blobs += set.points.length;
      if (set.seq !== null && this.frameSeq !== null && set.seq !== this.frameSeq
          && (oldest === null || set.seq < oldest)) oldest = set.seq;
    }
    $('st-fps').textContent = String(this.fps);
    $('st-drops').textContent = `${this.status.drops ?? 0} / page ${pageDrops}`;
    $('st-blobs').textContent = String(blobs);
    $('st-processing').textContent = this.status.processing_ms?.toFixed?.(2) ?? '-';
    // A stamp from another clock (a recording's, a skewed host) gives no honest number.
    const latency = this.latency && this.latency.ms > -1000 && this.latency.ms < 10000
      ? this.latency : null;
    $('st-latency').textContent = latency ? latency.ms.toFixed(0) : '-';
    $('st-latency-frame').textContent = latency ? `frame ${latency.frame}` : 'no stamped frame';
    $('st-markers').textContent = !this.shown.size ? 'no set' : this.frameSeq === null
      ? 'the newest set (frames carry no number)'
      : oldest === null ? 'this frame' : `frame ${oldest} (${this.frameSeq - oldest} earlier)`;
    $('st-stream').textContent = this.status.stream_state ? `${this.streamState}, ${this.status.stream_state}` : this.streamState;
    $('st-seq').textContent = this.frameSeq === null ? '-' : String(this.frameSeq);
    $('zoom-level').textContent = `${this.view.zoom.toFixed(1)}x`;
  }
}

const page = new OperatorPage();
window.picamOperator = page;
page.start();
