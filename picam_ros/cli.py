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

"""The standalone runner: ``picam-ros`` / ``python -m picam_ros``, the same core without ROS.

Source -> centroids (+ the live stream when a media server is available), with a status line,
optional JSON lines of centroids and a PNG snapshot with the centroids drawn. Its flags are
generated from the same parameter rows the ROS nodes declare, so names, defaults and ranges
cannot drift between the two.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
import logging
import os
import socket
import sys
import threading
import time
from typing import Any, NoReturn, TextIO

import numpy as np

from picam_ros.camera.runtime import RuntimeStats, StreamState
from picam_ros.camera.settings import (
    build_runtime,
    camera_parameter_rows,
    CameraSettings,
    viewer_urls,
)
from picam_ros.centroids.pipeline import CentroidPipeline
from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.core.config import ConfigError
from picam_ros.core.frames import Frame
from picam_ros.core.latest_mailbox import LatestMailbox
from picam_ros.core.pacing import DECIMATION_ROWS, DecimationConfig
from picam_ros.core.params import flag_for, ParamRow
from picam_ros.core.png import write_png
from picam_ros.core.stop_request import EXIT_STOPPED, StopRequest
from picam_ros.entry_points import run_as_main
from picam_ros.sources import SourceError, sources_using
from picam_ros.stream.encoder import StreamError
from picam_ros.stream.mediamtx import find_mediamtx, MediaServerUnavailable

_PROFILE = 'pads'
#: A gap between frames longer than this is shown on the status line as a stall.
_STALL_SHOWN_S = 1.0
_KINDS = {'integer': int, 'double': float, 'string': str}
_METAVARS = {'integer': 'N', 'double': 'X', 'string': 'TEXT'}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: the flag and the problem, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f'{self.prog}: error: {message}\n')


def _shown(row: ParamRow) -> str:
    value = row.default
    if row.unset is not None and value == row.unset:
        return 'not set'
    if isinstance(value, bool):
        return 'on' if value else 'off'
    if isinstance(value, list):
        return ' '.join(map(str, value)) or 'none'
    return repr(value) if value == '' else str(value)


def _add_row(group: argparse._ArgumentGroup, row: ParamRow) -> None:
    """One command-line flag for one parameter row (default, range and choices from the row)."""
    help_text = row.description or row.name
    if not row.choices and (row.minimum is not None or row.maximum is not None) and (
            not row.kind.endswith('_array')):
        help_text += f' [{row.minimum if row.minimum is not None else ""}..' \
                     f'{row.maximum if row.maximum is not None else ""}]'
    help_text += f' (default: {_shown(row)})'
    optional = row.unset is not None
    kwargs: dict[str, Any] = {'dest': row.name, 'default': None if optional else row.default,
                              'help': help_text.replace('%', '%%')}
    if row.kind == 'bool':
        kwargs['action'] = argparse.BooleanOptionalAction
    elif row.kind == 'integer_array':
        kwargs.update(type=int, nargs='+', metavar='N')
    elif row.kind == 'string_array':
        kwargs.update(nargs='*', metavar='S')
    else:
        kwargs['type'] = _KINDS[row.kind]
        if row.choices:
            kwargs['choices'] = row.choices
        else:
            kwargs['metavar'] = _METAVARS[row.kind]
    group.add_argument(row.flag, **kwargs)


def _rows() -> tuple[tuple[ParamRow, ...], tuple[ParamRow, ...], tuple[ParamRow, ...]]:
    camera = tuple(row for row in camera_parameter_rows() if row.flag)
    keying = KeyingProfiles([_PROFILE]).all_rows()
    return camera, keying, DECIMATION_ROWS


def _ros_values(args: argparse.Namespace, rows: tuple[ParamRow, ...]) -> dict[str, Any]:
    """Parameter values from parsed flags (a flag left unset gives the row's "not set" value)."""
    values = {}
    for row in rows:
        value = getattr(args, row.name)
        values[row.name] = row.unset if value is None and row.unset is not None else value
    return values


def _flag_names() -> dict[str, str]:
    """Parameter name -> the flag a user of this runner types for it."""
    return {row.name: row.flag for rows in _rows() for row in rows}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog='picam-ros',
        description='Run the picam_ros camera, centroid engine and live stream without ROS. '
                    'With no options: the built-in synthetic PCB scene at 1024x1024@25.')
    camera_rows, keying_rows, decimation_rows = _rows()
    source = parser.add_argument_group('source')
    stream = parser.add_argument_group('live stream (ffmpeg -> MediaMTX -> browser)')
    stream.add_argument('--stream', choices=('auto', 'on', 'off'), default='auto',
                        help='auto: stream when a mediamtx binary is found (or '
                             '--stream-external-server is given); on: stream, reporting why if '
                             'it cannot; off: no stream (default: auto)')
    for row in camera_rows:
        _add_row(stream if row.name.startswith('stream.') else source, row)
    keying = parser.add_argument_group('keying (one profile; see the centroid node for several)')
    for row in keying_rows:
        _add_row(keying, row)
    decimation = parser.add_argument_group('decimation of centroid processing')
    for row in decimation_rows:
        _add_row(decimation, row)
    out = parser.add_argument_group('output')
    out.add_argument('--duration', type=float, default=0.0, metavar='S',
                     help='stop after this many seconds (default: 0, run until Ctrl-C)')
    out.add_argument('--frames', type=int, default=0, metavar='N',
                     help='stop after this many processed frames (default: 0, no limit)')
    out.add_argument('--json', action='store_true',
                     help='print one JSON line of centroids per processed frame on stdout')
    out.add_argument('--snapshot', metavar='PNG',
                     help='on exit, save the last processed frame with the key tinted and a '
                          'cross on each centroid')
    out.add_argument('--status-interval', type=float, default=1.0, metavar='S',
                     help='seconds between status lines on stderr (default: 1; 0: no status '
                          'lines)')
    out.add_argument('--log-level', default='warning',
                     choices=('debug', 'info', 'warning', 'error'),
                     help='log level of the core (process supervision, stream) (default: '
                          'warning)')
    return parser


def centroid_record(frame: Frame, blobs: np.ndarray, dropped: int) -> dict[str, Any]:
    """One JSON-able record per processed frame (the CLI's ``--json`` line)."""
    return {
        'sequence': frame.sequence,
        'stamp_ns': frame.stamp_ns,
        'dropped': int(dropped),
        'centroids': [
            {'x': round(float(b['x']), 3), 'y': round(float(b['y']), 3), 'area': int(b['area']),
             'bbox': [int(b['bbox_x']), int(b['bbox_y']), int(b['bbox_w']), int(b['bbox_h'])],
             'touches_border': bool(b['touches_border'])}
            for b in blobs],
    }


def status_line(stats: RuntimeStats, processed: int, blobs: int, ms: float) -> str:
    """Return the status line: counters, the stream's state, the source's, as they are now.

    A source error is shown only while it is the current trouble: it happened after the last
    frame arrived. A stall that has not produced an error yet shows how long it lasts, not the
    error of a past incident (the restart count keeps those).
    """
    state = stats.stream_state
    stream = state.value
    if state is StreamState.RUNNING and not stats.stream_connected:
        stream = 'connecting'   # the encoder runs but has no session with the server (yet)
    if state is not StreamState.DISABLED:
        stream += f' sent={stats.stream_sent} dropped={stats.stream_dropped}'
        if stats.stream_restarts:
            stream += f' restarts={stats.stream_restarts}'
    line = (f'fps={stats.fps:5.1f} frames={stats.frames} drops={stats.drops} '
            f'restarts={stats.source_restarts} processed={processed} centroids={blobs} '
            f'engine={ms:.2f}ms stream={stream}')
    age, error_age = stats.last_frame_age, stats.source_error_age
    # A capture failure is the runner's final error line: not said twice.
    current = (stats.source_error and not stats.capture_error and error_age is not None
               and (age is None or error_age < age))
    if current:
        line += f' last_error={stats.source_error.splitlines()[0][:80]!r}'
    elif age is not None and age > _STALL_SHOWN_S:
        line += f' no_frame_for={age:.1f}s'
    return line


def _stream_mode(args: argparse.Namespace) -> bool:
    if args.stream != 'auto':
        return args.stream == 'on'
    if args.__dict__['stream.external_server']:
        return True
    return find_mediamtx(_configured_mediamtx(args))[0] is not None


def _configured_mediamtx(args: argparse.Namespace) -> str | None:
    return args.__dict__['stream.mediamtx_path'] or os.environ.get('MEDIAMTX') or None


def settings_from_args(args: argparse.Namespace) -> tuple[CameraSettings, dict, DecimationConfig]:
    """Build validated configs from parsed flags (ValueError names the parameter)."""
    camera_rows, keying_rows, decimation_rows = _rows()
    flags = _flag_names()
    values = _ros_values(args, camera_rows)
    values['stream.enabled'] = _stream_mode(args)
    keying_values = _ros_values(args, keying_rows)
    for row in camera_rows + keying_rows:
        check = row.check(values.get(row.name, keying_values.get(row.name)))
        if not check.ok:
            raise ConfigError(row.flag, check.reason.split(': ', 1)[1])
    try:
        settings = CameraSettings.from_parameters(values)
        keying = KeyingProfiles([_PROFILE]).build(keying_values)
        decimation = DecimationConfig(**{row.field: getattr(args, row.name)
                                         for row in decimation_rows})
    except ConfigError as error:
        raise error.renamed(lambda name: flags.get(name, flag_for(name))) from None
    for name in settings.source.ignored():
        users = ' and '.join(sources_using(name))
        raise ConfigError(flags.get(name, flag_for(name)),
                          f'applies to the {users} source only, and the source is '
                          f'{settings.source.source} (--source)')
    _check_output_path(args.snapshot, '--snapshot')
    return settings, keying, decimation


def _check_output_path(path: str | None, flag: str) -> None:
    """Refuse an output file that cannot be written, before the run rather than after it."""
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConfigError(flag, f'{path} is a directory; name a file in it')
    if not os.path.isdir(folder):
        raise ConfigError(flag, f'{path}: the folder {folder} does not exist')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(flag, f'{path}: the folder {folder} is not writable')


class _LogFormat(logging.Formatter):
    """The core's log records in the runner's own form: ``[warning] message``."""

    def format(self, record: logging.LogRecord) -> str:
        return f'[{record.levelname.lower()}] {record.getMessage()}'


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _StderrLog:
    """The runtime's log, printed on stderr so stdout stays machine-readable (``--json``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def info(self, message: str) -> None:
        print(f'[info] {message}', file=self._stream, flush=True)

    def warning(self, message: str) -> None:
        print(f'[warning] {message}', file=self._stream, flush=True)

    def error(self, message: str) -> None:
        print(f'[error] {message}', file=self._stream, flush=True)


def run(args: argparse.Namespace, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr,
        stop: StopRequest | threading.Event | None = None) -> int:
    """Run until ``--duration``/``--frames`` is reached, ``stop`` is set, or capture fails.

    A stop asked for (``stop`` set from outside: Ctrl-C, SIGTERM) ends the run cleanly with
    ``EXIT_STOPPED`` at whatever moment it comes, the first frame not yet processed included.
    """
    stop = stop if stop is not None else threading.Event()
    settings, keying, decimation = settings_from_args(args)
    log = _StderrLog(stderr)
    pipeline = CentroidPipeline(KeyingProfiles([_PROFILE]), keying, decimation)
    failure: list[str] = []

    def capture_failed(message: str) -> None:
        failure.append(message)
        mailbox.close()

    def on_frame(frame: Frame) -> None:
        if pipeline.accept():   # the source's frame is only lent: keep a copy of our own
            slot = mailbox.free_slot()
            frame.copy_into(mailbox.pool[slot])
            mailbox.publish(slot)

    runtime = build_runtime(settings.source_config(), stream=settings.stream,
                            server=settings.server, log=log, on_capture_error=capture_failed)
    mailbox = LatestMailbox([Frame(runtime.format) for _ in range(3)])
    runtime.add_sink(on_frame, 'centroids')
    urls = (viewer_urls(_host_name(), settings.stream, settings.server)
            if settings.stream is not None else [])
    if args.stream == 'auto' and settings.stream is None:
        looked = find_mediamtx(_configured_mediamtx(args))[1]
        log.info(f'no mediamtx binary found (looked {" and ".join(looked)}; give one '
                 f'with $MEDIAMTX or --stream-mediamtx-path): running without the live stream')

    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    next_status = time.monotonic() + args.status_interval
    next_check = time.monotonic()
    processed, last_blobs, last_ms = 0, 0, 0.0
    last_frame: Frame | None = None
    last_result = None
    try:
        if not stop.is_set():
            runtime.start()
        while not stop.is_set() and not failure:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - now))
            frame = mailbox.take(wait)
            if frame is not None:
                started = time.perf_counter()
                planes = frame.planes()
                (result,) = pipeline.process(planes)
                last_ms = (time.perf_counter() - started) * 1e3
                processed += 1
                last_blobs = int(result.blobs.shape[0])
                if args.json:
                    print(json.dumps(centroid_record(frame, result.blobs, result.dropped)),
                          file=stdout, flush=True)
                last_frame, last_result = frame, result
                if args.frames and processed >= args.frames:
                    break
            if deadline is not None and time.monotonic() >= deadline:
                break   # a status line due now is the final one, printed once below
            if urls and time.monotonic() >= next_check:
                # Announce the viewer pages once the stream really is up, not before.
                next_check = time.monotonic() + 0.5
                if runtime.stats().stream_connected:
                    for url in urls:
                        log.info(f'live stream: {url}')
                    urls = []
            if args.status_interval > 0 and time.monotonic() >= next_status:
                next_status = time.monotonic() + args.status_interval
                print(status_line(runtime.stats(), processed, last_blobs, last_ms),
                      file=stderr, flush=True)
    finally:
        runtime.stop()
    if args.status_interval > 0:
        print(status_line(runtime.stats(), processed, last_blobs, last_ms), file=stderr,
              flush=True)
    if failure:
        log.error(failure[0])
        return 1
    if args.snapshot and last_frame is not None and last_result is not None:
        image = pipeline.debug_image(_PROFILE, last_frame.planes(), last_result.blobs)
        try:
            write_png(args.snapshot, image)
        except OSError as error:
            log.error(f'cannot write the snapshot {args.snapshot}: {error.strerror or error}')
            return 1
        log.info(f'snapshot with {last_blobs} centroids written to {args.snapshot}')
    elif args.snapshot:
        how = 'stopped' if stop.is_set() else 'ended'
        log.warning(f'{how} before the first frame: no snapshot written to {args.snapshot}')
    if stop.is_set():
        return EXIT_STOPPED
    if processed == 0:
        log.error('no frame was processed')
        return 1
    return 0


def _host_name() -> str:
    return socket.gethostname() or '127.0.0.1'


def main(argv: Sequence[str] | None = None) -> int:
    """Run the runner's process: ``EXIT_STOPPED`` (0) after SIGINT/SIGTERM, whenever it comes.

    The stop record is installed first (:mod:`picam_ros.core.stop_request`; the console entry point
    has usually installed it already) and checked after parsing and all through :func:`run`:
    no signal is raised into the program, so none is lost or turned into a traceback.
    """
    stop = StopRequest.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormat())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if stop.is_set():
        return EXIT_STOPPED
    try:
        return run(args, stop=stop)
    except ConfigError as error:
        parser.error(str(error))
    except (SourceError, StreamError, MediaServerUnavailable, OSError) as error:
        if stop.is_set():
            return EXIT_STOPPED   # the stop broke the start-up: that was asked for
        if isinstance(error, BrokenPipeError):
            _silence_stdout()
            print(f'{parser.prog}: stopped: stdout was closed', file=sys.stderr)
        else:
            print(f'{parser.prog}: error: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(run_as_main(main))
