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

"""Raw video frames: memory layout, one reusable buffer per frame, zero-copy plane views.

A source reads each frame into the ``data`` buffer of a :class:`Frame` exactly as the
producer wrote it (rows possibly padded to a stride, as rpicam-vid does for widths that are
not a multiple of 64). Everything downstream either looks at zero-copy views of that buffer
(``y``, ``u``, ``v``, ``uv``) or asks for a packed conversion into a caller-owned ``out``
buffer, so a steady-state pipeline allocates nothing per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picam_ros.core.formats import FORMATS, PixelFormat, plane_views, Planes, split_uv

try:  # C++ kernels (src_cpp/convert.cpp); the numpy versions below give identical results
    from picam_ros._centroids import interleave_planes as _native_interleave
    from picam_ros._centroids import yuv420_to_bgr as _native_yuv420_to_bgr
except ImportError:
    _native_interleave = None
    _native_yuv420_to_bgr = None

LAYOUTS: tuple[str, ...] = tuple(FORMATS)
#: Largest accepted side: generous for any Pi sensor mode, small enough to catch typos.
MAX_SIDE = 16384

# BT.601 limited-range YUV -> RGB in 20-bit fixed point: the coefficients of the standard
# (1.164, 1.596, -0.813, -0.391, 2.018) scaled by 2**20. Same rounding as OpenCV's
# COLOR_YUV2BGR_I420, so results agree with cv2.cvtColor to the bit.
_SHIFT = 20
_HALF = 1 << (_SHIFT - 1)
_CY = 1220542
_CVR = 1673527
_CVG = -852492
_CUG = -409993
_CUB = 2116026
# Luma term per code value, Y below 16 clamps to black.
_Y_TERM = (np.maximum(np.arange(256, dtype=np.int32) - 16, 0) * _CY).astype(np.int32)


def _require_int(name: str, value: object) -> int:
    # ValueError, not TypeError: callers treat every bad configuration value alike.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be an integer, got {value!r}')  # noqa: TRY004
    return int(value)


@dataclass(frozen=True)
class FrameFormat:
    """Geometry and memory layout of one raw frame.

    ``stride`` is the byte length of one luma row as the producer writes it (``None`` means
    ``width``). Chroma rows follow the luma stride: I420 chroma planes use ``stride // 2``
    bytes per row, the interleaved NV12/NV21 plane uses ``stride`` bytes per row.
    """

    width: int
    height: int
    layout: str = 'i420'
    stride: int | None = None

    def __post_init__(self) -> None:
        width = _require_int('width', self.width)
        height = _require_int('height', self.height)
        if self.layout not in LAYOUTS:
            raise ValueError(f'layout must be one of {", ".join(LAYOUTS)}, got {self.layout!r}')
        for name, side in (('width', width), ('height', height)):
            if not 1 <= side <= MAX_SIDE:
                raise ValueError(f'{name} must be in [1, {MAX_SIDE}], got {side}')
        pixel_format = FORMATS[self.layout]
        if pixel_format.subsampled and (width % 2 or height % 2):
            raise ValueError(
                f'{self.layout} is 4:2:0 subsampled: width and height must be even, '
                f'got {width}x{height}')
        if self.stride is not None:
            stride = _require_int('stride', self.stride)
            if stride < width:
                raise ValueError(f'stride ({stride}) must be >= width ({width})')
            if pixel_format.even_stride and stride % 2:
                raise ValueError(f'{self.layout} stride must be even (chroma rows are stride/2 '
                                 f'bytes), got {stride}')
            object.__setattr__(self, 'stride', stride)
        object.__setattr__(self, 'width', width)
        object.__setattr__(self, 'height', height)

    @property
    def pixel_format(self) -> PixelFormat:
        """Return the layout's entry in the one format table (geometry, names, packing)."""
        return FORMATS[self.layout]

    @property
    def row_stride(self) -> int:
        """Bytes per luma row as read from the source."""
        return self.width if self.stride is None else self.stride

    @property
    def is_padded(self) -> bool:
        return self.row_stride != self.width

    @property
    def luma_bytes(self) -> int:
        return self.row_stride * self.height

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame as read from the source, padding included."""
        return self.pixel_format.frame_bytes(self.row_stride, self.height)

    @property
    def packed_bytes(self) -> int:
        """Bytes of the frame with padding removed (w*h*3/2, or w*h for mono8)."""
        return self.pixel_format.frame_bytes(self.width, self.height)

    def packed(self, layout: str | None = None) -> FrameFormat:
        """Return the same geometry without row padding, optionally in another layout."""
        return FrameFormat(self.width, self.height, layout or self.layout)

    def __str__(self) -> str:
        padding = f' stride {self.stride}' if self.is_padded else ''
        return f'{self.width}x{self.height} {self.layout}{padding}'


class Frame:
    """One raw frame: a flat uint8 buffer plus capture metadata.

    ``stamp_ns`` is ``time.time_ns()`` and ``mono_ns`` ``time.monotonic_ns()``, both taken when
    the last byte of the frame arrived; ``sequence`` counts frames the source produced since it
    started, so gaps reveal drops. Sources refill the same buffer: hold a frame only until the
    next ``read()`` of its source unless you ``copy()`` it.
    """

    __slots__ = ('_data', '_format', '_views', 'mono_ns', 'sequence', 'stamp_ns')

    def __init__(self, fmt: FrameFormat, data: np.ndarray | None = None,
                 stamp_ns: int = 0, mono_ns: int = 0, sequence: int = -1) -> None:
        if not isinstance(fmt, FrameFormat):
            raise TypeError(f'fmt must be a FrameFormat, got {type(fmt).__name__}')
        if data is None:
            data = np.zeros(fmt.frame_bytes, dtype=np.uint8)
        elif not isinstance(data, np.ndarray):
            raise TypeError(f'data must be a numpy array, got {type(data).__name__}')
        elif data.dtype != np.uint8 or data.ndim != 1 or not data.flags.c_contiguous:
            raise ValueError(
                f'data must be a 1-D contiguous uint8 array, got {data.dtype} shape {data.shape}')
        elif data.size != fmt.frame_bytes:
            raise ValueError(
                f'data holds {data.size} bytes but a {fmt} frame is {fmt.frame_bytes}')
        self._format = fmt
        self._data = data
        self.stamp_ns = stamp_ns
        self.mono_ns = mono_ns
        self.sequence = sequence
        self._views: Planes | None = None

    @classmethod
    def from_packed(cls, array: np.ndarray, layout: str = 'i420', **metadata: int) -> Frame:
        """Wrap a packed image: (H, W) for mono8, (H*3/2, W) for the 4:2:0 layouts."""
        array = np.ascontiguousarray(array, dtype=np.uint8)
        if array.ndim != 2:
            raise ValueError(f'expected a 2-D array (rows, width), got shape {array.shape}')
        rows, width = array.shape
        height = FORMATS[layout].height_of_rows(rows) if layout in FORMATS else rows
        if height is None:
            raise ValueError(f'a 4:2:0 frame has height*3/2 rows; {rows} is not divisible')
        return cls(FrameFormat(width, height, layout), array.reshape(-1), **metadata)

    @property
    def format(self) -> FrameFormat:
        return self._format

    def __repr__(self) -> str:
        return (f'Frame({self._format}, sequence={self.sequence}, stamp_ns={self.stamp_ns}, '
                f'mono_ns={self.mono_ns})')

    @property
    def data(self) -> np.ndarray:
        return self._data

    @property
    def width(self) -> int:
        return self._format.width

    @property
    def height(self) -> int:
        return self._format.height

    def planes(self) -> Planes:
        """Return zero-copy plane views: the same type as the Image decoder returns."""
        # The buffer never changes for the lifetime of a Frame, so its views are built once.
        if self._views is None:
            fmt = self._format
            self._views = plane_views(self._data, fmt.layout, fmt.width, fmt.height,
                                      fmt.row_stride)
        return self._views

    @property
    def y(self) -> np.ndarray:
        """(H, W) luma view into the buffer (strided when rows are padded)."""
        return self.planes().luma

    @property
    def u(self) -> np.ndarray | None:
        """(H/2, W/2) U view for planar (i420) frames, ``None`` otherwise."""
        return self.planes().u

    @property
    def v(self) -> np.ndarray | None:
        """(H/2, W/2) V view for planar (i420) frames, ``None`` otherwise."""
        return self.planes().v

    @property
    def uv(self) -> np.ndarray | None:
        """(H/2, W) interleaved chroma view for nv12/nv21 frames, ``None`` otherwise."""
        return self.planes().uv

    def chroma(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(U, V) as (H/2, W/2) views for any 4:2:0 layout (element-strided for nv12/nv21)."""
        return split_uv(self.planes())

    def copy(self) -> Frame:
        """Return a frame with its own buffer, safe to keep across reads of the source."""
        return Frame(self._format, self._data.copy(), self.stamp_ns, self.mono_ns, self.sequence)

    def copy_into(self, other: Frame) -> Frame:
        """Copy buffer and metadata into ``other`` (same format), reusing its buffer."""
        if other.format != self._format:
            raise ValueError(f'cannot copy a {self._format} frame into a {other.format} frame')
        np.copyto(other.data, self._data)
        other.stamp_ns, other.mono_ns, other.sequence = self.stamp_ns, self.mono_ns, self.sequence
        return other

    def _out(self, out: np.ndarray | None, size: int, shape: tuple, what: str) -> np.ndarray:
        if out is None:
            return np.empty(shape, dtype=np.uint8)
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f'{what}: out must be a C-contiguous uint8 numpy array')
        if out.size != size:
            raise ValueError(f'{what}: out holds {out.size} bytes, {self._format} needs {size}')
        return out

    def _write_chroma(self, uv_out: np.ndarray, order: str) -> None:
        """Fill a packed (H/2, W/2, 2) interleaved chroma plane, ``order`` 'uv' or 'vu'."""
        fmt = self._format
        if not fmt.pixel_format.subsampled:
            uv_out.fill(128)
            return
        if fmt.pixel_format.chroma == order:
            uv_out.reshape(fmt.height // 2, fmt.width)[...] = self.uv
            return
        u, v = self.chroma()
        first, second = (u, v) if order == 'uv' else (v, u)
        if _native_interleave is not None:
            _native_interleave(first, second, uv_out)
        else:
            interleave_numpy(first, second, uv_out)

    def _to_semiplanar(self, out: np.ndarray | None, order: str, name: str) -> np.ndarray:
        fmt = self._format
        w, h = fmt.width, fmt.height
        size = w * h * 3 // 2
        result = self._out(out, size, (size,), name)
        flat = result.reshape(-1)
        flat[:w * h].reshape(h, w)[...] = self.y
        self._write_chroma(flat[w * h:].reshape(h // 2, w // 2, 2), order)
        return result

    def to_nv21(self, out: np.ndarray | None = None) -> np.ndarray:
        """Packed NV21 (Y plane, then interleaved V,U): the 4:2:0 encoding ROS Jazzy knows.

        mono8 frames get neutral chroma (128).
        """
        return self._to_semiplanar(out, 'vu', 'to_nv21')

    def to_nv12(self, out: np.ndarray | None = None) -> np.ndarray:
        """Packed NV12 (Y plane, then interleaved U,V)."""
        return self._to_semiplanar(out, 'uv', 'to_nv12')

    def to_i420(self, out: np.ndarray | None = None) -> np.ndarray:
        """Packed I420 (Y, U, V planes) with row padding removed: what an encoder reads."""
        fmt = self._format
        w, h = fmt.width, fmt.height
        size = w * h * 3 // 2
        result = self._out(out, size, (size,), 'to_i420')
        flat = result.reshape(-1)
        if fmt.layout == 'i420' and not fmt.is_padded:
            np.copyto(flat, self._data)
            return result
        quarter = (w // 2) * (h // 2)
        flat[:w * h].reshape(h, w)[...] = self.y
        u_out = flat[w * h:w * h + quarter].reshape(h // 2, w // 2)
        v_out = flat[w * h + quarter:].reshape(h // 2, w // 2)
        if not fmt.pixel_format.subsampled:
            flat[w * h:].fill(128)
        else:
            u, v = self.chroma()
            u_out[...] = u
            v_out[...] = v
        return result

    def to_mono8(self, out: np.ndarray | None = None) -> np.ndarray:
        """(H, W) contiguous copy of the luma plane (``y`` is the zero-copy view)."""
        fmt = self._format
        result = self._out(out, fmt.width * fmt.height, (fmt.height, fmt.width), 'to_mono8')
        result.reshape(fmt.height, fmt.width)[...] = self.y
        return result

    def to_bgr(self, out: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 3) BGR for viewers: BT.601 limited range, chroma replicated per 2x2 block.

        Matches OpenCV's ``COLOR_YUV2BGR_I420`` / ``_NV12`` / ``_NV21``; mono8 frames are
        taken as full-range grey and replicated into the three channels.
        """
        fmt = self._format
        w, h = fmt.width, fmt.height
        result = self._out(out, w * h * 3, (h, w, 3), 'to_bgr')
        bgr = result.reshape(h, w, 3)
        if not fmt.pixel_format.subsampled:
            bgr[...] = self.y[:, :, None]
            return bgr if out is None else result
        u, v = self.chroma()
        if _native_yuv420_to_bgr is not None:
            _native_yuv420_to_bgr(self.y, u, v, bgr)
        else:
            yuv420_to_bgr_numpy(self.y, u, v, bgr)
        return bgr if out is None else result


def interleave_numpy(first: np.ndarray, second: np.ndarray, out: np.ndarray) -> None:
    """Write two (h, w) planes as (h, w, 2) pairs: the numpy twin of the C++ kernel."""
    out[..., 0] = first
    out[..., 1] = second


def yuv420_to_bgr_numpy(y: np.ndarray, u: np.ndarray, v: np.ndarray, bgr: np.ndarray) -> None:
    """BT.601 limited-range 4:2:0 -> BGR into ``bgr`` (H, W, 3), bit-identical to OpenCV.

    The numpy twin of the C++ kernel: chroma terms are computed once per 2x2 block and each of
    the four luma phases is added in turn, so no full-size chroma image is materialised.
    """
    h, w = y.shape
    du = u.astype(np.int32)
    du -= 128
    dv = v.astype(np.int32)
    dv -= 128
    r_uv = dv * _CVR
    r_uv += _HALF
    b_uv = du * _CUB
    b_uv += _HALF
    g_uv = du * _CUG
    g_uv += dv * _CVG
    g_uv += _HALF
    del du, dv
    term = np.empty((h // 2, w // 2), dtype=np.int32)
    for dy in (0, 1):
        for dx in (0, 1):
            y_term = _Y_TERM[y[dy::2, dx::2]]
            for channel, chroma_term in ((0, b_uv), (1, g_uv), (2, r_uv)):
                np.add(y_term, chroma_term, out=term)
                term >>= _SHIFT
                np.clip(term, 0, 255, out=term)
                bgr[dy::2, dx::2, channel] = term
