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

"""Specification of the live stream: real ffmpeg encoders publishing to a real RTSP receiver.

An ``ffmpeg -rtsp_flags listen`` receiver stands in for MediaMTX (MediaMTX itself is only
needed by the tests marked ``mediamtx``, see test_streaming_mediamtx.py).
"""

import fcntl
import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
from proctree import process_gone, wait_until
import pytest
from stream_fixtures import (
    frame_from_i420,
    free_tcp_port,
    psnr,
    RtspReceiver,
    scene_i420,
    stamp_counter,
    write_fake_mediamtx,
)

from picam_ros.core.frames import FrameFormat
from picam_ros.stream.downscale import downscaler, scaled_format
from picam_ros.stream.encoder import (
    encoder_argv,
    h264_level,
    StreamConfig,
    StreamError,
    StreamPublisher,
)

W, H = 320, 240
GUARD = 20.0   # seconds; failure guard only


def publisher(port: int, fmt: FrameFormat | None = None, **config) -> StreamPublisher:
    config.setdefault('backoff_initial', 0.05)
    return StreamPublisher(StreamConfig(path='cam', rtsp_port=port, **config),
                           fmt or FrameFormat(W, H, 'i420'))


class FrameMaker:
    """Cheap distinct frames: one base picture with a fresh counter stamped into each."""

    def __init__(self, fmt: FrameFormat) -> None:
        self.fmt = fmt
        self.frame = frame_from_i420(scene_i420(fmt.width, fmt.height, 0), fmt)

    def __call__(self, index: int):
        stamp_counter(self.frame.y, index)
        self.frame.sequence = index
        self.frame.mono_ns = time.monotonic_ns()
        return self.frame


def send_paced(pub: StreamPublisher, make, indices) -> None:
    """Submit frames one at a time, each after the previous one reached the encoder."""
    for index in indices:
        target = pub.stats.sent + 1
        assert pub.submit(make(index))
        assert wait_until(lambda target=target: pub.stats.sent >= target, GUARD), pub.stats


def expected_i420(fmt: FrameFormat, index: int) -> np.ndarray:
    picture = scene_i420(fmt.width, fmt.height, index)
    if fmt.layout == 'mono8':
        picture[fmt.width * fmt.height:] = 128
    return picture


# -- what reaches the receiver ------------------------------------------------------------------

@pytest.mark.parametrize('fmt', [
    FrameFormat(W, H, 'i420', stride=384),
    FrameFormat(W, H, 'nv12'),
    FrameFormat(W, H, 'nv21'),
    FrameFormat(W, H, 'mono8'),
], ids=str)
def test_published_frames_arrive_in_order_with_psnr_over_30_db(fmt):
    port = free_tcp_port()
    count = 24
    with RtspReceiver(port, 'cam', W, H, keep=count) as receiver:
        pub = publisher(port, fmt)
        with pub:
            send_paced(pub, lambda i: frame_from_i420(scene_i420(W, H, i), fmt, i), range(count))
        # Stopping the encoder ends the session; the receiver flushes and exits.
        assert receiver.process.wait(timeout=GUARD) is not None
        receiver.stop()
    assert receiver.counters == list(range(count))
    assert pub.stats.sent == count and pub.stats.dropped == 0
    luma = W * H
    for i, frame in enumerate(receiver.frames):
        expected = expected_i420(fmt, i)
        assert psnr(frame[:luma], expected[:luma]) > 30.0, f'frame {i}: luma'
        assert psnr(frame[luma:], expected[luma:]) > 30.0, f'frame {i}: chroma (order?)'


def test_killed_encoder_restarts_and_frames_flow_again():
    port = free_tcp_port()
    make = FrameMaker(FrameFormat(W, H, 'i420'))
    with RtspReceiver(port, 'cam', W, H, auto_restart=True) as receiver, publisher(port) as pub:
        send_paced(pub, make, range(5))
        first_pid = pub.encoder_pid
        assert wait_until(lambda: len(receiver.counters) >= 2, GUARD)
        os.kill(first_pid, signal.SIGKILL)
        index = 5
        # Keep capturing as a camera would; the encoder comes back by itself.
        camera_period = threading.Event()
        # Frames flowing again means at least two frames captured after the kill arrive, in order.
        while len([c for c in receiver.counters if c >= 5]) < 2:
            pub.submit(make(index))
            index += 1
            camera_period.wait(0.02)   # frames keep coming at 50 fps, whatever the encoder does
            assert index < 1000, f'no frames after the restart: {pub.stats}'
        stats = pub.stats
        assert pub.encoder_pid not in (None, first_pid)
    assert stats.restarts >= 1
    assert 'encoder' in (stats.last_error or '')
    assert process_gone(first_pid)
    after_kill = [c for c in receiver.counters if c >= 5]
    assert after_kill == sorted(after_kill) and len(after_kill) >= 2
    assert receiver.sessions >= 2


def test_stalled_encoder_makes_submit_drop_oldest_without_blocking():
    port = free_tcp_port()
    make = FrameMaker(FrameFormat(W, H, 'i420'))
    with RtspReceiver(port, 'cam', W, H), publisher(port, queue_size=2) as pub:
        send_paced(pub, make, range(3))
        encoder = pub.encoder_pid
        os.kill(encoder, signal.SIGSTOP)
        try:
            before = pub.stats
            results: list[bool] = []
            producer = threading.Thread(
                target=lambda: results.extend(pub.submit(make(3 + i)) for i in range(200)))
            producer.start()
            producer.join(timeout=GUARD)
            assert not producer.is_alive(), 'submit() blocked on a stalled encoder'
            stalled = pub.stats
        finally:
            os.kill(encoder, signal.SIGCONT)
        assert results == [True] * 200
        assert stalled.submitted - before.submitted == 200
        # At most the queue plus the frame stuck in the writer are pending; the rest dropped.
        assert stalled.dropped - before.dropped >= 200 - 2 - 1 - 4   # 4: pipe buffer slack
        assert stalled.queued == 2
        send_paced(pub, make, range(203, 206))
        assert pub.stats.restarts == 0


RECORDING_ENCODER = """
    import sys
    sys.path.insert(0, {testdir!r})
    from stream_fixtures import read_counter
    import numpy as np
    width, height = map(int, sys.argv[sys.argv.index('-s') + 1].split('x'))
    size = width * height * 3 // 2
    with open({log!r}, 'a') as log:
        while len(frame := sys.stdin.buffer.read(size)) == size:
            y = np.frombuffer(frame, np.uint8)[:width * height].reshape(height, width)
            print(read_counter(y), file=log, flush=True)
    """


def test_encoder_that_was_busy_gets_the_newest_frame_and_the_older_waiting_one_is_dropped(
        tmp_path):
    log = tmp_path / 'encoded.txt'
    encoder = tmp_path / 'ffmpeg'
    encoder.write_text(f'#!{sys.executable}\n' + textwrap.dedent(RECORDING_ENCODER).format(
        testdir=str(Path(__file__).parent), log=str(log)))
    encoder.chmod(0o755)
    make = FrameMaker(FrameFormat(W, H, 'i420'))
    pub = StreamPublisher(StreamConfig(rtsp_port=free_tcp_port(), ffmpeg_path=str(encoder),
                                       queue_size=2),
                          FrameFormat(W, H, 'i420'), server_ready=lambda: True)
    with pub:
        send_paced(pub, make, range(3))
        os.kill(pub.encoder_pid, signal.SIGSTOP)   # busy: takes nothing while frames come
        try:
            assert pub.submit(make(3))
            assert wait_until(lambda: pub.stats.queued == 0, GUARD)   # the writer holds 3
            for index in range(4, 40):
                assert pub.submit(make(index))
            assert pub.stats.queued == 2   # 38 and 39 wait
        finally:
            os.kill(pub.encoder_pid, signal.SIGCONT)
        assert wait_until(lambda: pub.stats.queued == 0, GUARD)   # 3 written, 39 taken
        send_paced(pub, make, range(40, 43))
        assert wait_until(lambda: log.read_text().split()[-1:] == ['42'], GUARD)
    encoded = [int(v) for v in log.read_text().split()]
    assert encoded == [0, 1, 2, 3, 39, 40, 41, 42]   # 38 was stale when the encoder was ready


@pytest.mark.skipif(sys.version_info < (3, 11), reason='Popen(process_group=) is Python 3.11+')
def test_encoder_stays_in_our_session_and_leads_its_own_process_group():
    # A session of its own would be a scheduling autogroup of its own (slower on a busy host).
    port = free_tcp_port()
    with RtspReceiver(port, 'cam', W, H), publisher(port) as pub:
        send_paced(pub, FrameMaker(FrameFormat(W, H, 'i420')), range(2))
        pid = pub.encoder_pid
        assert os.getsid(pid) == os.getsid(0)
        assert os.getpgid(pid) == pid   # so a stop still signals its whole group
    assert process_gone(pid)


def test_encoder_pipe_never_holds_a_whole_frame():
    for width, height in ((320, 240), (640, 480), (1280, 720)):
        port = free_tcp_port()
        fmt = FrameFormat(width, height, 'i420')
        with RtspReceiver(port, 'cam', width, height), publisher(port, fmt) as pub:
            send_paced(pub, FrameMaker(fmt), range(2))
            fd = next(f for f in Path(f'/proc/{pub.encoder_pid}/fd').iterdir()
                      if f.name == '0')
            with open(fd, 'rb') as stdin:   # the read end, as ffmpeg sees it
                capacity = fcntl.fcntl(stdin.fileno(), fcntl.F_GETPIPE_SZ)
        assert capacity < fmt.packed_bytes, (width, capacity)


def test_hung_encoder_is_replaced_after_the_stall_timeout_and_frames_flow_again():
    port = free_tcp_port()
    make = FrameMaker(FrameFormat(W, H, 'i420'))
    with RtspReceiver(port, 'cam', W, H, auto_restart=True) as receiver, \
            publisher(port, stall_timeout=0.5) as pub:
        send_paced(pub, make, range(3))
        hung = pub.encoder_pid
        os.kill(hung, signal.SIGSTOP)   # alive but taking no input, like ffmpeg on a dead link
        try:
            index = 3
            camera_period = threading.Event()
            while not (pub.stats.restarts >= 1 and receiver.counters
                       and receiver.counters[-1] >= index - 10 > 3):
                pub.submit(make(index))
                index += 1
                camera_period.wait(0.02)
                assert index < 2000, f'hung encoder not replaced: {pub.stats}'
        finally:
            if not process_gone(hung):
                os.kill(hung, signal.SIGCONT)
        stats = pub.stats
    assert 'stalled' in stats.last_error
    assert process_gone(hung)


def test_submit_never_blocks_while_no_server_listens_and_no_encoder_is_started():
    port = free_tcp_port()
    make = FrameMaker(FrameFormat(W, H, 'i420'))
    with publisher(port) as pub:
        assert all(pub.submit(make(i)) for i in range(50))
        assert wait_until(lambda: 'waiting for the RTSP server' in (pub.stats.last_error or ''),
                          GUARD)
        stats = pub.stats
        assert pub.encoder_pid is None
    assert stats.submitted == 50 and stats.sent == 0
    assert stats.dropped == 50 - 2 and stats.queued == 2
    assert not stats.connected


def test_encoder_starts_once_the_server_listens():
    port = free_tcp_port()
    make = FrameMaker(FrameFormat(W, H, 'i420'))
    with publisher(port) as pub:
        pub.submit(make(0))
        assert pub.encoder_pid is None
        with RtspReceiver(port, 'cam', W, H) as receiver:
            assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
            index = 1
            while len(receiver.counters) < 2:
                send_paced(pub, make, [index])
                index += 1
                assert index < 500, f'nothing received: {pub.stats}'
    assert receiver.counters[0] == 0   # the frame queued before the server came up
    assert pub.stats.restarts == 0


def test_twenty_start_stop_cycles_on_one_port_all_deliver_frames():
    port = free_tcp_port()
    fmt = FrameFormat(256, 64, 'i420')
    make = FrameMaker(fmt)
    pub = publisher(port, fmt)
    delivered, pids = [], []
    for cycle in range(20):
        with RtspReceiver(port, 'cam', 256, 64) as receiver:
            pub.start()
            index = 0
            while not receiver.counters:
                send_paced(pub, make, [index])
                index += 1
                assert index < 500, f'cycle {cycle}: nothing received ({pub.stats})'
            pids.append(pub.encoder_pid)
            pub.stop()
            delivered.append(len(receiver.counters))
            assert not pub.running and process_gone(pids[-1])
    assert len(delivered) == 20 and min(delivered) >= 1
    assert pub.stats.restarts == 0


def test_stop_leaves_no_process_or_thread_and_is_idempotent():
    port = free_tcp_port()
    make = FrameMaker(FrameFormat(W, H, 'i420'))
    threads_before = set(threading.enumerate())
    with RtspReceiver(port, 'cam', W, H):
        pub = publisher(port)
        pub.start()
        send_paced(pub, make, range(3))
        assert wait_until(lambda: pub.stats.connected, GUARD)
        pid = pub.encoder_pid
        pub.stop()
        pub.stop()
    assert process_gone(pid)
    assert pub.encoder_pid is None and not pub.stats.connected
    assert not pub.submit(make(4))
    leftover = [t for t in set(threading.enumerate()) - threads_before
                if t.name.startswith(('picam-stream', 'ffmpeg-encoder'))]
    assert leftover == []


OWNER = """
    import sys, threading
    sys.path.insert(0, {testdir!r})
    from stream_fixtures import (RtspReceiver, free_server_ports, free_tcp_port,
                                 frame_from_i420, scene_i420)
    from picam_ros.core.frames import FrameFormat
    from picam_ros.stream.encoder import StreamConfig, StreamPublisher
    from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig
    server = MediaServer(MediaServerConfig(mediamtx_path={fake!r}, **free_server_ports()))
    server.start()
    port = free_tcp_port()
    receiver = RtspReceiver(port, 'cam', 320, 240).start()
    fmt = FrameFormat(320, 240)
    pub = StreamPublisher(StreamConfig(rtsp_port=port), fmt)
    pub.start()
    frame = frame_from_i420(scene_i420(320, 240, 0), fmt)
    tick = threading.Event()
    while not pub.stats.connected:
        pub.submit(frame)
        tick.wait(0.04)
    print(server.pid, receiver.process.pid, pub.encoder_pid, flush=True)
    while True:
        pub.submit(frame)
        tick.wait(0.04)
    """


def test_encoder_and_media_server_die_with_a_sigkilled_owner(tmp_path):
    script = textwrap.dedent(OWNER).format(testdir=os.path.dirname(__file__),
                                           fake=write_fake_mediamtx(tmp_path))
    owner = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE,
                             start_new_session=True)
    try:
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 3 and not any(process_gone(pid) for pid in pids)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=GUARD)
        assert wait_until(lambda: all(process_gone(pid) for pid in pids), GUARD), 'orphans left'
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdout.close()


@pytest.mark.parametrize(('fmt', 'scale'), [(FrameFormat(W, H, 'nv21'), 2),
                                            (FrameFormat(W, H, 'i420', stride=384), 4)],
                         ids=str)
def test_a_scaled_stream_carries_the_box_filtered_picture_at_the_smaller_size(fmt, scale):
    port = free_tcp_port()
    count = 12
    small = scaled_format(fmt, scale)
    with RtspReceiver(port, 'cam', small.width, small.height, keep=count) as receiver:
        pub = publisher(port, fmt, scale=scale)
        with pub:
            send_paced(pub, lambda i: frame_from_i420(scene_i420(W, H, i), fmt, i), range(count))
        assert receiver.process.wait(timeout=GUARD) is not None
        receiver.stop()
    assert len(receiver.frames) == count
    for i, decoded in enumerate(receiver.frames):
        expected = np.zeros(small.packed_bytes, np.uint8)
        downscaler(FrameFormat(W, H, 'i420'), scale)(
            frame_from_i420(scene_i420(W, H, i), FrameFormat(W, H, 'i420')), expected)
        assert decoded.size == expected.size, 'the stream is not at the scaled size'
        assert psnr(decoded, expected) > 30.0, f'frame {i}'


# -- configuration and input checks --------------------------------------------------------------

def test_encoder_command_is_baseline_zerolatency_without_b_frames_and_one_second_gop():
    argv = encoder_argv(StreamConfig(fps=30, gop_seconds=1.0, rtsp_port=9554, path='up'),
                        FrameFormat(1280, 720))
    joined = ' '.join(argv)
    for part in ('-f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30 -i pipe:0', '-c:v libx264',
                 '-preset ultrafast', '-tune zerolatency', '-profile:v baseline', '-bf 0',
                 '-g 30', '-f rtsp -rtsp_transport tcp rtsp://127.0.0.1:9554/up'):
        assert part in joined
    assert '-crf' not in argv and '-b:v' not in argv


@pytest.mark.parametrize(('size', 'fps', 'level'), [
    ((1920, 1920), 25.0, '5'),      # 14,400 macroblocks: more than level 4.2's 8,704
    ((960, 960), 25.0, '3.1'), ((1024, 1024), 25.0, '3.2'), ((1280, 720), 30.0, '3.1'),
    ((1920, 1080), 30.0, '4'), ((1920, 1080), 60.0, '4.2'), ((640, 480), 25.0, '3'),
    ((3840, 2160), 30.0, '5.1'),
])
def test_the_h264_level_is_the_lowest_that_allows_the_streamed_size_and_rate(size, fps, level):
    assert h264_level(*size, fps) == level
    argv = encoder_argv(StreamConfig(fps=fps), FrameFormat(*size))
    assert argv[argv.index('-level:v') + 1] == level


def test_a_frame_too_long_for_any_level_is_refused_with_the_way_out():
    # 129,600 macroblocks 240 times a second: more than level 6.2's 16.7 million.
    with pytest.raises(StreamError, match='stream.scale'):
        h264_level(7680, 4320, 240.0)
    assert h264_level(7680, 4320, 60.0) == '6.1'


def test_encoder_command_rate_control_and_layout_mapping():
    fmt = FrameFormat(64, 64, 'nv21')
    assert '-b:v 800k -maxrate 800k' in ' '.join(encoder_argv(StreamConfig(bitrate_kbps=800),
                                                              fmt))
    assert '-crf 18' in ' '.join(encoder_argv(StreamConfig(crf=18), fmt))
    assert '-pix_fmt nv21' in ' '.join(encoder_argv(StreamConfig(), fmt))
    mono = ' '.join(encoder_argv(StreamConfig(), FrameFormat(64, 64, 'mono8')))
    assert '-pix_fmt gray' in mono and mono.index('-pix_fmt yuv420p') > mono.index('libx264')


@pytest.mark.parametrize(('changes', 'field'), [
    ({'path': 'cam one'}, 'path'),
    ({'path': ''}, 'path'),
    ({'rtsp_port': 0}, 'rtsp_port'),
    ({'fps': 0}, 'fps'),
    ({'bitrate_kbps': 800, 'crf': 20}, 'bitrate_kbps or crf'),
    ({'crf': 60}, 'crf'),
    ({'preset': 'warp'}, 'preset'),
    ({'queue_size': 0}, 'queue_size'),
    ({'scale': 3}, 'scale'),
])
def test_invalid_stream_config_names_the_problem(changes, field):
    with pytest.raises(ValueError, match=field):
        StreamConfig(**changes)


def test_submit_rejects_a_frame_of_another_size():
    pub = publisher(free_tcp_port())
    with pytest.raises(ValueError, match='320x240'):
        pub.submit(frame_from_i420(scene_i420(256, 64, 0), FrameFormat(256, 64)))


def test_submit_before_start_returns_false():
    pub = publisher(free_tcp_port())
    assert pub.submit(FrameMaker(FrameFormat(W, H))(0)) is False
    assert pub.stats.submitted == 0


def test_missing_ffmpeg_is_one_clear_error():
    pub = publisher(free_tcp_port(), ffmpeg_path='/nonexistent/ffmpeg')
    with pytest.raises(StreamError, match='ffmpeg not found'):
        pub.start()
    assert not pub.running
