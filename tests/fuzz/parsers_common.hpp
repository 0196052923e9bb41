// SPDX-License-Identifier: MIT
#pragma once
/// \file What the parser and producer fuzz targets (tests/fuzz/parsers_*.cpp) share: the
/// failure report (fail(), EXPECT), the input reader, and the one registered device behind
/// backend::mock that the targets going through the ioctl or file boundary drive.
///
/// Each target is one translation unit and defines fuzz_parsers::target_name (its binary's
/// name), which every failure line starts with.
#include <accel/accel.hpp>
#include <accel/backend/mock.hpp>
#include <accel/fuzz/input_stream.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

namespace accel::fuzz_parsers {

/// Defined by each target, e.g. `extern const char target_name[] = "accel_fuzz_info";`.
extern const char target_name[];

/// A violated invariant: one line on stderr, then abort() so libFuzzer keeps the input.
[[noreturn]] inline void fail(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "%s: %s %s\n", target_name, what, detail.c_str());
    std::abort();
}

/// The same with one or two numbers: signed ones in decimal (errnos, lengths), unsigned ones in
/// hex (addresses, ids, indices).
template <std::integral A, std::integral B = long long>
[[noreturn]] void fail(const char* what, A a, B b = 0) {
    auto text = [](auto v) {
        char buf[32];
        if constexpr (std::is_signed_v<decltype(v)>)
            std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
        else
            std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
        return std::string(buf);
    };
    fail(what, "(" + text(a) + ", " + text(b) + ")");
}

/// EXPECT(cond) or EXPECT(cond, detail...): fail() with the condition's text and the details.
#define EXPECT(cond, ...)                                                                                               \
    do {                                                                                                                \
        if (!(cond))                                                                                                    \
            ::accel::fuzz_parsers::fail("check failed: " #cond __VA_OPT__(, ) __VA_ARGS__);                             \
    } while (0)

/// The fuzzer's bytes as fields, front to back; zeros once they run out (input_stream's rule).
class reader : public fuzz::input_stream {
public:
    using input_stream::input_stream;

    /// The next sizeof(T) bytes as a T, in host byte order; the missing ones zero.
    template <std::integral T>
    T get() noexcept {
        T v{};
        input_stream::bytes(&v, sizeof v);
        return v;
    }

    /// Up to `len` of the next bytes (fewer when the input ends).
    std::string bytes(std::size_t len) {
        std::string s(len < left() ? len : left(), '\0');
        input_stream::bytes(s.data(), s.size());
        return s;
    }

    /// Everything left.
    std::string rest() { return bytes(left()); }

    /// `len` bytes: the input's next ones, then repeated to length (a long write needs no long
    /// input); "1" repeated when the input has ended.
    std::string payload(std::size_t len) {
        std::string s = bytes(len);
        if (s.empty())
            s = "1";
        while (s.size() < len)
            s += s.substr(0, std::min(s.size(), len - s.size()));
        return s;
    }
};

/// One `Driver` device, registered, behind backend::mock at /mnt/accel.
template <class Driver>
struct device_world {
    subsystem sub;
    typename device<Driver>::ref dev;
    registration reg;
    backend::mock mock{sub, "/mnt/accel"};

    device_world() {
        auto d = device<Driver>::create();
        if (!d)
            fail("device create");
        dev = *d;
        auto r = sub.register_device(*d);
        if (!r)
            fail("register");
        reg = std::move(*r);
    }
    std::string node(node_kind k) const { return std::string(mock.root()) + "/" + node_name(k, reg.minor()); }
};

/// The process's one `World`, built on first use; it lives for the process (LeakSanitizer sees
/// it reachable) because every input reuses it.
template <class World>
World& the_world() {
    static World* w = new World;
    return *w;
}

} // namespace accel::fuzz_parsers
