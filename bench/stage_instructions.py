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

"""Instructions per frame of each stage of the camera graph, x86-64 and aarch64, and a Pi 5 budget.

    python bench/stage_instructions.py [--size 1920] [--fps 25] [--frames 6] [--arm64-root DIR]

A Pi 5 cannot be timed here, but its instruction stream can be counted: every stage is run
under ``valgrind --tool=callgrind`` on this machine's build and, with ``--arm64-root`` (the
Debian bookworm arm64 root that ``scripts/check-arm64.sh`` builds and caches, with valgrind
installed in it), on the aarch64 build under qemu-user. Stages, per 1920x1920 frame:

- ``pack``: the camera node's ``image_raw`` payload (I420 from rpicam-vid -> nv21, C++);
- ``engine``: the centroid pipeline on one frame with the default keying (C++ engine);
- ``downscale``: ``stream.scale`` 2 (C++ box filter on the three planes);
- ``x264 full`` / ``x264 half``: the encoder process exactly as the node starts it
  (``encoder_argv``), fed the synthetic board's frames, output discarded;
- ``publish``: rclpy publishing the ``image_raw`` message to a subscriber in another process
  (x86 only: there are no ROS wheels for aarch64 in the Debian root).

C++ stages are read from callgrind's inclusive cost of their entry function (one call a
frame); the encoder is the whole ffmpeg process over N frames minus the same command over one
frame, divided by N - 1 (so start-up and the first, intra frame are left out: a P frame's cost,
which is what 24 of every 25 frames are). Only user-space instructions are counted: the kernel's
pipe and socket copies are not (they show as system time in ``bench/stream_cpu.py``).

The Pi 5 estimate divides the aarch64 counts at the configured rates by what one Cortex-A76
core retires per second at 2.4 GHz, for an assumed IPC (instructions per cycle) range; the
assumption is printed with the result, so it can be replaced by a measurement on a real Pi
(``perf stat -e instructions,cycles`` on the same commands).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Cortex-A76 (Pi 5, BCM2712) clock; the IPC range is an assumption, printed with the estimate.
PI5_HZ = 2.4e9
PI5_IPC = (1.0, 1.5)
PI5_CORES = 4
#: Entry points of the C++ stages, as callgrind names them (demangled, any argument list).
CPP_STAGES = {'pack': 'interleave_planes', 'engine': 'find_centroids',
              'downscale': 'box_downscale'}


# -- the driver: runs inside valgrind, on either architecture ---------------------------------
def drive(frames_file: str, size: int, frames: int, publish: bool) -> None:
    """Run every in-process stage once per frame on the frames in ``frames_file``."""
    import numpy as np

    from picam_ros.centroids.engine import KeyingParams
    from picam_ros.centroids.pipeline import CentroidPipeline
    from picam_ros.centroids.settings import KeyingProfiles
    from picam_ros.core.frames import Frame, FrameFormat
    from picam_ros.core.payloads import image_payload, new_payload_buffer
    from picam_ros.stream.downscale import downscaler, scaled_format

    fmt = FrameFormat(size, size, 'i420')
    data = np.fromfile(frames_file, dtype=np.uint8).reshape(-1, fmt.frame_bytes)
    pipeline = CentroidPipeline(KeyingProfiles(['pads']), {'pads': KeyingParams()})
    shrink = downscaler(fmt, 2)
    half = np.zeros(scaled_format(fmt, 2).packed_bytes, dtype=np.uint8)
    buffer = new_payload_buffer(fmt.packed(FORMAT_PUBLISHED).packed_bytes)
    publisher = _publisher() if publish else None
    try:
        for k in range(frames):
            frame = Frame(fmt, data[k % len(data)], sequence=k)
            payload = image_payload(frame, FORMAT_PUBLISHED, out=buffer)
            pipeline.process(frame.planes())
            shrink(frame, half)
            if publisher is not None:
                publisher(payload)
    finally:
        if publisher is not None:
            publisher(None)


FORMAT_PUBLISHED = 'nv21'   # the camera node's default image_raw encoding


def _publisher():
    """Return publish(payload) for sensor_msgs/Image to a subscriber process; None closes."""
    import rclpy
    from sensor_msgs.msg import Image

    from picam_ros.core.payloads import fill_image
    from picam_ros.ros.dds_profile import apply_default_profile

    apply_default_profile()   # as the launch files do: a frame fits the shared-memory segment
    rclpy.init()
    node = rclpy.create_node('stage_instructions')
    pub = node.create_publisher(Image, 'stage_image', 2)
    listener = subprocess.Popen(
        [sys.executable, '-c', LISTENER], stdout=subprocess.PIPE, text=True)
    while pub.get_subscription_count() == 0:
        rclpy.spin_once(node, timeout_sec=0.1)   # until the listener has matched
    msg = Image()

    def publish(payload) -> None:
        if payload is None:
            listener.terminate()
            listener.wait(10)
            node.destroy_node()
            rclpy.shutdown()
            return
        header = msg.header
        pub.publish(fill_image(msg, payload, header))
    return publish


LISTENER = """
import rclpy
from sensor_msgs.msg import Image
rclpy.init()
node = rclpy.create_node('stage_listener')
node.create_subscription(Image, 'stage_image', lambda msg: None, 2)
try:
    rclpy.spin(node)
except BaseException:
    pass
"""


# -- counting ----------------------------------------------------------------------------------
def callgrind(argv: list[str], out_dir: Path, root: Path | None, env: dict[str, str]) -> Path:
    """Count the instructions a command runs under valgrind (in the arm64 root if given)."""
    out = out_dir / f'callgrind.{len(list(out_dir.iterdir()))}.out'
    # Children are followed because a venv's python re-executes the real interpreter; the
    # publish stage's listener process is not counted.
    # Short superblocks: valgrind 3.19's arm64 back end aborts on x264's longest ones
    # ("genSpill_ARM64: Assertion `offsetB < 4096' failed"); the counts are the same.
    inner = ['valgrind', '--tool=callgrind', '--trace-children=yes', '--vex-guest-max-insns=16',
             '--trace-children-skip-by-arg=*stage_listener*',
             f'--callgrind-out-file={out if root is None else "/tmp/" + out.name}', *argv]
    if root is None:
        subprocess.run(inner, check=True, env={**os.environ, **env},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return out
    script = ('mount -t proc proc "$0/proc"; mount --rbind /dev "$0/dev"; '
              'exec chroot "$0" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root '
              + ' '.join(f'{k}={v}' for k, v in env.items()) + ' "$@"')
    subprocess.run(['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-ec',
                    script, str(root), *inner], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.move(str(root / 'tmp' / out.name), out)
    return out


def totals(path: Path) -> int:
    """Total instructions (Ir) in a callgrind file."""
    for line in path.read_text(errors='replace').splitlines():
        if line.startswith(('totals:', 'summary:')):
            return int(line.split()[1])
    raise ValueError(f'{path}: no totals line')


def inclusive(path: Path, needle: str) -> int:
    """Largest inclusive cost of a function whose name contains ``needle`` (callgrind_annotate)."""
    text = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--threshold=100', str(path)],
                          check=True, capture_output=True, text=True).stdout
    best = 0
    for line in text.splitlines():
        count = line.split(maxsplit=1)[0].replace(',', '') if line.strip() else ''
        if count.isdigit() and needle in line:
            best = max(best, int(count))
    return best


def encoder_command(size: int, fps: float, scale: int, frames_file: str) -> list[str]:
    """Return the node's encoder command on the frames file, its output dropped."""
    from picam_ros.core.frames import FrameFormat
    from picam_ros.stream.downscale import scaled_format
    from picam_ros.stream.encoder import encoder_argv, StreamConfig

    streamed = scaled_format(FrameFormat(size, size, 'i420'), scale)
    argv = encoder_argv(StreamConfig(fps=fps, ffmpeg_path='ffmpeg'), streamed)
    argv[argv.index('pipe:0')] = frames_file
    cut = argv.index('-f', argv.index('-bf'))   # replace the RTSP output by a null muxer
    return ['ffmpeg', *argv[1:cut], '-f', 'null', '-']


def write_frames(path: Path, size: int, count: int, scale: int) -> None:
    """Write the synthetic board's frames (I420), downscaled by ``scale`` as streamed."""
    import numpy as np

    from picam_ros.core.frames import FrameFormat
    from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource
    from picam_ros.stream.downscale import downscaler, scaled_format

    fmt = FrameFormat(size, size, 'i420')
    source = SyntheticSource(SyntheticConfig(width=size, height=size, layout='i420', paced=False))
    shrink = downscaler(fmt, scale) if scale > 1 else None
    with open(path, 'wb') as f:
        for k in range(count):
            frame = source.render(k)
            if shrink is None:
                f.write(frame.data.tobytes())
            else:
                out = np.zeros(scaled_format(fmt, scale).packed_bytes, dtype=np.uint8)
                shrink(frame, out)
                f.write(out.tobytes())


def measure(arch: str, root: Path | None, work: Path, args: argparse.Namespace,
            publish: bool) -> dict[str, float]:
    """Instructions per frame of each stage on ``arch``."""
    where = work if root is None else root / 'tmp' / 'stage_instructions'
    where.mkdir(parents=True, exist_ok=True)
    inside = where if root is None else Path('/tmp/stage_instructions')
    out_dir = work / arch
    out_dir.mkdir(exist_ok=True)
    for scale in (1, 2):
        name = f'frames{scale}.yuv'
        if not (where / name).exists():
            shutil.copy(work / name, where / name)
    counts: dict[str, float] = {}
    if root is None:
        python, env = sys.executable, {'PYTHONPATH': str(ROOT)}
    else:
        python, env = 'python3', {'PYTHONPATH': '/tmp/stage_instructions/src'}
    driver = [python, str(Path(__file__) if root is None else inside / 'src' / 'bench' /
                          Path(__file__).name), '--driver', str(inside / 'frames1.yuv'),
              '--size', str(args.size), '--frames', str(args.frames)]
    if publish:
        driver.append('--publish')
    profile = callgrind(driver, out_dir, root, env)
    for stage, needle in CPP_STAGES.items():
        counts[stage] = inclusive(profile, needle) / args.frames
    if publish:   # the message's conversion to C, then rcl's serialisation and DDS write
        counts['publish'] = (inclusive(profile, 'sensor_msgs__msg__image__convert_from_py')
                             + inclusive(profile, 'rcl_publish')) / args.frames
    for scale, label in ((1, 'x264 full'), (2, 'x264 half')):
        frames_file = str(inside / f'frames{scale}.yuv')
        command = encoder_command(args.size, args.fps, scale, frames_file)
        one = totals(callgrind([*command[:-3], '-frames:v', '1', *command[-3:]], out_dir, root,
                               {}))
        many = totals(callgrind([*command[:-3], '-frames:v', str(args.frames), *command[-3:]],
                                out_dir, root, {}))
        counts[label] = (many - one) / (args.frames - 1)
    return counts


def main() -> int:
    """Measure on x86-64 (and aarch64 with --arm64-root), then print the table and estimate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1920)
    parser.add_argument('--fps', type=float, default=25.0)
    parser.add_argument('--centroid-rate', type=float, default=5.0,
                        help='centroid frames per second (the node default)')
    parser.add_argument('--frames', type=int, default=6)
    parser.add_argument('--arm64-root', type=Path, default=None)
    parser.add_argument('--driver', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--publish', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        drive(args.driver, args.size, args.frames, args.publish)
        return 0
    if shutil.which('valgrind') is None or shutil.which('callgrind_annotate') is None:
        print('skipped: needs valgrind (apt-get install valgrind)')
        return 0
    if args.frames < 2:
        parser.error('--frames must be at least 2 (the encoder is counted as N frames minus 1)')
    try:
        import rclpy  # noqa: F401
        publish = True
    except ImportError:
        publish = False
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for scale in (1, 2):
            write_frames(work / f'frames{scale}.yuv', args.size, args.frames, scale)
        results = {'x86-64': measure('x86-64', None, work, args, publish)}
        if args.arm64_root is not None:
            staged = args.arm64_root / 'tmp' / 'stage_instructions'
            try:
                shutil.copytree(ROOT / 'picam_ros', staged / 'src' / 'picam_ros',
                                ignore=shutil.ignore_patterns('*.so', '__pycache__'))
                shutil.copytree(HERE, staged / 'src' / 'bench',
                                ignore=shutil.ignore_patterns('__pycache__'))
                # Where scripts/check-arm64.sh builds the package (as the Pi user would).
                built = sorted(args.arm64_root.glob(
                    'home/*/picam_ros/picam_ros/_centroids*aarch64*.so'))
                if not (args.arm64_root / 'usr' / 'bin' / 'valgrind').exists():
                    print(f'skipped aarch64: no valgrind in {args.arm64_root} (install it '
                          f'there: chroot {args.arm64_root} apt-get install valgrind)')
                elif not built:
                    print(f'skipped aarch64: no aarch64 build of picam_ros._centroids in '
                          f'{args.arm64_root}/home (run scripts/check-arm64.sh first)')
                else:
                    shutil.copy(built[-1], staged / 'src' / 'picam_ros' / built[-1].name)
                    results['aarch64'] = measure('aarch64', args.arm64_root, work, args, False)
            finally:
                shutil.rmtree(staged, ignore_errors=True)
    report(results, args)
    return 0


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    """Print instructions per frame per stage, and the Pi 5 budget at the configured rates."""
    rates = {'pack': args.fps, 'engine': args.centroid_rate, 'downscale': args.fps,
             'x264 full': args.fps, 'x264 half': args.fps, 'publish': args.fps}
    arches = list(results)
    print(f'instructions per frame at {args.size}x{args.size} (user space, callgrind; '
          f'{args.frames} frames)')
    print(f'{"stage":<11}' + ''.join(f'{arch:>16}' for arch in arches)
          + ('   aarch64/x86' if len(arches) > 1 else ''))
    for stage in rates:
        cells = [results[arch].get(stage) for arch in arches]
        if all(cell is None for cell in cells):
            continue
        line = f'{stage:<11}' + ''.join(
            f'{cell / 1e6:>14.2f} M' if cell is not None else f'{"-":>16}' for cell in cells)
        if len(arches) > 1 and None not in cells and cells[0]:
            line += f'{cells[1] / cells[0]:>14.2f}'
        print(line)
    arch = 'aarch64' if 'aarch64' in results else arches[0]
    counts = results[arch]
    publish = counts.get('publish', results['x86-64'].get('publish', 0.0))
    for label, x264, shrink in (('stream full', 'x264 full', 0.0),
                                ('stream half', 'x264 half', counts['downscale']),
                                ('stream off', None, 0.0)):
        per_second = (counts['pack'] * args.fps + publish * args.fps
                      + counts['engine'] * args.centroid_rate + shrink * args.fps
                      + (counts[x264] * args.fps if x264 else 0.0))
        cores = [per_second / (PI5_HZ * ipc) for ipc in PI5_IPC]
        print(f'Pi 5 estimate, {label}: {per_second / 1e9:.2f} G instructions/s ({arch} '
              f'counts; publish from x86) = {cores[1]:.2f}-{cores[0]:.2f} of {PI5_CORES} '
              f'Cortex-A76 cores at 2.4 GHz for IPC {PI5_IPC[1]:g}-{PI5_IPC[0]:g}')


if __name__ == '__main__':
    sys.exit(main())
