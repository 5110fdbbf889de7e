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
// The original HUD's keyboard rule, as a pure function of the points.

export const DIRECTIONS = {
  up: [0, -1], down: [0, 1], left: [-1, 0], right: [1, 0],
};

const KEYS = {
  ArrowUp: 'up', w: 'up', k: 'up',
  ArrowDown: 'down', s: 'down', j: 'down',
  ArrowLeft: 'left', a: 'left', h: 'left',
  ArrowRight: 'right', d: 'right', l: 'right',
};

// Direction named by a key event (WASD, HJKL, arrows; any case, so Shift+W works), or null.
export function directionOf(event) {
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  return KEYS[key] ?? null;
}

// The nearest point within the 90-degree arc centred on `direction` seen from `from`
// (angle to the direction at most 45 degrees; the point itself excluded); null when none.
// Points are {x, y} in frame pixels (y down). Ties keep the first point.
export function nearestInArc(points, from, direction) {
  const [dx, dy] = DIRECTIONS[direction];
  let best = null;
  let bestDistance = Infinity;
  for (const point of points) {
    const vx = point.x - from.x;
    const vy = point.y - from.y;
    const along = vx * dx + vy * dy;
    const across = Math.abs(vx * dy - vy * dx);
    if (along <= 0 || across > along) continue;
    const distance = Math.hypot(vx, vy);
    if (distance < bestDistance) {
      best = point;
      bestDistance = distance;
    }
  }
  return best;
}
