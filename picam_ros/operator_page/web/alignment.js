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
// verdict, dx_mm, dy_mm, theta_deg, rms_um, max_residual_um, matched, expected; any may be
// missing (a machine without the verdict reports no verdict, and the panel says so).

const ROWS = [
  ['dx_mm', 'dx', 'mm', 3], ['dy_mm', 'dy', 'mm', 3], ['theta_deg', 'theta', '\u00b0', 3],
  ['rms_um', 'residual RMS', '\u00b5m', 1], ['max_residual_um', 'worst residual', '\u00b5m', 1],
];

export class AlignmentPanel {
  // send(message, {onDone, onRefused}) is the page's request to the server.
  constructor(box, button, send) {
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
  }

  // The machine's continuous alignment (status pushes); a pressed Align result stays 10 s.
  fromStatus(alignment) {
    if (!alignment) return;
    const pressed = this.result?.source === 'Align' && new Date() - this.result.at < 10000;
    if (pressed || this.busy) return;
    this.result = { values: alignment.values ?? {}, source: 'live', at: new Date(),
                    error: alignment.error || '' };
    this.render();
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
