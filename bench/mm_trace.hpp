// SPDX-License-Identifier: MIT
#pragma once
/// \file Allocation workloads for bench/mm_policies: the trace reader and the synthetic generators.
///
/// Both produce the same thing, a `workload`: the managed space and a compact vector of
/// operations (16 bytes each), built once before any benchmark runs so that a replay does no
/// I/O, parsing or allocation. Trace format (what bench/mm_tracegen writes, and the reference
/// traces of ../shared/traces/README.md outside the repository), gzip-compressed or plain:
///
///     # space <bytes>          first line: size of the managed range, starting at offset 0
///     # first_large_id <id> attempts <n>    (fill_drain) ids >= first_large_id are the large requests
///     # <comment>
///     a <id> <size> <align>    allocate; ids are dense from 0 in allocation order, never reused
///     f <id>                   free (nothing, when the allocation had failed)
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace accel::bench {

using u64 = std::uint64_t;

/// One operation; 16 bytes so a million-op trace is 16 MB and streams well.
struct trace_op {
    u64 size = 0;             ///< bytes to allocate; unused for a free
    std::uint32_t id = 0;     ///< allocation id, indexes the preallocated node array
    std::uint8_t is_free = 0; ///< 1: free `id`; 0: allocate it
    std::uint8_t align_log2 = 0; ///< alignment = 2^align_log2 (0: byte alignment)
};
static_assert(sizeof(trace_op) == 16);

inline constexpr u64 no_large_id = ~u64{0};

struct workload {
    std::string name;   ///< "gpu_mixed", "syn_lognormal_a4k_o70", ...
    std::string origin; ///< file path, or the generator's parameters
    u64 space = 0;      ///< the managed range is [0, space)
    std::uint32_t ids = 0;      ///< max id + 1: size of the node array
    u64 allocs = 0;             ///< allocation ops
    u64 granule = 0;            ///< largest power of two dividing the space and every size
    u64 first_large_id = no_large_id; ///< fill_drain: large requests have id >= this
    u64 large_attempts = 0;
    std::vector<trace_op> ops;
};

namespace detail {

inline u64 low_bit(u64 x) noexcept { return x & (~x + 1); }

/// Fills in the derived fields (allocs, granule) once the ops are known. The granule is the
/// largest power of two dividing the space and every size: all hole edges are then multiples of
/// it whatever the alignments, so a policy working in such granules loses no placement.
inline void finish(workload& w) {
    u64 g = low_bit(w.space);
    u64 allocs = 0;
    for (const trace_op& o : w.ops) {
        if (o.is_free)
            continue;
        ++allocs;
        g = std::min(g, low_bit(o.size));
    }
    w.allocs = allocs;
    w.granule = g == 0 ? 1 : g;
}

inline bool parse_u64(std::string_view& s, u64& v) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p == s.data())
        return false;
    s.remove_prefix(static_cast<std::size_t>(p - s.data()));
    return true;
}

inline bool rest_is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

} // namespace detail

/// Reads a trace file, gzip-compressed or plain (zlib reads both). Returns false and a message
/// on any error; `w` is then unspecified.
inline bool load_trace(const std::string& path, workload& w, std::string& err) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) {
        err = "cannot open";
        return false;
    }
    std::string text;
    {
        std::vector<char> buf(1 << 20);
        for (;;) {
            int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
            if (n < 0) {
                int code = 0;
                err = std::string("read error: ") + gzerror(f, &code);
                gzclose(f);
                return false;
            }
            if (n == 0)
                break;
            text.append(buf.data(), static_cast<std::size_t>(n));
        }
    }
    gzclose(f);

    std::string base = path.substr(path.find_last_of('/') + 1);
    for (const char* suffix : {".gz", ".trace"})
        if (base.size() > std::string_view(suffix).size() && base.ends_with(suffix))
            base.resize(base.size() - std::string_view(suffix).size());
    w = workload{};
    w.name = base;
    w.origin = path;
    w.ops.reserve(text.size() / 12);
    std::vector<bool> seen; // ids allocated so far: a repeated id would reuse a live node
    std::size_t line_no = 0;
    std::string_view all(text);
    while (!all.empty()) {
        ++line_no;
        std::size_t nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        all.remove_prefix(nl == std::string_view::npos ? all.size() : nl + 1);
        auto fail = [&](const char* what) {
            err = "line " + std::to_string(line_no) + ": " + what;
            return false;
        };
        if (line.empty() || detail::rest_is_blank(line))
            continue;
        const char kind = line.front();
        line.remove_prefix(1);
        if (kind == '#') {
            while (!line.empty() && line.front() == ' ')
                line.remove_prefix(1);
            u64 v = 0;
            if (line.starts_with("space ")) {
                line.remove_prefix(6);
                if (!detail::parse_u64(line, v) || v == 0)
                    return fail("bad space");
                w.space = v;
            } else if (line.starts_with("first_large_id ")) {
                line.remove_prefix(15);
                if (!detail::parse_u64(line, v))
                    return fail("bad first_large_id");
                w.first_large_id = v;
                while (!line.empty() && line.front() == ' ')
                    line.remove_prefix(1);
                if (line.starts_with("attempts ")) {
                    line.remove_prefix(9);
                    if (detail::parse_u64(line, v))
                        w.large_attempts = v;
                }
            }
            continue;
        }
        if (kind != 'a' && kind != 'f')
            return fail("expected 'a', 'f' or '#'");
        u64 id = 0;
        if (!detail::parse_u64(line, id) || id >= 0xffffffffu)
            return fail("bad id");
        trace_op op;
        op.id = static_cast<std::uint32_t>(id);
        if (kind == 'a') {
            u64 size = 0, align = 0;
            if (!detail::parse_u64(line, size) || size == 0 || !detail::parse_u64(line, align))
                return fail("bad size or alignment");
            if (align > 1 && !std::has_single_bit(align))
                return fail("alignment is not a power of two");
            op.size = size;
            op.align_log2 = static_cast<std::uint8_t>(align <= 1 ? 0 : std::countr_zero(align));
            if (id >= seen.size())
                seen.resize(std::max<std::size_t>(id + 1, seen.size() * 2));
            if (seen[id])
                return fail("allocation id reused");
            seen[id] = true;
        } else {
            op.is_free = 1;
        }
        if (!detail::rest_is_blank(line))
            return fail("trailing characters");
        w.ids = std::max<std::uint32_t>(w.ids, op.id + 1);
        w.ops.push_back(op);
    }
    if (w.space == 0) {
        err = "no '# space <bytes>' header";
        return false;
    }
    w.ops.shrink_to_fit();
    detail::finish(w);
    return true;
}

/// "1.5 GiB": a byte count for people (4 significant digits, binary units).
inline std::string human_bytes(double b) {
    const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int i = 0;
    while (b >= 1024 && i < 6) {
        b /= 1024;
        ++i;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g %s", b, unit[i]);
    return buf;
}

/// Command-line flag with a value, as `--flag=value` or `--flag value` (then `i` moves past the
/// value): the programs that read traces (mm_policies, mm_tracegen) take their flags this way.
inline bool flag_value(int argc, char** argv, int& i, std::string_view flag, std::string& v) {
    const std::string_view a = argv[i];
    if (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=') {
        v = a.substr(flag.size() + 1);
        return true;
    }
    if (a == flag && i + 1 < argc) {
        v = argv[++i];
        return true;
    }
    return false;
}

// ---- synthetic workloads ---------------------------------------------------------------------

enum class size_dist { uniform, lognormal, pow2 };

struct synthetic_spec {
    size_dist dist = size_dist::lognormal;
    u64 alignment = 4096;   ///< every allocation's alignment
    unsigned occupancy = 70; ///< percent of the space held, counting each allocation as its size
                             ///< rounded up to its alignment; churn keeps it within +-5 points
    u64 space = u64{1} << 30;
    std::size_t ops = 150'000;
    u64 seed = 1;
};

inline const char* size_dist_name(size_dist d) {
    switch (d) {
    case size_dist::uniform: return "uniform";
    case size_dist::lognormal: return "lognormal";
    case size_dist::pow2: return "pow2";
    }
    return "?";
}

/// Deterministic on every platform (no std:: distributions, whose output is implementation-defined).
class splitmix64 {
public:
    explicit splitmix64(u64 seed) : s_(seed) {}
    u64 next() noexcept {
        u64 z = (s_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1p-53; } ///< [0, 1)
    u64 below(u64 n) noexcept { return n ? next() % n : 0; } ///< [0, n); bias irrelevant here
    double normal() noexcept { // Box-Muller
        double u1 = 1.0 - unit(), u2 = unit();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

private:
    u64 s_;
};

/// Fill to the occupancy target, then churn: allocate below target - 5 points, free above
/// target + 5, otherwise either with equal odds; the victim is a uniformly random live allocation.
/// Sizes: uniform 4 KiB..1 MiB in 4 KiB steps; log-normal median 64 KiB, sigma 1.5, clamped to
/// 4 KiB..64 MiB, 4 KiB multiples; power of two 4 KiB..4 MiB, each exponent equally likely.
inline workload make_synthetic(const synthetic_spec& s) {
    workload w;
    const char* align_name = s.alignment == 4096 ? "a4k" : s.alignment == 65536 ? "a64k"
                           : s.alignment == (2u << 20) ? "a2m" : "a?";
    w.name = std::string("syn_") + size_dist_name(s.dist) + "_" + align_name + "_o" + std::to_string(s.occupancy);
    w.origin = "synthetic: " + std::to_string(s.ops) + " ops, space " + std::to_string(s.space >> 20) + " MiB, seed " +
               std::to_string(s.seed);
    w.space = s.space;
    splitmix64 rng(s.seed * 0x2545f4914f6cdd1dull + static_cast<u64>(s.dist) * 131 + s.alignment + s.occupancy);
    auto draw_size = [&]() -> u64 {
        switch (s.dist) {
        case size_dist::uniform: return (1 + rng.below(256)) * 4096;
        case size_dist::lognormal: {
            double v = 65536.0 * std::exp(1.5 * rng.normal());
            v = std::clamp(v, 4096.0, 64.0 * 1048576.0);
            return std::max<u64>(4096, static_cast<u64>(v) / 4096 * 4096);
        }
        case size_dist::pow2: return u64{4096} << rng.below(11);
        }
        return 4096;
    };
    const std::uint8_t align_log2 = static_cast<std::uint8_t>(std::countr_zero(s.alignment));
    const double lo = (s.occupancy - 5) / 100.0 * static_cast<double>(s.space);
    const double hi = (s.occupancy + 5) / 100.0 * static_cast<double>(s.space);
    const double target = s.occupancy / 100.0 * static_cast<double>(s.space);
    struct live_alloc {
        std::uint32_t id;
        u64 footprint;
    };
    std::vector<live_alloc> live;
    double held = 0;
    bool filled = false;
    std::uint32_t next_id = 0;
    w.ops.reserve(s.ops);
    while (w.ops.size() < s.ops) {
        filled = filled || held >= target;
        bool alloc = !filled || held < lo || (held <= hi && rng.below(2) == 0);
        if (live.empty())
            alloc = true;
        if (alloc) {
            const u64 size = draw_size();
            const u64 footprint = (size + s.alignment - 1) / s.alignment * s.alignment;
            w.ops.push_back({size, next_id, 0, align_log2});
            live.push_back({next_id++, footprint});
            held += static_cast<double>(footprint);
        } else {
            const std::size_t i = rng.below(live.size());
            w.ops.push_back({0, live[i].id, 1, 0});
            held -= static_cast<double>(live[i].footprint);
            live[i] = live.back();
            live.pop_back();
        }
    }
    w.ids = next_id;
    detail::finish(w);
    return w;
}

/// The default synthetic set: each size distribution at each alignment at 70 %, and log-normal
/// 4 KiB at 50 % and 90 % occupancy.
inline std::vector<synthetic_spec> default_synthetic(std::size_t ops) {
    std::vector<synthetic_spec> v;
    for (size_dist d : {size_dist::uniform, size_dist::lognormal, size_dist::pow2})
        for (u64 a : {u64{4096}, u64{65536}, u64{2} << 20})
            v.push_back({.dist = d, .alignment = a, .occupancy = 70, .ops = ops});
    v.push_back({.dist = size_dist::lognormal, .alignment = 4096, .occupancy = 50, .ops = ops});
    v.push_back({.dist = size_dist::lognormal, .alignment = 4096, .occupancy = 90, .ops = ops});
    return v;
}

} // namespace accel::bench
