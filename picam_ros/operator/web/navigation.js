// Copyright 2026 picam_ros maintainers. Licensed under the Apache License, Version 2.0.
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
