#!/usr/bin/env python3
# Copyright 2026 picam_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Long run of the camera node, the centroid node and the standalone runner: memory slope.

    python bench/soak.py --minutes 60 --centroid-rate 0 --log /tmp/soak.csv

Starts the graph of stream.launch.py without a stream (camera node at 1024x1024@25 from the
synthetic scene with the launch files' FastDDS large-frame profile, centroid node on the
camera's throttled topic, or on image_raw, every frame, with ``--centroid-rate 0``) and, beside
it, the standalone runner (``python -m picam_ros``) on the same scene. Every ``--interval``
seconds it logs, per process, RSS, RssAnon, PSS and Anonymous (``/proc/<pid>/smaps_rollup``),
threads and open descriptors to a CSV (``--log``, flushed per row). At the end it fits a
least-squares line to each memory column over the samples after ``--warmup`` and over the
second half of the run, and prints the slopes in kB/min and MB/h. Goal (issue 14): < 1 MB/h.

``--malloc-stats`` starts each process through a small wrapper (this file, ``--probe``) that
adds glibc's ``mallinfo2()`` (arena bytes, in use, free in arenas, mmapped) and the Python
heap (``tracemalloc``, which costs CPU: the centroid node then may not keep up with 25 Hz) to
every row, and writes a ``tracemalloc`` snapshot diff (top allocation sites, warm-up -> end) to
``<log>.<name>.tracemalloc.txt``. ``--env KEY=VALUE`` (repeatable) sets e.g.
``MALLOC_ARENA_MAX=2`` for all processes. The nodes get their own ROS_DOMAIN_ID.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import importlib.util
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

REPO = Path(__file__).resolve().parent.parent
DDS_PROFILE = REPO / 'config' / 'fastdds_large_frames.xml'
MEMORY = ('rss_kB', 'rss_anon_kB', 'rss_file_kB', 'rss_shmem_kB', 'pss_kB', 'anon_kB')
MALLOC = ('malloc_arena_kB', 'malloc_used_kB', 'malloc_free_kB', 'malloc_mmap_kB', 'py_heap_kB')
COLUMNS = ('t_s', 'name', 'pid', *MEMORY, 'threads', 'fds', *MALLOC)


def _fields(path: str) -> dict[str, str]:
    with open(path) as f:
        return dict(line.split(':', 1) for line in f if ':' in line)


def proc_sample(pid: int) -> dict[str, int] | None:
    """Memory (kB), threads and open descriptors of ``pid`` from /proc (None when it is gone)."""
    try:
        status = _fields(f'/proc/{pid}/status')
        rollup = _fields(f'/proc/{pid}/smaps_rollup')
        fds = len(os.listdir(f'/proc/{pid}/fd'))
    except (OSError, ValueError):
        return None

    def kb(fields: dict[str, str], key: str) -> int:
        return int(fields.get(key, '0 kB').split()[0])

    return {'rss_kB': kb(status, 'VmRSS'), 'rss_anon_kB': kb(status, 'RssAnon'),
            'rss_file_kB': kb(status, 'RssFile'), 'rss_shmem_kB': kb(status, 'RssShmem'),
            'pss_kB': kb(rollup, 'Pss'), 'anon_kB': kb(rollup, 'Anonymous'),
            'threads': kb(status, 'Threads'), 'fds': fds}


def slope_per_minute(times: list[float], values: list[float]) -> float:
    """Least-squares slope of ``values`` over ``times`` (seconds), per minute."""
    n = len(times)
    if n < 2:
        return 0.0
    mean_t, mean_v = sum(times) / n, sum(values) / n
    var = sum((t - mean_t) ** 2 for t in times)
    if var == 0:
        return 0.0
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values)) / var


# -- in-process probe (--malloc-stats) --------------------------------------------------------
class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks',
        'fordblks', 'keepcost')]


def _probe_loop(out: Path, interval: float, warmup: float) -> None:
    import tracemalloc
    own = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__))
    next_diff = 0.0
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    start = time.monotonic()
    first = None
    while True:
        info = libc.mallinfo2()
        heap = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        row = (info.arena // 1024, info.uordblks // 1024, info.fordblks // 1024,
               info.hblkhd // 1024, heap // 1024)
        tmp = out.with_suffix('.tmp')
        tmp.write_text(','.join(map(str, row)))
        tmp.replace(out)
        if tracemalloc.is_tracing():
            now = time.monotonic() - start
            if first is None and now >= warmup:
                first = tracemalloc.take_snapshot().filter_traces(own)
                next_diff = now + 300.0
            elif first is not None and now >= next_diff:   # snapshots cost: every 5 min
                next_diff = now + 300.0
                diff = tracemalloc.take_snapshot().filter_traces(own).compare_to(first, 'lineno')
                text = '\n'.join(str(stat) for stat in diff[:25])
                out.with_suffix('.tracemalloc.txt').write_text(text + '\n')
        time.sleep(interval)


def probe(argv: list[str]) -> int:
    """``--probe MODULE ARGS...``: run MODULE's main (as ``-m``) with a mallinfo2 thread."""
    import runpy
    out = Path(os.environ['PICAM_SOAK_PROBE'])
    interval = float(os.environ.get('PICAM_SOAK_INTERVAL', '10'))
    warmup = float(os.environ.get('PICAM_SOAK_WARMUP', '120'))
    if os.environ.get('PICAM_SOAK_TRACEMALLOC') == '1':
        import tracemalloc
        tracemalloc.start(1)
    threading.Thread(target=_probe_loop, args=(out, interval, warmup), daemon=True).start()
    module, sys.argv = argv[0], argv
    runpy.run_module(module, run_name='__main__', alter_sys=True)
    return 0


def _read_probe(path: Path) -> dict[str, int]:
    try:
        values = path.read_text().split(',')
    except OSError:
        return {}
    return dict(zip(MALLOC, map(int, values))) if len(values) == len(MALLOC) else {}


# -- the run -----------------------------------------------------------------------------------
def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    size = ['-p', f'width:={args.width}', '-p', f'height:={args.height}', '-p', 'fps:=25.0']
    topic = '/camera/image_raw' if args.centroid_rate == 0 else '/camera/image_throttled'
    found = {
        'runner': ['picam_ros', '--source', 'synthetic', '--stream', 'off',
                   '--width', str(args.width), '--height', str(args.height),
                   '--status-interval', '0'],
    }
    if importlib.util.find_spec('rclpy') is not None:
        found['camera'] = [
            'picam_ros.ros.camera_node', '--ros-args', *size,
            '-p', 'stream.enabled:=false', '-p', f'throttle_rate_hz:={args.centroid_rate}']
        found['centroid'] = ['picam_ros.ros.centroid_node', '--ros-args', '-r', f'image:={topic}']
    return found


def fit_report(rows: list[dict[str, float]], since: float, label: str) -> str:
    fitted = [row for row in rows if row['t_s'] >= since] or rows
    times = [row['t_s'] for row in fitted]
    parts = []
    for column in ('rss_kB', 'anon_kB', 'rss_shmem_kB', *(c for c in MALLOC if c in fitted[0])):
        slope = slope_per_minute(times, [row[column] for row in fitted])
        parts.append(f'{column[:-3]} {slope:+7.2f} kB/min ({slope * 60 / 1024:+.2f} MB/h)')
    return f'    {label} (t >= {since / 60:.1f} min, {len(fitted)} samples): ' + ', '.join(parts)


def floor_report(rows: list[dict[str, float]], since: float, window_s: float = 300.0) -> str:
    """Slope of the lowest RSS in each ``window_s``: what a leak raises and a moment does not.

    One sample can catch a few extra frames alive (a frame is 1.5 MB at 1024x1024); a leak
    lifts every sample, so it lifts the floor of every window too.
    """
    fitted = [row for row in rows if row['t_s'] >= since]
    if not fitted:
        return '    floor: no samples after the warm-up'
    windows: dict[int, list[dict[str, float]]] = {}
    for row in fitted:
        windows.setdefault(int((row['t_s'] - since) // window_s), []).append(row)
    floors = [min(w, key=lambda row: row['rss_kB']) for w in windows.values() if len(w) > 1]
    if len(floors) < 2:
        return '    floor: fewer than two windows after the warm-up'
    slope = slope_per_minute([row['t_s'] for row in floors], [row['rss_kB'] for row in floors])
    return (f'    floor (lowest RSS of each {window_s / 60:g} min, {len(floors)} windows): '
            f'{floors[0]["rss_kB"]} -> {floors[-1]["rss_kB"]} kB, rss {slope:+7.2f} kB/min '
            f'({slope * 60 / 1024:+.2f} MB/h)')


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == '--probe':
        return probe(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--minutes', type=float, default=60.0)
    parser.add_argument('--warmup', type=float, default=120.0, help='seconds not fitted')
    parser.add_argument('--interval', type=float, default=10.0, help='seconds between samples')
    parser.add_argument('--print-every', type=float, default=60.0, help='seconds between lines')
    parser.add_argument('--width', type=int, default=1024)
    parser.add_argument('--height', type=int, default=1024)
    parser.add_argument('--centroid-rate', type=float, default=5.0,
                        help='throttled topic rate the centroid node takes (0: image_raw)')
    parser.add_argument('--only', default='',
                        help='comma-separated subset: camera,centroid,runner')
    parser.add_argument('--log', default='',
                        help='CSV of every sample (default /tmp/soak-<pid>.csv)')
    parser.add_argument('--env', action='append', default=[], metavar='KEY=VALUE',
                        help='environment for all processes, e.g. MALLOC_ARENA_MAX=2')
    parser.add_argument('--no-dds-profile', action='store_true',
                        help='camera node without the large-frame FastDDS profile (frames over '
                             'fragmented UDP, most lost at 1024x1024)')
    parser.add_argument('--malloc-stats', action='store_true',
                        help='add mallinfo2() per process (in-process wrapper)')
    parser.add_argument('--tracemalloc', action='store_true',
                        help='with --malloc-stats: trace the Python heap, diff warm-up -> end')
    args = parser.parse_args()
    # Stop the same way on Ctrl-C and on SIGTERM, also when started in the background (where
    # a shell leaves SIGINT ignored): the nodes are stopped with SIGINT, none outlives us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    log = Path(args.log or f'/tmp/soak-{os.getpid()}.csv')
    env = dict(os.environ, ROS_DOMAIN_ID=str(160 + os.getpid() % 60), PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO), env.get('PYTHONPATH')]))
    env.update(item.split('=', 1) for item in args.env)
    wanted = commands(args)
    if args.only:
        wanted = {name: argv for name, argv in wanted.items() if name in args.only.split(',')}
    processes: dict[str, subprocess.Popen] = {}
    probes: dict[str, Path] = {}
    for name, argv in wanted.items():
        penv = dict(env)
        if name == 'camera' and not args.no_dds_profile and not (
                'FASTRTPS_DEFAULT_PROFILES_FILE' in env or 'FASTDDS_DEFAULT_PROFILES_FILE' in env):
            penv['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(DDS_PROFILE)   # as the launch files do
        if args.malloc_stats:
            probes[name] = log.with_name(f'{log.name}.{name}.probe')
            penv.update(PICAM_SOAK_PROBE=str(probes[name]), PICAM_SOAK_INTERVAL=str(args.interval),
                        PICAM_SOAK_WARMUP=str(args.warmup),
                        PICAM_SOAK_TRACEMALLOC='1' if args.tracemalloc else '0')
            command = [sys.executable, str(Path(__file__).resolve()), '--probe', *argv]
        else:
            command = [sys.executable, '-m', *argv]
        processes[name] = subprocess.Popen(command, env=penv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in processes}
    print(f'soak: logging every {args.interval:g} s to {log}; pids ' + ', '.join(
        f'{name} {p.pid}' for name, p in processes.items()), flush=True)
    start = time.monotonic()
    end = start + 60.0 * args.minutes
    next_print = 0.0
    status = 0
    try:
        with open(log, 'w', newline='') as f:
            writer = csv.DictWriter(f, COLUMNS, extrasaction='ignore')
            writer.writeheader()
            while time.monotonic() < end:
                now = time.monotonic() - start
                for name, process in processes.items():
                    sample = proc_sample(process.pid)
                    if sample is None or process.poll() is not None:
                        print(f'{name} ended early (status {process.poll()})', file=sys.stderr)
                        status = 1
                        raise StopIteration
                    row = {'t_s': round(now, 1), 'name': name, 'pid': process.pid, **sample}
                    if name in probes:
                        row.update(_read_probe(probes[name]))
                    samples[name].append(row)
                    writer.writerow(row)
                f.flush()
                if now >= next_print:
                    next_print += args.print_every
                    print(f't={now / 60:5.1f} min ' + ', '.join(
                        f'{name} {s[-1]["rss_kB"]} kB' for name, s in samples.items()),
                        flush=True)
                time.sleep(max(0.0, start + now + args.interval - time.monotonic()))
    except (StopIteration, KeyboardInterrupt):
        pass
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    elapsed = time.monotonic() - start
    print(f'soak: {elapsed / 60:.1f} min, {args.width}x{args.height}@25, centroid node at '
          f'{"every frame" if args.centroid_rate == 0 else f"{args.centroid_rate:g} Hz"}'
          f'{", no DDS profile" if args.no_dds_profile else ""}'
          f'{", env " + " ".join(args.env) if args.env else ""}; samples in {log}')
    for name, rows in samples.items():
        if not rows:
            continue
        print(f'  {name:9s} RSS {rows[0]["rss_kB"]} -> {rows[-1]["rss_kB"]} kB '
              f'(max {max(r["rss_kB"] for r in rows)}), threads {rows[0]["threads"]} -> '
              f'{rows[-1]["threads"]}, fds {rows[0]["fds"]} -> {rows[-1]["fds"]}')
        print(fit_report(rows, args.warmup, 'after warm-up'))
        print(fit_report(rows, max(args.warmup, elapsed / 2), 'second half '))
        print(floor_report(rows, args.warmup))
    return status


if __name__ == '__main__':
    sys.exit(main())
