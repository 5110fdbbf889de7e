// Copyright 2026 picam_ros maintainers
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// Centroid engine implementation: see centroids.hpp for the contract.
#include "centroids.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace picam {
namespace {

// The run scanner packs eight key bytes into eight bits by loading them as one little-endian
// word; every target we build for (x86-64, AArch64, ARMv7) is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "run scanner assumes little-endian");

constexpr int kBlock = 64;  // pixels scanned per bitmap word
constexpr std::uint32_t kNoLabel = std::numeric_limits<std::uint32_t>::max();

std::uint64_t load_word(const std::uint8_t* p) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    return word;
}

// 0xFF where v is in [lo, lo + span], else 0. One subtract and one unsigned compare, which the
// compiler turns into a handful of SSE2/NEON byte instructions per 16 pixels.
inline std::uint8_t in_range(std::uint8_t v, std::uint8_t lo, std::uint8_t span) {
    return static_cast<std::uint8_t>(-static_cast<int>(static_cast<std::uint8_t>(v - lo) <= span));
}

// gate[j] &= in_range(src[j * Step]) for n chroma samples; Step is 1 for a planar U or V row
// and 2 for one component of an interleaved UV row. A compile-time step lets the compiler
// vectorise the strided read.
template <int Step>
void apply_gate(const std::uint8_t* src, int n, ByteRange range, std::uint8_t* gate) {
    const std::uint8_t lo = range.lo;
    const std::uint8_t span = static_cast<std::uint8_t>(range.hi - range.lo);
    for (int j = 0; j < n; ++j) {
        gate[j] = static_cast<std::uint8_t>(gate[j] & in_range(src[j * Step], lo, span));
    }
}

// Bit i of the result is the top bit of key byte i of the block (key bytes are 0 or 0xFF). With
// SSE2 (every x86-64) one movemask per 16 bytes; elsewhere a multiply gathers the eight top bits
// of a word into the high byte of the product.
std::uint64_t pack_block(const std::uint8_t* key) {
    std::uint64_t bits = 0;
#if defined(__SSE2__)
    for (int j = 0; j < kBlock / 16; ++j) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16 * j));
        bits |= std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(bytes))} << (16 * j);
    }
#else
    for (int j = 0; j < kBlock / 8; ++j) {
        const std::uint64_t tops = load_word(key + 8 * j) & 0x8080808080808080ULL;
        bits |= ((tops * 0x0002040810204081ULL) >> 56) << (8 * j);
    }
#endif
    return bits;
}

// Whether a block of kBlock luma pixels may contain a keyed pixel. With d = pixel - lo (mod
// 256) a pixel is in range iff d <= span, so one min (or, inverted, max) reduction answers for
// the whole block without producing key bytes: a few SSE2/NEON instructions per 64 pixels,
// which is what makes the mostly dark board cheap.
template <bool Invert>
bool block_may_have_key(const std::uint8_t* src, std::uint8_t lo, std::uint8_t span) {
    if constexpr (Invert) {
        std::uint8_t most = 0;
        for (int i = 0; i < kBlock; ++i) {
            const auto d = static_cast<std::uint8_t>(src[i] - lo);
            most = d > most ? d : most;
        }
        return most > span;
    } else {
        std::uint8_t least = 0xFF;
        for (int i = 0; i < kBlock; ++i) {
            const auto d = static_cast<std::uint8_t>(src[i] - lo);
            least = d < least ? d : least;
        }
        return least <= span;
    }
}

// Key bitmap (bit i = pixel i keyed) of a block of kBlock luma pixels.
template <bool Invert>
std::uint64_t luma_block_bits(const std::uint8_t* src, std::uint8_t lo, std::uint8_t span) {
    if (!block_may_have_key<Invert>(src, lo, span)) {
        return 0;
    }
    constexpr std::uint8_t flip = Invert ? 0xFF : 0;
    std::uint8_t key[kBlock];
    for (int i = 0; i < kBlock; ++i) {
        key[i] = static_cast<std::uint8_t>(in_range(src[i], lo, span) ^ flip);
    }
    return pack_block(key);
}

// Key bitmap of a block of kBlock luma pixels with a chroma gate (0 or 0xFF per pixel). A block
// with no luma in range is decided by the luma reduction alone: no pixel keyed, or all of them
// when inverted.
template <bool Invert>
std::uint64_t gated_block_bits(const std::uint8_t* src, const std::uint8_t* gate,
                               std::uint8_t lo, std::uint8_t span) {
    if (!block_may_have_key<false>(src, lo, span)) {
        return Invert ? ~std::uint64_t{0} : 0;
    }
    constexpr std::uint8_t flip = Invert ? 0xFF : 0;
    std::uint8_t key[kBlock];
    for (int i = 0; i < kBlock; ++i) {
        key[i] = static_cast<std::uint8_t>((in_range(src[i], lo, span) & gate[i]) ^ flip);
    }
    return pack_block(key);
}

// Calls on_run(begin, end) for every maximal run of keyed pixels of a row of n pixels, left to
// right, end exclusive. block_bits(base) returns the key bitmap of pixels [base, base + 64),
// with zero bits past n.
template <class BlockBits, class OnRun>
void for_each_run(int n, BlockBits&& block_bits, OnRun&& on_run) {
    bool in_run = false;
    int run_begin = 0;
    for (int base = 0; base < n; base += kBlock) {
        const std::uint64_t bits = block_bits(base);
        // `seek` has a 1 wherever a pixel differs from the current state (inside/outside a
        // run), so its lowest set bit at or after `from` is the next run boundary. Blocks that
        // change nothing (dark outside a run, full inside one) leave the loop at once.
        std::uint64_t seek = in_run ? ~bits : bits;
        int from = 0;
        for (;;) {
            const std::uint64_t ahead = seek & (~std::uint64_t{0} << from);
            if (ahead == 0) {
                break;
            }
            const int pos = __builtin_ctzll(ahead);
            if (in_run) {
                on_run(run_begin, base + pos);
            } else {
                run_begin = base + pos;
            }
            in_run = !in_run;
            seek = ~seek;
            from = pos;
        }
    }
    if (in_run) {
        on_run(run_begin, n);
    }
}

// Sum of the four 16-bit lanes of a word.
std::int64_t fold_lanes(std::uint64_t lanes) {
    return static_cast<std::int64_t>((lanes & 0xFFFF) + ((lanes >> 16) & 0xFFFF) +
                                     ((lanes >> 32) & 0xFFFF) + (lanes >> 48));
}

// Sum of n bytes, eight at a time in the four 16-bit lanes of a 64-bit word (portable SWAR:
// runs are short, so this beats a vector loop that would mostly run its scalar tail). A lane
// gains at most 2 * 255 per word, so up to 128 words fit before the lanes must be folded.
std::int64_t sum_bytes(const std::uint8_t* p, int n) {
    if (n < 8) {
        std::int64_t total = 0;
        for (int i = 0; i < n; ++i) {
            total += p[i];
        }
        return total;
    }
    constexpr std::uint64_t kEvenBytes = 0x00FF00FF00FF00FFULL;
    constexpr int kWordsPerFold = 128;
    std::int64_t total = 0;
    std::uint64_t lanes = 0;
    int words_in_lanes = 0;
    const int whole_words = n / 8;
    for (int w = 0; w < whole_words; ++w) {
        const std::uint64_t word = load_word(p + 8 * w);
        lanes += (word & kEvenBytes) + ((word >> 8) & kEvenBytes);
        if (++words_in_lanes == kWordsPerFold) {
            total += fold_lanes(lanes);
            lanes = 0;
            words_in_lanes = 0;
        }
    }
    const int rest = n - 8 * whole_words;
    if (rest > 0) {
        // The last eight bytes of the run overlap words already summed: shift those bytes out.
        // (words_in_lanes < 128 here, so the lanes have room for one more word.)
        const std::uint64_t word = load_word(p + n - 8) >> (8 * (8 - rest));
        lanes += (word & kEvenBytes) + ((word >> 8) & kEvenBytes);
    }
    return total + fold_lanes(lanes);
}

// Cuts one row of the region at a time into runs of keyed pixels, keying block by block
// straight from the frame. Chroma gates are evaluated once per chroma row (every second luma
// row) and expanded to luma resolution in one row buffer.
class RowScanner {
public:
    RowScanner(const ImageView& image, const Keying& keying, const Region& region,
               std::vector<std::uint8_t>& gate, std::vector<std::uint8_t>& gate_half)
        : image_(image), keying_(keying), region_(region), gate_(gate), gate_half_(gate_half),
          lo_(keying.luma.lo), span_(static_cast<std::uint8_t>(keying.luma.hi - keying.luma.lo)),
          gated_(keying.u.enabled || keying.v.enabled),
          chroma_x0_(region.x / 2),
          chroma_n_((region.x + region.width - 1) / 2 - region.x / 2 + 1) {
        if (gated_) {
            // Expanded gate: byte 2k and 2k+1 hold chroma sample chroma_x0 + k, so region
            // column i is byte i + (region.x & 1). The slack lets the last block read 64 bytes.
            gate_.assign(static_cast<std::size_t>(2 * chroma_n_ + kBlock), 0);
            gate_half_.assign(static_cast<std::size_t>(chroma_n_), 0);
        }
    }

    // Calls on_run(begin, end) for the runs of row y, in region columns (0 = region.x).
    template <class OnRun>
    void scan(int y, OnRun&& on_run) {
        const std::uint8_t* luma = image_.luma.row(y) + region_.x;
        const std::uint8_t lo = lo_;
        const std::uint8_t span = span_;
        if (gated_) {
            if (y / 2 != gated_chroma_row_) {
                gate_chroma_row(y / 2);
            }
            const std::uint8_t* gate = gate_.data() + (region_.x & 1);
            if (keying_.invert) {
                scan_blocks(luma, [=](const std::uint8_t* pixels, int base) {
                    return gated_block_bits<true>(pixels, gate + base, lo, span);
                }, on_run);
            } else {
                scan_blocks(luma, [=](const std::uint8_t* pixels, int base) {
                    return gated_block_bits<false>(pixels, gate + base, lo, span);
                }, on_run);
            }
        } else if (keying_.invert) {
            scan_blocks(luma, [=](const std::uint8_t* pixels, int) {
                return luma_block_bits<true>(pixels, lo, span);
            }, on_run);
        } else {
            scan_blocks(luma, [=](const std::uint8_t* pixels, int) {
                return luma_block_bits<false>(pixels, lo, span);
            }, on_run);
        }
    }

private:
    // Runs of one row, with block_bits(pixels, base) giving the key bitmap of the kBlock
    // pixels at `pixels` (region columns base...).
    template <class BlockBits, class OnRun>
    void scan_blocks(const std::uint8_t* luma, BlockBits&& block_bits, OnRun&& on_run) {
        const int n = region_.width;
        const int whole_blocks_end = n / kBlock * kBlock;
        for_each_run(n, [&](int base) -> std::uint64_t {
            if (base < whole_blocks_end) {
                return block_bits(luma + base, base);
            }
            // The last, partial block is keyed from a copy (never read past the row); the
            // copy's padding is keyed too, so its bits are masked off.
            const int count = n - base;
            std::uint8_t tail[kBlock] = {};
            std::memcpy(tail, luma + base, static_cast<std::size_t>(count));
            return block_bits(tail, base) & ((std::uint64_t{1} << count) - 1);
        }, on_run);
    }

    void gate_chroma_row(int cy) {
        std::uint8_t* half = gate_half_.data();
        const int n = chroma_n_;
        std::fill(half, half + n, std::uint8_t{0xFF});
        if (image_.uv.present()) {
            const std::uint8_t* pairs = image_.uv.row(cy) + 2 * chroma_x0_;
            const int u_offset = image_.uv_is_vu ? 1 : 0;
            if (keying_.u.enabled) {
                apply_gate<2>(pairs + u_offset, n, keying_.u.range, half);
            }
            if (keying_.v.enabled) {
                apply_gate<2>(pairs + (1 - u_offset), n, keying_.v.range, half);
            }
        } else {
            if (keying_.u.enabled) {
                apply_gate<1>(image_.u.row(cy) + chroma_x0_, n, keying_.u.range, half);
            }
            if (keying_.v.enabled) {
                apply_gate<1>(image_.v.row(cy) + chroma_x0_, n, keying_.v.range, half);
            }
        }
        std::uint8_t* gate = gate_.data();
        for (int k = 0; k < n; ++k) {
            gate[2 * k] = half[k];
            gate[2 * k + 1] = half[k];
        }
        gated_chroma_row_ = cy;
    }

    const ImageView& image_;
    const Keying& keying_;
    const Region& region_;
    std::vector<std::uint8_t>& gate_;
    std::vector<std::uint8_t>& gate_half_;
    const std::uint8_t lo_;
    const std::uint8_t span_;
    const bool gated_;
    const int chroma_x0_;
    const int chroma_n_;
    int gated_chroma_row_ = -1;
};

// sum / count as a double. Below 2^53 both convert exactly and the division rounds once (the
// same arithmetic OpenCV uses, so results match bit for bit); above, split off the integer part
// so the result stays within an ulp.
double exact_mean(std::int64_t sum, std::int64_t count) {
    if (sum < (std::int64_t{1} << 53)) {
        return static_cast<double>(sum) / static_cast<double>(count);
    }
    return static_cast<double>(sum / count) +
           static_cast<double>(sum % count) / static_cast<double>(count);
}

// A run's nonnegative int64 term as a WideSum: zero-extended, not sign-extended.
WideSum widen(std::int64_t term) { return static_cast<WideSum>(static_cast<std::uint64_t>(term)); }

// table[k] = sum of i^2 for i = 0..k-1, k = 0..n, so a run [x0, x1) has sum of x^2 =
// table[x1] - table[x0] (two loads instead of two cubic polynomials per run). Exact in int64
// for n <= 2^20: the sum is below n^3 / 3 < 2^59.
void fill_squares_below(std::vector<std::int64_t>& table, int n) {
    if (table.size() == static_cast<std::size_t>(n) + 1) {
        return;  // same width as the previous call
    }
    table.resize(static_cast<std::size_t>(n) + 1);
    std::int64_t total = 0;
    for (int k = 0; k <= n; ++k) {
        table[static_cast<std::size_t>(k)] = total;
        total += static_cast<std::int64_t>(k) * k;
    }
}

// (count * sum_ab - sum_a * sum_b) / count: the central moment from raw sums. The numerator is
// an exact integer (with 128-bit sums: count < 2^31, sum_ab < 2^71, sum_a, sum_b < 2^51, so
// every product is below 2^102), so the result is rounded twice (to double, then the
// division) instead of cancelling two large rounded terms as a double formula would.
// `small` (see moments_fit_int64) says every product fits in int64: then the numerator is formed
// there, avoiding the 128-bit multiplies and the int128 -> double conversion; same result.
double central_moment(WideSum sum_ab, std::int64_t sum_a, std::int64_t sum_b,
                      std::int64_t count, bool small) {
    if (small) {
        const std::int64_t numerator = count * static_cast<std::int64_t>(sum_ab) - sum_a * sum_b;
        return static_cast<double>(numerator) / static_cast<double>(count);
    }
    const WideSigned n = static_cast<WideSigned>(count);
    const WideSigned numerator =
        n * static_cast<WideSigned>(sum_ab) - static_cast<WideSigned>(sum_a) * sum_b;
    return static_cast<double>(numerator) / static_cast<double>(count);
}

// Whether every product central_moment forms for a blob fits in int64: each raw second-order
// sum is at most area * side^2 and each first-order sum at most area * side, where side bounds
// every coordinate, so all products are below (area * side)^2 <= 2^62 when area * side <= 2^31.
// True for every blob of a frame up to 2^31 / area pixels wide and tall: all blobs of a 1920x1920
// frame but the ones over a million pixels. One multiply instead of overflow-checked products.
bool moments_fit_int64(std::int64_t area, std::int32_t x_max, std::int32_t y_max) {
    const auto side = static_cast<std::uint64_t>(std::max(x_max, y_max)) + 1;
    return static_cast<std::uint64_t>(area) * side <= (std::uint64_t{1} << 31);
}

// Scratch (and output) vectors keep their storage across calls up to this size, or while at
// least an eighth of it is in use.
constexpr std::size_t kKeepScratchBytes = std::size_t{4} << 20;

template <class T>
void release_if_oversized(std::vector<T>& v) {
    if (v.capacity() * sizeof(T) > kKeepScratchBytes && v.capacity() > 8 * v.size()) {
        std::vector<T>().swap(v);
    }
}

// The equivalent ellipse of a blob from its central moments (see Blob).
void set_ellipse(Blob& blob) {
    const double half_diff = 0.5 * (blob.mu20 - blob.mu02);
    const double half_sum = 0.5 * (blob.mu20 + blob.mu02);
    const double radius = std::sqrt(half_diff * half_diff + blob.mu11 * blob.mu11);
    const double area = static_cast<double>(blob.area);
    // Blobs with mu11 == 0 (every single pixel, pair and straight line, hence most blobs of a
    // noisy frame) are axis-aligned: 0.5 * atan2(+0, d) is 0 for d >= +0 and pi / 2 for d < 0,
    // exactly what atan2 returns, without its ~75 instructions per blob. mu11 is never -0.0
    // (an exact zero numerator converts to +0.0).
    constexpr double kHalfPi = 0.5 * 3.14159265358979323846;
    blob.orientation = blob.mu11 == 0.0
        ? (blob.mu20 < blob.mu02 ? static_cast<float>(kHalfPi) : 0.0f)
        : static_cast<float>(0.5 * std::atan2(2.0 * blob.mu11, blob.mu20 - blob.mu02));
    blob.major_axis = static_cast<float>(4.0 * std::sqrt((half_sum + radius) / area));
    // Rounding can leave the smaller eigenvalue a hair below zero for a line of pixels.
    blob.minor_axis = static_cast<float>(4.0 * std::sqrt(std::max(half_sum - radius, 0.0) / area));
}

// Second-order central moments and the equivalent ellipse of a blob from its label's sums.
template <class Stats>
void set_moments(const Stats& s, Blob& blob) {
    if (s.area == 1) {
        // A single pixel (the salt of a noisy frame): no spread, a degenerate ellipse.
        blob.mu20 = blob.mu11 = blob.mu02 = 0.0;
        blob.orientation = blob.major_axis = blob.minor_axis = 0.0f;
        return;
    }
    const bool small = moments_fit_int64(s.area, s.x_max, s.y_max);
    const std::int64_t sum_x = s.twice_sum_x / 2;
    blob.mu20 = central_moment(s.sum_xx, sum_x, sum_x, s.area, small);
    blob.mu11 = central_moment(s.twice_sum_xy / 2, sum_x, s.sum_y, s.area, small);
    blob.mu02 = central_moment(s.sum_yy, s.sum_y, s.sum_y, s.area, small);
    set_ellipse(blob);
}

}  // namespace

// Union-find over run labels.
// Invariants:
// - A run that touches runs above takes (and unites) their roots; only a run with no keyed
//   neighbour above creates a label, and labels are created in scan (raster) order.
// - A component's first pixel in raster order starts such a run (a neighbour above would be an
//   earlier pixel of it), and that run is the first of the component to be scanned, so the
//   component's smallest label marks its first pixel.
// - unite() hangs the larger root under the smaller, so every root is the smallest label of its
//   set, and stats_[root] holds the sums of the whole set (stats of non-roots are stale and
//   never read). Hence sorting roots by label sorts blobs by first pixel in raster order.
std::uint32_t CentroidEngine::find_root(std::uint32_t label) {
    while (parent_[label] != label) {
        parent_[label] = parent_[parent_[label]];  // path halving keeps trees shallow
        label = parent_[label];
    }
    return label;
}

std::uint32_t CentroidEngine::unite(std::uint32_t a, std::uint32_t b) {
    if (b < a) {
        std::swap(a, b);
    }
    parent_[b] = a;
    LabelStats& into = stats_[a];
    const LabelStats& from = stats_[b];
    into.area += from.area;
    into.twice_sum_x += from.twice_sum_x;
    into.sum_y += from.sum_y;
    into.sum_luma += from.sum_luma;
    into.sum_xx += from.sum_xx;
    into.twice_sum_xy += from.twice_sum_xy;
    into.sum_yy += from.sum_yy;
    into.x_min = std::min(into.x_min, from.x_min);
    into.x_max = std::max(into.x_max, from.x_max);
    into.y_min = std::min(into.y_min, from.y_min);
    into.y_max = std::max(into.y_max, from.y_max);
    return a;
}

void CentroidEngine::release_oversized_scratch() {
    release_if_oversized(parent_);
    release_if_oversized(stats_);
    release_if_oversized(order_);
    release_if_oversized(runs_above_);
    release_if_oversized(runs_here_);
}

std::size_t CentroidEngine::find(const ImageView& image, const Keying& keying,
                                 const Region& region, const BlobFilter& filter,
                                 std::vector<Blob>& out) {
    // Two runs on consecutive rows touch when their x ranges overlap (4-connectivity) or are at
    // most one pixel apart diagonally (8-connectivity).
    const std::int32_t slack = filter.connectivity == 8 ? 1 : 0;
    parent_.clear();
    stats_.clear();
    // A row of w pixels has at most (w + 1) / 2 runs; both run rows are sized once per call.
    const std::size_t max_runs = static_cast<std::size_t>(region.width) / 2 + 1;
    runs_above_.resize(max_runs);
    runs_here_.resize(max_runs);
    Run* above_runs = runs_above_.data();
    Run* here_runs = runs_here_.data();
    std::size_t n_above = 0;
    RowScanner scanner(image, keying, region, chroma_row_, chroma_half_);
    fill_squares_below(squares_below_, image.luma.width);
    const std::int64_t* squares_below = squares_below_.data();

    for (int y = region.y; y < region.y + region.height; ++y) {
        const std::uint8_t* luma = image.luma.row(y);
        std::size_t n_here = 0;
        // Runs of a row are produced left to right and do not overlap, so the runs above that
        // can touch the current run start at `above`, which only moves forward. It stops at
        // the first run that may still touch, because that run can also touch the next one.
        std::size_t above = 0;
        const std::int64_t y_squared = static_cast<std::int64_t>(y) * y;
        scanner.scan(y, [&](int begin, int end) {
            const std::int32_t x0 = region.x + begin;
            const std::int32_t x1 = region.x + end;
            while (above < n_above && above_runs[above].x1 + slack <= x0) {
                ++above;
            }
            std::uint32_t label = kNoLabel;
            for (std::size_t k = above; k < n_above && above_runs[k].x0 < x1 + slack; ++k) {
                const std::uint32_t root = find_root(above_runs[k].label);
                if (label == kNoLabel) {
                    label = root;
                } else if (root != label) {
                    label = unite(label, root);
                }
            }
            // The run's sums. Integer sums are exact: with at most 2^31 - 1 pixels in the
            // frame, twice_sum_x <= 2 * area * (width - 1) < 2^63 and sum_luma <= 255 * area.
            // The run's second-order sums are closed forms below 2^62 (x, y < 2^20, len <=
            // 2^20), added to the label's WideSum accumulators.
            const std::int64_t len = x1 - x0;
            const std::int64_t twice_run_x = len * (x0 + x1 - 1);
            const std::int64_t run_xx = squares_below[x1] - squares_below[x0];
            const std::int64_t run_luma = sum_bytes(luma + x0, static_cast<int>(len));
            if (label == kNoLabel) {
                // A new label starts with its first run's sums (no zero-fill, no read back).
                label = static_cast<std::uint32_t>(parent_.size());
                parent_.push_back(label);
                stats_.push_back(LabelStats{len, twice_run_x, len * y, run_luma, x0, x1 - 1, y, y,
                                            widen(run_xx),
                                            widen(y * twice_run_x),
                                            widen(len * y_squared)});
            } else {
                LabelStats& s = stats_[label];
                s.area += len;
                s.twice_sum_x += twice_run_x;
                s.sum_y += len * y;
                s.sum_luma += run_luma;
                s.sum_xx += widen(run_xx);
                s.twice_sum_xy += widen(y * twice_run_x);
                s.sum_yy += widen(len * y_squared);
                s.x_min = std::min(s.x_min, x0);
                s.x_max = std::max(s.x_max, x1 - 1);
                s.y_max = y;
            }
            here_runs[n_here++] = Run{x0, x1, label};
        });
        std::swap(above_runs, here_runs);
        n_above = n_here;
    }

    // Every root is one blob. Sort keys put larger areas first and, for equal areas, smaller
    // labels first, i.e. raster order of the blob's first pixel (see the union-find invariants).
    // Areas and labels both fit in 32 bits (kMaxPixels < 2^31).
    order_.clear();
    const std::uint32_t n_labels = static_cast<std::uint32_t>(parent_.size());
    for (std::uint32_t label = 0; label < n_labels; ++label) {
        if (parent_[label] != label) {
            continue;
        }
        const auto area = static_cast<std::uint64_t>(stats_[label].area);
        if (area >= filter.min_area && (filter.max_area == 0 || area <= filter.max_area)) {
            order_.push_back(((std::uint64_t{0xFFFFFFFF} - area) << 32) | label);
        }
    }
    const std::size_t kept = std::min(order_.size(), filter.max_blobs);
    const auto kept_end = order_.begin() + static_cast<std::ptrdiff_t>(kept);
    if (kept < order_.size()) {
        std::nth_element(order_.begin(), kept_end, order_.end());
    }
    std::sort(order_.begin(), kept_end);

    // `out` is reused (no allocation, page faults or zero-fill for a frame like the last one)
    // unless it holds far more room than this frame needs.
    if (out.capacity() * sizeof(Blob) > kKeepScratchBytes && out.capacity() > 8 * kept) {
        std::vector<Blob>().swap(out);
    }
    out.resize(kept);
    const std::int32_t region_x1 = region.x + region.width - 1;
    const std::int32_t region_y1 = region.y + region.height - 1;
    for (std::size_t i = 0; i < kept; ++i) {
        const LabelStats& s = stats_[static_cast<std::uint32_t>(order_[i])];
        Blob& blob = out[i];
        blob.x = exact_mean(s.twice_sum_x / 2, s.area);
        blob.y = exact_mean(s.sum_y, s.area);
        blob.area = static_cast<std::uint32_t>(s.area);
        blob.bbox_x = s.x_min;
        blob.bbox_y = s.y_min;
        blob.bbox_w = s.x_max - s.x_min + 1;
        blob.bbox_h = s.y_max - s.y_min + 1;
        blob.touches_border = s.x_min == region.x || s.y_min == region.y ||
                              s.x_max == region_x1 || s.y_max == region_y1;
        blob.mean_luma = static_cast<float>(static_cast<double>(s.sum_luma) /
                                            static_cast<double>(s.area));
        set_moments(s, blob);
    }
    const std::size_t dropped = order_.size() - kept;
    release_oversized_scratch();
    return dropped;
}

void CentroidEngine::key_mask(const ImageView& image, const Keying& keying, const Region& region,
                              std::uint8_t* out, std::ptrdiff_t out_stride) {
    RowScanner scanner(image, keying, region, chroma_row_, chroma_half_);
    for (int y = region.y; y < region.y + region.height; ++y) {
        std::uint8_t* row = out + static_cast<std::ptrdiff_t>(y) * out_stride + region.x;
        std::memset(row, 0, static_cast<std::size_t>(region.width));
        scanner.scan(y, [row](int begin, int end) {
            std::memset(row + begin, 0xFF, static_cast<std::size_t>(end - begin));
        });
    }
}

}  // namespace picam
