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

"""The FastDDS profile picam_ros ships for multi-megabyte images, and when it applies.

FastDDS (``rmw_fastrtps_cpp``, Jazzy's and Humble's default RMW) gives each participant a
512 KiB shared-memory segment; a publisher's samples are written into its own segment, so a
1024x1024 (1.5 MB) or 1920x1920 (5.5 MB) image does not fit, goes over fragmented best-effort
UDP instead, and most frames are lost (1.8 Hz of 25 at 1920x1920 here). The segment size is the
publisher's setting: with ``config/fastdds_large_frames.xml`` loaded by the camera node, a
subscriber with stock settings in an ordinary shell (``ros2 topic hz``, rviz, rosbag) on the same
host receives every frame.

The launch files call :func:`apply_default_profile` before they start any node; a profile the
user chose (``FASTRTPS_DEFAULT_PROFILES_FILE`` or ``FASTDDS_DEFAULT_PROFILES_FILE``) or another
RMW is left alone. :func:`large_frame_warning` is the one line a node prints when it will publish
frames that the active settings are known to lose.
"""

from collections.abc import Mapping, MutableMapping
import os
from pathlib import Path

try:
    from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
except ImportError:   # no ROS: the source tree's profile is used
    get_package_share_directory = None

PACKAGE = 'picam_ros'
PROFILE_NAME = 'fastdds_large_frames.xml'
#: Both spellings FastDDS reads (FASTRTPS_* in FastDDS 2.x, Jazzy; FASTDDS_* in 3.x).
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
FASTDDS_RMWS = ('rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')
#: FastDDS's default shared-memory segment (bytes per participant).
DEFAULT_SEGMENT_BYTES = 512 * 1024


def uses_fastdds(environ: Mapping[str, str] = os.environ) -> bool:
    """Tell whether nodes started with this environment use FastDDS (the default RMW)."""
    return environ.get('RMW_IMPLEMENTATION', '') in ('', *FASTDDS_RMWS)


def user_profile(environ: Mapping[str, str] = os.environ) -> str | None:
    """Return the FastDDS profile file the user set, if any."""
    return next((environ[name] for name in PROFILE_VARIABLES if environ.get(name)), None)


def shipped_profile() -> Path:
    """Return the installed ``share/picam_ros/config`` profile (or the source tree's)."""
    share = None
    if get_package_share_directory is not None:
        try:
            share = Path(get_package_share_directory(PACKAGE))
        except (PackageNotFoundError, OSError):   # not installed / no AMENT_PREFIX_PATH
            pass
    installed = share / 'config' / PROFILE_NAME if share else None
    if installed is not None and installed.is_file():
        return installed
    return Path(__file__).resolve().parents[2] / 'config' / PROFILE_NAME


def apply_default_profile(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Point FastDDS at the shipped profile unless the user chose one; return it if applied.

    Call it before any node starts (launch files: first thing in
    ``generate_launch_description``); started processes inherit the variable.
    """
    if not uses_fastdds(environ) or user_profile(environ) is not None:
        return None
    profile = shipped_profile()
    if not profile.is_file():
        return None
    environ[PROFILE_VARIABLES[0]] = str(profile)
    return profile


def large_frame_warning(frame_bytes: int,
                        environ: Mapping[str, str] = os.environ) -> str | None:
    """Return one line for the log when FastDDS's stock settings will lose frames of this size."""
    if not uses_fastdds(environ) or user_profile(environ) is not None:
        return None
    if frame_bytes <= DEFAULT_SEGMENT_BYTES:
        return None
    return (f"images of {frame_bytes / 1e6:.1f} MB do not fit FastDDS's default 512 KiB "
            f'shared-memory segment: subscribers will lose most frames. Start this node with '
            f'{PROFILE_VARIABLES[0]}={shipped_profile()} (the picam_ros launch files do) or '
            f'a profile of your own; subscribers on this host need nothing')
