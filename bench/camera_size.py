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

"""The benches' ``WxH@FPS`` argument: one parser, so a bad value reads the same in every bench."""

from __future__ import annotations

import argparse

__all__ = ['camera_size']


def camera_size(text: str) -> tuple[int, int, float]:
    """Parse ``WxH@FPS`` (``@FPS`` optional: 30) for argparse ``type=``.

    A bad value is an ``ArgumentTypeError``: argparse prints it as one line naming the option
    the user typed, with a non-zero status, instead of a traceback.
    """
    dims, _, fps = text.partition('@')
    width, _, height = dims.partition('x')
    try:
        size = int(width), int(height), float(fps or 30)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not WxH@FPS, e.g. 1280x720@30') from None
    if min(size) <= 0:
        raise argparse.ArgumentTypeError(f'{text!r}: width, height and fps must be above 0')
    return size
