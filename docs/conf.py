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

"""Sphinx settings for rosdoc2 (rosdoc2.yaml): the markdown pages of docs/, nothing generated.

rosdoc2 wraps this file in its own conf.py (adding MyST, autodoc, intersphinx and its theme).
``myst_heading_anchors`` gives headings the GitHub slugs that the pages' ``page.md#heading``
links use, so MyST can check every one. Left out of the build:

- the README copies rosdoc2 adds as "standard documents": their ``docs/...`` links point from
  the repository root and cannot resolve inside the built tree;
- the Python API pages sphinx-apidoc writes: autodoc must import every module, and
  ``picam_ros.centroids.engine`` checks the C++ extension's record layout at import time, so they
  would need the extension built for the docs.
"""

project = 'picam_ros'
myst_heading_anchors = 4
exclude_patterns = ['standard_docs', 'standards.rst', '__readme_include.rst',
                    'modules.rst', 'picam_ros*.rst']
