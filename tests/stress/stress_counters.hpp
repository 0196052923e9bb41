// SPDX-License-Identifier: MIT
// The stress suites' bookkeeping: per operation, how many calls succeeded, how many failed with
// an errno allowed in that situation, and how many answered something else (a failure of the
// suite), with the first few unexpected answers kept as text for the report. Plain atomics in a
// standard-layout struct, so that the FUSE suite can put one in memory shared with its client
// processes (MAP_SHARED | MAP_ANONYMOUS before fork): a client killed by SIGKILL has already
// counted what it did.
#pragma once
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace accel::stress {

enum op : unsigned {
    op_open,
    op_close,
    op_info,
    op_bo_create,
    op_mmap,
    op_bo_close,
    op_vm_bind,
    op_vm_unbind,
    op_submit,
    op_wait,
    op_export,
    op_import,
    op_syncobj,
    op_syncobj_wait,
    op_sync_file,
    op_vdsp_submit,
    op_monitor,
    op_fdinfo,
    op_reset,
    op_unplug,
    op_count
};

inline constexpr const char* op_names[op_count] = {
    "open",    "close",     "info",   "bo_create",   "mmap",      "bo_close",     "vm_bind",
    "vm_unbind", "submit",  "wait",   "export",      "import",    "syncobj",      "syncobj_wait",
    "sync_file", "vdsp_submit", "monitor", "fdinfo", "reset",     "unplug"};

struct counters {
    std::atomic<std::uint64_t> ok[op_count];
    std::atomic<std::uint64_t> allowed[op_count]; // failed with an errno the situation allows
    std::atomic<std::uint64_t> unexpected[op_count];
    static constexpr unsigned max_notes = 24;
    std::atomic<unsigned> notes_used;
    char notes[max_notes][96];

    counters() { clear(); }
    void clear() {
        for (unsigned i = 0; i < op_count; ++i) {
            ok[i].store(0);
            allowed[i].store(0);
            unexpected[i].store(0);
        }
        notes_used.store(0);
        std::memset(notes, 0, sizeof notes);
    }

    /// Counts one answer `r` (0 or more: success) of operation `o`; `allowed_here(r)` says
    /// whether a failure is one the situation allows. Returns whether it succeeded.
    template <class Allowed>
    bool count(op o, long r, Allowed&& allowed_here, const char* what = "") {
        if (r >= 0) {
            ok[o].fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        if (allowed_here(static_cast<int>(r))) {
            allowed[o].fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        unexpected[o].fetch_add(1, std::memory_order_relaxed);
        note("%s%s%s: %s (%ld)", op_names[o], *what ? " " : "", what, std::strerror(static_cast<int>(-r)), r);
        return false;
    }
    /// An invariant broken inside a worker (wrong data, a handle that should be equal...).
    [[gnu::format(printf, 3, 4)]] void violation(op o, const char* fmt, ...) {
        unexpected[o].fetch_add(1, std::memory_order_relaxed);
        va_list ap;
        va_start(ap, fmt);
        vnote(fmt, ap);
        va_end(ap);
    }
    [[gnu::format(printf, 2, 3)]] void note(const char* fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vnote(fmt, ap);
        va_end(ap);
    }
    void vnote(const char* fmt, va_list ap) {
        const unsigned i = notes_used.fetch_add(1);
        if (i < max_notes)
            std::vsnprintf(notes[i], sizeof notes[i], fmt, ap);
    }

    std::uint64_t total_unexpected() const {
        std::uint64_t n = 0;
        for (unsigned i = 0; i < op_count; ++i)
            n += unexpected[i].load();
        return n;
    }
    std::uint64_t total_ok() const {
        std::uint64_t n = 0;
        for (unsigned i = 0; i < op_count; ++i)
            n += ok[i].load();
        return n;
    }
    /// One line per operation that ran: "name ok/allowed/unexpected", then the notes.
    std::string report() const {
        std::string s;
        char line[128];
        for (unsigned i = 0; i < op_count; ++i) {
            if (ok[i] + allowed[i] + unexpected[i] == 0)
                continue;
            std::snprintf(line, sizeof line, "  %-12s %8llu ok %6llu allowed errno %4llu unexpected\n", op_names[i],
                          static_cast<unsigned long long>(ok[i].load()), static_cast<unsigned long long>(allowed[i].load()),
                          static_cast<unsigned long long>(unexpected[i].load()));
            s += line;
        }
        const unsigned n = notes_used.load() < max_notes ? notes_used.load() : max_notes;
        for (unsigned i = 0; i < n; ++i)
            s += std::string("  unexpected: ") + notes[i] + "\n";
        return s;
    }
};

/// ACCEL_STRESS_SECONDS (a positive number, fractions allowed), else `fallback`.
inline double stress_seconds(double fallback) {
    if (const char* e = std::getenv("ACCEL_STRESS_SECONDS")) {
        char* end = nullptr;
        const double v = std::strtod(e, &end);
        if (end != e && v > 0)
            return v;
    }
    return fallback;
}

} // namespace accel::stress
