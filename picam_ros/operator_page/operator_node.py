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

"""ROS 2 operator node: serves the operator page and turns its actions into ROS.

All web work is :class:`picam_ros.operator_page.server.OperatorServer` (its own thread and asyncio
loop); this file declares parameters and wires topics and parameter services.

- ``centroids`` / ``<profile>/centroids`` (in, ``sensor_msgs/PointCloud2``): pushed to pages
  with the capture stamp of their frame (ROS headers carry no sequence number).
- ``/diagnostics`` (in): fps, drops, processing time, stream state for the status bar.
- ``target`` (out, ``geometry_msgs/PointStamped``): a clicked or keyed target in pixel
  coordinates of the camera image (x right, y down, origin at the centre of the top-left pixel,
  z = 0), ``frame_id`` = the ``frame_id`` parameter, stamp = the capture stamp of the set the
  target was picked from (else now). Latched (reliable, transient local, depth 1): a
  subscriber that starts after the click gets the last target.
- ``target_mm`` (out, ``geometry_msgs/PointStamped``, frame ``nozzle``): the same target in
  millimetres relative to the nozzle (image axes), published with every ``target`` once the
  camera it was picked in is calibrated. The calibration is the machine's calibration file
  (``calibration_file``, else the machine node's own ``calibration_file`` parameter), re-read
  whenever a calibration step rewrites it (:mod:`picam_ros.operator_page.targets`).
- ``rotate`` (out, ``std_msgs/Float64``): relative nozzle rotation in degrees from ``[`` ``]``.
- Keying sliders set ``<profile>.*`` parameters of ``centroid_node`` through its parameter
  services (``rclpy.parameter_client.AsyncParameterClient``); the node's refusal reason goes
  back to the page.
- Mode buttons set ``mode_parameter`` (default ``mode``: normal, onlyup, onlydown, frozen, as
  ``picam_ros.machine.composite`` spells them) of ``mode_node`` when one is named; with none
  the page shows them disabled.
- With ``machine_node`` set (the picam_ros machine node): the profiles are its ``pads``
  (``board/centroids``) and ``leads`` (``component/centroids``), the sliders set its
  ``pads.*``/``leads.*`` parameters, the mode buttons its ``composite.mode``, the default video
  is its composite stream path, and the calibration steps call its services: a click sets
  ``calibration.click_x``/``click_y`` and then calls ``calibration/set_nozzle`` (ONLYUP) or
  ``calibration/set_datum`` (ONLYDOWN); the auto-find button calls
  ``calibration/find_nozzle`` (``std_srvs/Trigger``). The service's answer goes to the page.
  The Align button calls its ``align`` service; the verdict (and, between presses, the
  ``: alignment`` entry of ``/diagnostics``) fills the page's alignment panel. Its clouds carry
  their frame's sequence number (``frame_sequence``), so the page draws the set of the frame
  it shows; their sizes are its ``board.*``/``component.*`` width and height.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
import json
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.core.params import config_from_rows, config_with_changes
from picam_ros.entry_points import run_as_main
from picam_ros.operator_page.bridge import (
    alignment_values,
    cloud_blobs,
    cloud_sequence,
    composite_shift,
    Field,
    fit_pixel_mapping,
    keying_parameter_specs,
    MACHINE_STAMPING,
    MACHINE_VIEWS,
    PixelMapping,
    stamp_ns,
    status_from_diagnostics,
    WANTED_FIELDS,
)
from picam_ros.operator_page.protocol import (
    Align,
    CalibrationClick,
    CalibrationScale,
    FindNozzle,
    Rotate,
    SelectTarget,
    SetMode,
    SetParameter,
)
from picam_ros.operator_page.server import CentroidSet, OperatorConfig, OperatorServer, Outcome
from picam_ros.operator_page.settings import operator_parameter_rows, OperatorParams, WHEP_URLS
from picam_ros.operator_page.targets import CalibratedTargets, camera_of
from picam_ros.ros.messages import declare_rows
from picam_ros.ros.node_runner import run_node, warn_about_undeclared

NODE_NAME = 'operator'
#: The machine node's profiles and the topics they come on (relative to the namespace).
MACHINE_PROFILES = {'pads': 'board/centroids', 'leads': 'component/centroids'}
#: Calibration step -> the machine node's service (after calibration.click_x/y are set).
MACHINE_STEP_SERVICES = {'nozzle': 'calibration/set_nozzle', 'reference': 'calibration/set_datum'}
MACHINE_FIND_NOZZLE = 'calibration/find_nozzle'
MACHINE_SET_SCALE = 'calibration/set_scale'
MACHINE_ALIGN = 'align'
#: Profile -> the machine node's camera whose frames it measures (for the frame size).
MACHINE_CAMERAS = {'pads': 'board', 'leads': 'component'}
#: The machine node's shift of the up image in the composite (see bridge.composite_shift).
MACHINE_OFFSETS = ('composite.offset_x', 'composite.offset_y')
#: The node's parameters (picam_ros.operator_page.settings; docs/parameters.md).
_ROWS = operator_parameter_rows()


class OperatorNode(Node):
    """Serves the operator page; centroids in, targets and parameter changes out."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        try:
            params = config_from_rows(OperatorParams, _ROWS, declare_rows(self, _ROWS))
        except ValueError as error:
            raise ValueError(f'{self.get_name()}: invalid parameters: {error}') from None
        warn_about_undeclared(self, 'operator')
        self._params = params
        values = params.to_dict()
        machine = values['machine_node']
        profiles = KeyingProfiles(list(MACHINE_PROFILES) if machine else list(values['profiles']))
        self._frame_id = values['frame_id']
        self._latest_header: dict[str, Any] = {}
        self._status: dict[str, Any] = {}
        self._keying = AsyncParameterClient(self, machine or values['centroid_node'])
        self._mode_parameter = values['mode_parameter']
        mode_node = values['mode_node']
        if machine and not mode_node:
            mode_node, self._mode_parameter = machine, 'composite.mode'
        self._mode = AsyncParameterClient(self, mode_node) if mode_node else None
        self._mode_shown: str | None = None
        self._machine = AsyncParameterClient(self, machine) if machine else None
        self._offset = (0.0, 0.0)
        self._pad_mapping: PixelMapping | None = None   # board mm -> px, from the pads' clouds
        self._sizes: dict[str, tuple[int, int]] = {}   # profile -> its camera's frame size
        self._triggers = {name: self.create_client(Trigger, f'{machine}/{name}')
                          for name in (*MACHINE_STEP_SERVICES.values(), MACHINE_FIND_NOZZLE,
                                       MACHINE_SET_SCALE, MACHINE_ALIGN)
                          } if machine else {}
        self._targets = CalibratedTargets(values['calibration_file'])
        self._calibration_asked = bool(values['calibration_file']) or not machine
        # The target is state, not an event: latched (the last one kept for subscribers that
        # join, or finish discovery, after the click), as a controller started later expects.
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._target = self.create_publisher(PointStamped, 'target', latched)
        self._target_mm = self.create_publisher(PointStamped, 'target_mm', latched)
        self._rotate = self.create_publisher(Float64, 'rotate', 10)
        whep_url = values['whep_url'] or WHEP_URLS['machine' if machine else 'camera']
        config = OperatorConfig(host=values['host'], port=values['port'],
                                token_file=values['token_file'], whep_url=whep_url,
                                video_url=values['video_url'], media_dir=values['media_dir'],
                                profiles=profiles.names)
        self._server = OperatorServer(
            config, _Backend(self), keying_parameter_specs(profiles.names),
            features={'modes': self._mode is not None, 'calibration': bool(machine),
                      'align': bool(machine)},
            views=MACHINE_VIEWS if machine else None,
            stamping=MACHINE_STAMPING if machine else None)
        for profile in profiles.names:
            topic = MACHINE_PROFILES[profile] if machine else profiles.topics(profile)[0]
            self.create_subscription(
                PointCloud2, topic, lambda msg, p=profile: self._on_cloud(p, msg), 10)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self._values_timer = self.create_timer(1.0, self._fetch_parameter_values)
        # Registered after declaration: the values above were checked as one set.
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._server.start()
        self.get_logger().info(
            f'operator page ready: {self._server.url(with_token=True)} (token '
            f'{self._server.token_source}; host {values["host"]})')

    @property
    def server(self) -> OperatorServer:
        """Return the web server, whose port and token the tests read."""
        return self._server

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Apply a live change (``frame_id``) all or none; rclpy refuses the read-only rows."""
        try:
            params = config_with_changes(self._params, _ROWS,
                                         {p.name: p.value for p in parameters})
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        self._params = params
        self._frame_id = params.frame_id
        return SetParametersResult(successful=True)

    # -- ROS in --------------------------------------------------------------------------
    def _fetch_parameter_values(self) -> None:
        """Once the keying node answers, give the sliders its current values."""
        if not self._keying.services_are_ready():
            return
        self._values_timer.cancel()
        sizes = [f'{camera}.{side}' for camera in MACHINE_CAMERAS.values()
                 for side in ('width', 'height')] if self._machine else []
        names = list(self._server.parameters) + (list(MACHINE_OFFSETS) if self._machine
                                                 else []) + sizes
        if not self._calibration_asked:
            names.append('calibration_file')

        def fetched(future: Any) -> None:
            if future.exception() is None:
                values = dict(zip(names, (parameter_value_to_python(v)
                                          for v in future.result().values)))
                self._note_offset(values)
                if not self._calibration_asked and isinstance(values.get('calibration_file'),
                                                              str):
                    self._calibration_asked = True
                    self._targets.path = values['calibration_file']
                for profile, camera in MACHINE_CAMERAS.items():
                    size = (values.get(f'{camera}.width'), values.get(f'{camera}.height'))
                    if all(isinstance(side, int) for side in size):
                        self._sizes[profile] = size
                self._server.update_parameter_values(values)

        self._keying.get_parameters(names, callback=fetched)

    def _on_cloud(self, profile: str, msg: PointCloud2) -> None:
        # The machine's pads also carry x_mm/y_mm: they place the verdict's residuals.
        pads = self._machine is not None and profile == 'pads'
        try:
            blobs = cloud_blobs([Field(f.name, f.offset, f.datatype) for f in msg.fields],
                                msg.point_step, msg.width, msg.height, msg.data,
                                msg.is_bigendian,
                                (*WANTED_FIELDS, 'x_mm', 'y_mm') if pads else WANTED_FIELDS)
        except ValueError as error:
            self.get_logger().error(f'{profile}: cannot read centroids: {error}',
                                    throttle_duration_sec=5.0)
            return
        if pads:
            self._pad_mapping = fit_pixel_mapping(blobs) or self._pad_mapping
        if self._machine is not None:
            dx, dy = composite_shift(profile, self._shown_mode(), self._offset)
            if dx or dy:   # drawn where the composite shows them
                blobs['x'] += dx
                blobs['y'] += dy
        stamp = stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)
        sequence = cloud_sequence([Field(f.name, f.offset, f.datatype) for f in msg.fields],
                                  msg.point_step, msg.width * msg.height, msg.data)
        self._latest_header[profile] = msg.header
        width, height = self._sizes.get(profile, (0, 0))
        self._server.publish_centroids(CentroidSet(profile, sequence, stamp, width, height,
                                                   blobs))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        entries = [(s.name, s.message, {kv.key: kv.value for kv in s.values})
                   for s in msg.status]
        before = self._status.get('mode')
        self._status = status_from_diagnostics(entries, self._status, self._pad_mapping)
        if self._machine is not None and self._targets.path:
            self._status['calibration'] = self._targets.summary()
        if self._status.get('mode') != before:   # the machine reports a change: it rules now
            self._mode_shown = None
        self._server.publish_status(self._status)

    # -- page actions (called on the web thread) -----------------------------------------
    def on_page_action(self, action: Any) -> Any:
        """Carry out a validated, authorised action from a page (the server's backend)."""
        if isinstance(action, SelectTarget):
            return self._publish_target(action)
        if isinstance(action, Rotate):
            self._rotate.publish(Float64(data=action.degrees))
            return Outcome(True)
        if isinstance(action, SetParameter):
            return self._set_parameter(self._keying, action.name, action.value)
        if isinstance(action, SetMode):
            if self._mode is None:
                return Outcome(False, 'modes need a machine node (parameter machine_node) or '
                                      'a mode node (parameter mode_node); none is configured')
            return self._set_mode(action.mode)
        if isinstance(action, Align):
            if self._machine is None:
                return Outcome(False, 'alignment needs the machine node; none is configured '
                                      '(parameter machine_node)')
            return self._align()
        if isinstance(action, (CalibrationClick, FindNozzle, CalibrationScale)):
            if self._machine is None:
                return Outcome(False, 'calibration needs the machine node; none is configured '
                                      '(parameter machine_node)')
            return self._calibrate(action)
        return Outcome(False, f'unsupported action {type(action).__name__}')

    async def _set_mode(self, mode: str) -> Outcome:
        # picam_ros.machine.composite spells its modes in lower case (CompositeParams.mode).
        outcome = await self._set_parameter(self._mode, self._mode_parameter, mode.lower())
        if outcome.ok:
            self._mode_shown = mode
        return outcome

    async def _calibrate(self, action: CalibrationClick | FindNozzle | CalibrationScale,
                         ) -> Outcome:
        if isinstance(action, FindNozzle):
            service, values = MACHINE_FIND_NOZZLE, ()
        elif isinstance(action, CalibrationScale):
            # The machine node takes whole pixels; a click is within a pixel anyway.
            service, values = MACHINE_SET_SCALE, (
                ('calibration.scale_camera', action.camera),
                ('calibration.scale_points', [round(v) for v in action.points]),
                ('calibration.scale_distance_mm', float(action.distance_mm)))
        else:
            service, values = MACHINE_STEP_SERVICES[action.step], (
                ('calibration.click_x', float(action.x)),
                ('calibration.click_y', float(action.y)))
        for name, value in values:
            outcome = await self._set_parameter(self._machine, name, value)
            if not outcome.ok:
                return outcome
        client = self._triggers[service]
        if not client.service_is_ready():
            return Outcome(False, f'{client.srv_name}: the machine node does not answer '
                                  f'(service not available)')
        response = await _awaited(client.call_async(Trigger.Request()))
        if not response.success:
            return Outcome(False, f'{service}: {response.message}')
        try:
            answer = json.loads(response.message)
        except ValueError:
            answer = response.message
        if isinstance(answer, dict):
            self._note_offset(answer)
        return Outcome(True, detail={'service': service, 'answer': answer})

    async def _align(self) -> Outcome:
        """Call the machine's align service; its JSON answer in the page's alignment keys."""
        client = self._triggers[MACHINE_ALIGN]
        if not client.service_is_ready():
            return Outcome(False, f'{client.srv_name}: the machine node does not answer '
                                  f'(service not available)')
        response = await _awaited(client.call_async(Trigger.Request()))
        try:
            answer = json.loads(response.message)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            if not response.success:
                return Outcome(False, f'align: {response.message}')
            return Outcome(False, f'align: unreadable answer {response.message[:80]!r}')
        if not response.success and 'verdict' not in answer:
            return Outcome(False, f'align: {response.message}')
        return Outcome(True, detail={'alignment': alignment_values(answer, self._pad_mapping)})

    def _shown_mode(self) -> str | None:
        return self._mode_shown or self._status.get('mode')

    def _note_offset(self, values: dict[str, Any]) -> None:
        if all(isinstance(values.get(name), (int, float)) for name in MACHINE_OFFSETS):
            self._offset = (float(values[MACHINE_OFFSETS[0]]), float(values[MACHINE_OFFSETS[1]]))

    async def _publish_target(self, action: SelectTarget) -> Outcome:
        if self._machine is not None:   # a lead drawn on the composite: back to its own image
            dx, dy = composite_shift(action.profile, self._shown_mode(), self._offset)
            action = replace(action, x=action.x - dx, y=action.y - dy)
        msg = PointStamped()
        header = self._latest_header.get(action.profile)
        if header is not None:
            msg.header.stamp = header.stamp
            msg.header.frame_id = header.frame_id or self._frame_id
        else:
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.header.frame_id = self._frame_id
        msg.point.x, msg.point.y, msg.point.z = action.x, action.y, 0.0
        self._target.publish(msg)
        if not self._calibration_asked and self._machine.services_are_ready():
            self._calibration_asked = True
            answer = await _awaited(self._machine.get_parameters(['calibration_file']))
            self._targets.path = answer.values[0].string_value if answer.values else ''
        mm = self._targets.to_mm(action.x, action.y,
                                 camera_of(action.profile, self._shown_mode()))
        if mm is None:
            return Outcome(True, detail={'x': action.x, 'y': action.y, 'mm': None,
                                         'mm_reason': self._targets.error})
        in_mm = PointStamped(header=msg.header)
        in_mm.header.frame_id = 'nozzle'
        in_mm.point.x, in_mm.point.y = mm.x, mm.y
        self._target_mm.publish(in_mm)
        return Outcome(True, detail={'x': action.x, 'y': action.y,
                                     'mm': [round(mm.x, 4), round(mm.y, 4)],
                                     'camera': mm.camera})

    async def _set_parameter(self, client: AsyncParameterClient, name: str,
                             value: Any) -> Outcome:
        if not client.services_are_ready():
            return Outcome(False, f'{name}: the node {client.remote_node_name!r} does not '
                                  f'answer (parameter services not available)')
        response = await _awaited(client.set_parameters([Parameter(name, value=value)]))
        result = response.results[0]
        if not result.successful:
            return Outcome(False, result.reason or f'{name}: refused by the node')
        return Outcome(True)

    # -- teardown ------------------------------------------------------------------------
    def destroy_node(self) -> None:
        self._server.stop()
        super().destroy_node()


class _Backend:
    """The server's backend: a node's ``handle`` is taken (rclpy's node handle)."""

    def __init__(self, node: OperatorNode) -> None:
        self._node = node

    def handle(self, action: Any) -> Any:
        return self._node.on_page_action(action)


async def _awaited(future: Any) -> Any:
    """Await an rclpy future (completed by the node's executor) on the web loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()
    future.add_done_callback(lambda f: loop.call_soon_threadsafe(_settle, done, f))
    return await done


def _settle(done: asyncio.Future, future: Any) -> None:
    if done.done():
        return
    error = future.exception()
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(future.result())


def main(args: list[str] | None = None) -> int:
    return run_node(OperatorNode, NODE_NAME, args, errors=(OSError,))


if __name__ == '__main__':
    raise SystemExit(run_as_main(main))
