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
// The alignment panel: the machine's verdict on the part on the nozzle, from the Align button
// (the machine's align service, on frames captured after the press) or, between presses, from
// the machine's continuous alignment on /diagnostics. Keys are the server's (bridge.py):
// verdict, dx_mm, dy_mm, theta_deg, rms_um, max_residual_um, matched, expected,
// max_residual_limit_um and residuals ([pad_x_px, pad_y_px, ex_um, ey_um] per matched lead,
// the pad in board pixels); any may be missing (a machine without the verdict reports no
// verdict, and the panel says so). The residuals are drawn on the video by overlay.js.

// Residual lines: screen px per micrometre, the largest of these that draws the verdict's
// tolerance no longer than RESIDUAL_TOLERANCE_PX (50 um: 2 px per um, a 3 um residual is 6 px).
const RESIDUAL_SCALES = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20];
const RESIDUAL_TOLERANCE_PX = 100;

export function residualScale(limitUm) {
  if (!(limitUm > 0)) return 1;
  return RESIDUAL_SCALES.filter((k) => k * limitUm <= RESIDUAL_TOLERANCE_PX).pop()
    ?? RESIDUAL_SCALES[0];
}

const ROWS = [
  ['dx_mm', 'dx', 'mm', 3], ['dy_mm', 'dy', 'mm', 3], ['theta_deg', 'theta', '\u00b0', 3],
  ['rms_um', 'residual RMS', '\u00b5m', 1], ['max_residual_um', 'worst residual', '\u00b5m', 1],
];

export class AlignmentPanel {
  // send(message, {onDone, onRefused}) is the page's request to the server.
  // onChange() is called when the result (and so the residual lines) changes.
  constructor(box, button, send, onChange = () => {}) {
    this.onChange = onChange;
    this.box = box;
    this.button = button;
    this.send = send;
    this.result = null;          // {values, source, at, error}
    this.busy = false;
    this.available = false;
    this.enabled = false;
    button.addEventListener('click', () => this.align());
    this.render();
  }

  setEnabled(available, enabled, reason) {
    this.available = available;
    this.enabled = enabled;
    this.button.disabled = !available || !enabled || this.busy;
    this.button.title = !available ? 'alignment needs the machine node' : enabled ? '' : reason;
  }

  align() {
    if (!this.available || !this.enabled || this.busy) return;
    this.busy = true;
    this.button.disabled = true;
    this.button.textContent = 'aligning\u2026';
    this.send({ action: 'align' }, {
      onDone: (answer) => this.finish({ values: answer.alignment ?? {}, source: 'Align' }),
      onRefused: (why) => this.finish({ values: {}, source: 'Align', error: why }),
    });
  }

  finish(result) {
    this.busy = false;
    this.button.textContent = 'Align';
    this.setEnabled(this.available, this.enabled, this.button.title);
    this.result = { ...result, at: new Date() };
    this.render();
    this.onChange();
  }

  // The machine's continuous alignment (status pushes); a pressed Align result stays 10 s.
  fromStatus(alignment) {
    if (!alignment) return;
    const pressed = this.result?.source === 'Align' && new Date() - this.result.at < 10000;
    if (pressed || this.busy) return;
    this.result = { values: alignment.values ?? {}, source: 'live', at: new Date(),
                    error: alignment.error || '' };
    this.render();
    this.onChange();
  }

  // What the overlay draws: a line per matched lead, or null when the result has none.
  residuals() {
    const values = this.result?.values;
    if (!values || this.result.error || !Array.isArray(values.residuals)) return null;
    const limitUm = typeof values.max_residual_limit_um === 'number'
      ? values.max_residual_limit_um : null;
    return { lines: values.residuals, limitUm, pxPerUm: residualScale(limitUm) };
  }

  render() {
    const result = this.result;
    this.box.replaceChildren();
    const verdict = document.createElement('div');
    verdict.className = 'verdict';
    const values = result?.values ?? {};
    const word = values.verdict ? String(values.verdict).toUpperCase() : '';
    verdict.dataset.verdict = result?.error ? 'ERROR' : word || 'NONE';
    verdict.textContent = result?.error ? 'no alignment' : word || (result ? 'no verdict' : '\u2014');
    this.box.append(verdict);
    if (!result) {
      this.box.append(line('press Align with a part on the nozzle'));
      return;
    }
    if (result.error) {
      const why = line(result.error);
      why.className = 'reason';
      this.box.append(why);
    }
    if (!word && !result.error) {
      this.box.append(line('this machine reports no PASS/FAIL verdict; the fit:'));
    }
    const table = document.createElement('table');
    for (const [key, label, unit, digits] of ROWS) {
      if (typeof values[key] !== 'number') continue;
      const row = table.insertRow();
      row.dataset.key = key;
      row.insertCell().textContent = label;
      row.insertCell().textContent = `${values[key].toFixed(digits)} ${unit}`;
    }
    if (values.matched !== undefined) {
      const row = table.insertRow();
      row.dataset.key = 'matched';
      row.insertCell().textContent = 'leads matched';
      row.insertCell().textContent = values.expected !== undefined
        ? `${values.matched} of ${values.expected}` : String(values.matched);
    }
    if (table.rows.length) this.box.append(table);
    const residuals = this.residuals();
    if (residuals) {
      const legend = line(`on the video: a line per matched lead, from the lead as corrected to `
        + `its pad, drawn 1 \u00b5m = ${residuals.pxPerUm} screen px; `
        + (residuals.limitUm === null ? ''
          : `green within ${residuals.limitUm} \u00b5m, magenta beyond`));
      legend.className = 'note residual-legend';
      this.box.append(legend);
    } else if (values.residuals_missing) {
      this.box.append(line(`no residual lines: ${values.residuals_missing}`));
    }
    const when = result.at.toLocaleTimeString();
    this.box.append(line(result.source === 'Align' ? `Align pressed at ${when}`
      : `live (the machine's own alignment), ${when}`));
  }
}

function line(text) {
  const element = document.createElement('div');
  element.className = 'note';
  element.textContent = text;
  return element;
}
