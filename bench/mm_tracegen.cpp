// SPDX-License-Identifier: MIT
// bench/mm_tracegen: writes the default allocation traces of bench/mm_policies (and the demo),
// deterministically from a seed, in the trace format of bench/mm_trace.hpp; and prints a trace's
// statistics, to compare a generated trace with a recorded one.
//
//   mm_tracegen [--seed=N] [--ops=N] [--out=DIR] [NAME...]   write DIR/NAME.trace.gz (default: all four)
//   mm_tracegen --stats FILE...                              size, alignment, lifetime and occupancy figures
//
// The four workloads model what a GPU/NPU memory manager sees, with the parameters of the
// reference traces measured on real policies (../shared/traces/README.md, outside the
// repository; `--stats` on those files and on these gives the same distributions):
//   gpu_mixed      16 GiB. Log-normal sizes, median 256 KiB, sigma 2.0, 4 KiB..256 MiB in 4 KiB
//                  multiples; alignment 4 KiB 80 %, 64 KiB 15 %, 2 MiB 5 %, independent of size.
//                  Expiry-driven churn: each allocation gets a lifetime in operations, half of
//                  them short (Pareto xm 16, alpha 1.5: scratch buffers), half long (Pareto xm
//                  5250, alpha 1.1: weights, activations held across many jobs); the earliest
//                  expired allocation is freed, and guards keep the requested bytes within
//                  60-75 % of the space (allocate below, free the earliest expiry above).
//   small_uniform  1 GiB. Sizes uniform over 256 B..64 KiB in 256 B steps, alignment 256; fill
//                  to 70 %, then churn within 65-75 % (allocate below, free above, either with
//                  equal odds between); the victim is a uniformly random live allocation.
//   pow2           4 GiB. Sizes 2^k, k in 12..24, each doubling 1/sqrt(2) as likely; natural
//                  alignment (align = size); fill to 70 %, churn within 65-75 % as above.
//   fill_drain     16 GiB. Fill with gpu_mixed sizes (clamped to 64 MiB) until 95 % of the space
//                  is requested; free every other allocation (ids 0, 2, 4, ...); then ask for
//                  16 MiB blocks at 2 MiB alignment, as many as the freed bytes could hold:
//                  how many large requests a fragmented space still serves ("# first_large_id").
// Sizes and lifetimes are drawn with accel::bench::splitmix64 and no std:: distribution, so a
// seed gives the same bytes on every platform and compiler.
#include "mm_trace.hpp"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <queue>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

using accel::bench::human_bytes;
using accel::bench::splitmix64;
using accel::bench::u64;

constexpr u64 KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

// ---- writing -----------------------------------------------------------------------------------

/// Collects the text of one trace and writes it gzip-compressed in large pieces.
class trace_writer {
public:
    explicit trace_writer(u64 space) { text_ = "# space " + std::to_string(space) + "\n"; }
    void comment(std::string_view c) {
        text_ += "# ";
        text_ += c;
        text_ += '\n';
    }
    std::uint32_t alloc(u64 size, u64 align) {
        char buf[64];
        int n = std::snprintf(buf, sizeof buf, "a %u %" PRIu64 " %" PRIu64 "\n", next_id_, size, align);
        text_.append(buf, static_cast<std::size_t>(n));
        ++ops_;
        return next_id_++;
    }
    void free(std::uint32_t id) {
        char buf[32];
        int n = std::snprintf(buf, sizeof buf, "f %u\n", id);
        text_.append(buf, static_cast<std::size_t>(n));
        ++ops_;
    }
    std::size_t ops() const { return ops_; }
    std::uint32_t next_id() const { return next_id_; }
    /// Inserts a comment line right after the first line (what is known only at the end).
    void comment_after_header(const std::string& c) { text_.insert(text_.find('\n') + 1, "# " + c + "\n"); }

    bool write(const std::string& path, std::string& err) const {
        // Level 6 (zlib's default): the reference traces' ratio; the time is dominated by zlib.
        gzFile f = gzopen(path.c_str(), "wb6");
        if (!f) {
            err = std::strerror(errno);
            return false;
        }
        for (std::size_t at = 0; at < text_.size();) {
            const auto chunk = static_cast<unsigned>(std::min<std::size_t>(text_.size() - at, 1u << 22));
            if (gzwrite(f, text_.data() + at, chunk) != static_cast<int>(chunk)) {
                int code = 0;
                err = gzerror(f, &code);
                gzclose(f);
                return false;
            }
            at += chunk;
        }
        if (gzclose(f) != Z_OK) {
            err = "close failed";
            return false;
        }
        return true;
    }

private:
    std::string text_;
    std::size_t ops_ = 0;
    std::uint32_t next_id_ = 0;
};

// ---- distributions -----------------------------------------------------------------------------

/// Log-normal GPU buffer size: median 256 KiB, sigma 2.0, clamped, rounded down to 4 KiB (at
/// least 4 KiB).
u64 gpu_size(splitmix64& rng, u64 max_size) {
    double v = 256.0 * KiB * std::exp(2.0 * rng.normal());
    v = std::clamp(v, 4.0 * KiB, static_cast<double>(max_size));
    return std::max<u64>(4 * KiB, static_cast<u64>(v) / (4 * KiB) * (4 * KiB));
}

/// 4 KiB 80 %, 64 KiB 15 %, 2 MiB 5 %: most buffers are paged, some want large TLB entries.
u64 gpu_align(splitmix64& rng) {
    const double u = rng.unit();
    return u < 0.80 ? 4 * KiB : u < 0.95 ? 64 * KiB : 2 * MiB;
}

/// Pareto(xm, alpha) by inversion: heavy-tailed, at least xm.
double pareto(splitmix64& rng, double xm, double alpha) { return xm / std::pow(1.0 - rng.unit(), 1.0 / alpha); }

// ---- the four workloads ------------------------------------------------------------------------

trace_writer gpu_mixed(u64 seed, std::size_t ops) {
    const u64 space = 16 * GiB;
    trace_writer t(space);
    t.comment("gpu_mixed: " + std::to_string(ops) +
              " ops, 16GiB, log-normal sizes median 256KiB sigma 2.0 clamp [4KiB,256MiB] 4KiB multiples; align 4KiB "
              "80%/64KiB 15%/2MiB 5% (independent of size); expiry-driven churn: each alloc gets lifetime L (50% "
              "Pareto(xm=16,a=1.5) ops, 50% Pareto(xm=5250,a=1.1) ops); earliest-expired is freed; guards keep "
              "requested occupancy in [60%,75%]; generated by bench/mm_tracegen, seed " + std::to_string(seed));
    splitmix64 rng(seed ^ 0x6770755f6d697865ull);
    struct live {
        double expiry;
        std::uint32_t id;
        u64 size;
        bool operator>(const live& o) const { return expiry > o.expiry || (expiry == o.expiry && id > o.id); }
    };
    std::priority_queue<live, std::vector<live>, std::greater<>> by_expiry;
    const double lo = 0.60 * static_cast<double>(space), hi = 0.75 * static_cast<double>(space);
    double held = 0;
    // The next allocation is drawn ahead, so the upper guard can see whether it would cross 75 %.
    auto draw = [&] {
        const u64 size = gpu_size(rng, 256 * MiB), align = gpu_align(rng);
        const double life = rng.below(2) ? pareto(rng, 16, 1.5) : pareto(rng, 5250, 1.1);
        return std::tuple{size, align, life};
    };
    auto [size, align, life] = draw();
    while (t.ops() < ops) {
        const double now = static_cast<double>(t.ops());
        const bool must_alloc = held < lo || by_expiry.empty();
        const bool must_free = held + static_cast<double>(size) > hi;
        if (!must_alloc && (must_free || by_expiry.top().expiry <= now)) {
            const live v = by_expiry.top();
            by_expiry.pop();
            t.free(v.id);
            held -= static_cast<double>(v.size);
            continue;
        }
        by_expiry.push({now + life, t.alloc(size, align), size});
        held += static_cast<double>(size);
        std::tie(size, align, life) = draw();
    }
    return t;
}

/// Fill to `target` of the space, then churn within +-5 points: allocate below, free above,
/// either with equal odds between; the victim is a uniformly random live allocation.
trace_writer random_churn(u64 space, double target, std::size_t ops, splitmix64& rng,
                          const std::function<std::pair<u64, u64>(splitmix64&)>& draw) {
    trace_writer t(space);
    struct live {
        std::uint32_t id;
        u64 size;
    };
    std::vector<live> alive;
    const double s = static_cast<double>(space);
    const double lo = (target - 0.05) * s, hi = (target + 0.05) * s;
    double held = 0;
    bool filled = false;
    while (t.ops() < ops) {
        filled = filled || held >= target * s;
        bool alloc = !filled || held < lo || (held <= hi && rng.below(2) == 0);
        if (alloc || alive.empty()) {
            const auto [size, align] = draw(rng);
            alive.push_back({t.alloc(size, align), size});
            held += static_cast<double>(size);
        } else {
            const std::size_t i = rng.below(alive.size());
            t.free(alive[i].id);
            held -= static_cast<double>(alive[i].size);
            alive[i] = alive.back();
            alive.pop_back();
        }
    }
    return t;
}

trace_writer small_uniform(u64 seed, std::size_t ops) {
    splitmix64 rng(seed ^ 0x736d616c6c5f756eull);
    trace_writer t = random_churn(1 * GiB, 0.70, ops, rng, [](splitmix64& r) {
        return std::pair<u64, u64>{256 * (1 + r.below(256)), 256};
    });
    t.comment_after_header("small_uniform: " + std::to_string(ops) +
                           " ops, 1GiB, sizes uniform {256,512,...,65536}, align 256; fill to 70% then churn in "
                           "[65%,75%]; victim uniformly random; generated by bench/mm_tracegen, seed " +
                           std::to_string(seed));
    return t;
}

trace_writer pow2(u64 seed, std::size_t ops) {
    // P(k) proportional to 2^(-(k-12)/2) for k in 12..24, by inversion of the cumulative weights.
    std::vector<double> cdf;
    double sum = 0;
    for (int k = 12; k <= 24; ++k)
        cdf.push_back(sum += std::pow(2.0, -(k - 12) / 2.0));
    splitmix64 rng(seed ^ 0x706f77325f5f5f5full);
    trace_writer t = random_churn(4 * GiB, 0.70, ops, rng, [&](splitmix64& r) {
        const double u = r.unit() * sum;
        const auto k = 12 + (std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
        const u64 size = u64{1} << std::min<long>(k, 24);
        return std::pair<u64, u64>{size, size};
    });
    t.comment_after_header("pow2: " + std::to_string(ops) +
                           " ops, 4GiB, sizes 2^k for k in 12..24 with P(k) ~ 2^(-(k-12)/2) (each doubling 1/sqrt2 as "
                           "likely), natural alignment (align = size); fill to 70% then churn in [65%,75%]; victim "
                           "uniformly random; generated by bench/mm_tracegen, seed " + std::to_string(seed));
    return t;
}

/// `ops` is ignored: the fill decides the length (about 10^4 operations).
trace_writer fill_drain(u64 seed, std::size_t) {
    const u64 space = 16 * GiB;
    trace_writer t(space);
    splitmix64 rng(seed ^ 0x66696c6c5f647261ull);
    std::vector<u64> sizes;
    u64 requested = 0;
    while (static_cast<double>(requested) < 0.95 * static_cast<double>(space)) {
        const u64 size = gpu_size(rng, 64 * MiB);
        t.alloc(size, gpu_align(rng));
        sizes.push_back(size);
        requested += size;
    }
    for (std::uint32_t id = 0; id < sizes.size(); id += 2) {
        t.free(id);
        requested -= sizes[id];
    }
    const u64 attempts = (space - requested) / (16 * MiB);
    const std::uint32_t first_large = t.next_id();
    for (u64 i = 0; i < attempts; ++i)
        t.alloc(16 * MiB, 2 * MiB);
    t.comment_after_header("first_large_id " + std::to_string(first_large) + " attempts " + std::to_string(attempts));
    t.comment_after_header("fill_drain: phase1 alloc gpu_mixed-dist sizes (clamp 4KiB..64MiB) until >=95% of space "
                           "requested; phase2 free every other allocation (ids 0,2,4,...); phase3 alloc 16MiB blocks "
                           "@2MiB align, attempts = floor(requested-free-bytes / 16MiB). Large allocs have ids >= "
                           "first_large_id (see next line); generated by bench/mm_tracegen, seed " +
                           std::to_string(seed));
    return t;
}

struct generator {
    const char* name;
    trace_writer (*make)(u64 seed, std::size_t ops);
};
constexpr generator generators[] = {
    {"gpu_mixed", gpu_mixed}, {"small_uniform", small_uniform}, {"pow2", pow2}, {"fill_drain", fill_drain}};

// ---- statistics ----------------------------------------------------------------------------------

double pct(std::vector<double>& v, double p) { // nearest rank
    if (v.empty())
        return 0;
    const auto k = std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) -
                                              (p > 0 ? 1 : 0));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

int print_stats(const std::string& path) {
    accel::bench::workload w;
    std::string err;
    if (!accel::bench::load_trace(path, w, err)) {
        std::fprintf(stderr, "mm_tracegen: %s: %s\n", path.c_str(), err.c_str());
        return 1;
    }
    std::vector<double> sizes, lifetimes;
    std::map<u64, u64> aligns;
    std::vector<std::size_t> born(w.ids, 0);
    std::vector<u64> size_of(w.ids, 0);
    std::vector<bool> alive(w.ids, false);
    double held = 0, occ_min = 1e300, occ_max = 0, occ_sum = 0;
    std::size_t first_free = w.ops.size();
    for (std::size_t i = 0; i < w.ops.size(); ++i) {
        const auto& o = w.ops[i];
        if (o.is_free) {
            first_free = std::min(first_free, i);
            if (!alive[o.id])
                continue;
            alive[o.id] = false;
            lifetimes.push_back(static_cast<double>(i - born[o.id]));
            held -= static_cast<double>(size_of[o.id]);
        } else {
            sizes.push_back(static_cast<double>(o.size));
            ++aligns[u64{1} << o.align_log2];
            born[o.id] = i;
            size_of[o.id] = o.size;
            alive[o.id] = true;
            held += static_cast<double>(o.size);
        }
        if (i >= first_free) { // occupancy once churn has begun
            occ_min = std::min(occ_min, held);
            occ_max = std::max(occ_max, held);
            occ_sum += held;
        }
    }
    const double space = static_cast<double>(w.space);
    std::printf("%s: %zu ops, %" PRIu64 " allocs, space %s, first free at op %zu, requested bytes at the end %.1f%%\n",
                w.name.c_str(), w.ops.size(), w.allocs, human_bytes(space).c_str(), first_free, 100 * held / space);
    std::printf("  size    ");
    for (auto [label, p] : {std::pair{"p1", 0.01}, {"p10", 0.10}, {"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"max", 1.0}})
        std::printf("  %s %s", label, human_bytes(pct(sizes, p)).c_str());
    std::printf("  mean %s\n",
                human_bytes(std::accumulate(sizes.begin(), sizes.end(), 0.0) / static_cast<double>(std::max<std::size_t>(1, sizes.size())))
                    .c_str());
    std::printf("  align   ");
    for (auto [a, n] : aligns)
        if (aligns.size() <= 8 || static_cast<double>(n) >= 0.01 * static_cast<double>(w.allocs))
            std::printf("  %s %.1f%%", human_bytes(static_cast<double>(a)).c_str(), 100.0 * static_cast<double>(n) / static_cast<double>(w.allocs));
    std::printf("%s\n", aligns.size() > 8 ? " (those >= 1%)" : "");
    if (!lifetimes.empty())
        std::printf("  lifetime (ops, of %zu freed)  p10 %.0f  p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", lifetimes.size(),
                    pct(lifetimes, 0.10), pct(lifetimes, 0.50), pct(lifetimes, 0.90), pct(lifetimes, 0.99),
                    pct(lifetimes, 1.0));
    if (first_free < w.ops.size())
        std::printf("  requested occupancy after the first free: %.1f%%..%.1f%%, mean %.1f%%\n", 100 * occ_min / space,
                    100 * occ_max / space, 100 * occ_sum / space / static_cast<double>(w.ops.size() - first_free));
    if (w.first_large_id != accel::bench::no_large_id)
        std::printf("  large requests: ids >= %" PRIu64 ", %" PRIu64 " attempts\n", w.first_large_id, w.large_attempts);
    return 0;
}

int usage() {
    std::fprintf(stderr, "usage: mm_tracegen [--seed=N] [--ops=N] [--out=DIR] [NAME...]   (NAME: gpu_mixed small_uniform "
                         "pow2 fill_drain)\n       mm_tracegen --stats FILE...\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    u64 seed = 1;
    std::size_t ops = 1'000'000;
    std::string out = ".";
    std::vector<std::string> names;
    bool stats = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string_view flag, std::string& v) { return accel::bench::flag_value(argc, argv, i, flag, v); };
        std::string v;
        if (a == "--stats")
            stats = true;
        else if (value("--seed", v))
            seed = std::strtoull(v.c_str(), nullptr, 0);
        else if (value("--ops", v))
            ops = std::strtoull(v.c_str(), nullptr, 0);
        else if (value("--out", v))
            out = v;
        else if (a.starts_with("-"))
            return usage();
        else
            names.emplace_back(a);
    }
    if (stats) {
        int rc = 0;
        for (const std::string& f : names)
            rc |= print_stats(f);
        return names.empty() ? usage() : rc;
    }
    if (names.empty())
        for (const generator& g : generators)
            names.emplace_back(g.name);
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    for (const std::string& n : names) {
        const generator* g = std::find_if(std::begin(generators), std::end(generators), [&](const generator& x) { return n == x.name; });
        if (g == std::end(generators)) {
            std::fprintf(stderr, "mm_tracegen: unknown workload %s\n", n.c_str());
            return usage();
        }
        const std::string path = out + "/" + n + ".trace.gz";
        std::string err;
        if (!g->make(seed, ops).write(path, err)) {
            std::fprintf(stderr, "mm_tracegen: %s: %s\n", path.c_str(), err.c_str());
            return 1;
        }
    }
    return 0;
}
