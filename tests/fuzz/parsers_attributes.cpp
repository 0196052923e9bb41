// SPDX-License-Identifier: MIT
// accel_fuzz_attributes: the attribute stores and shows (core/attribute.hpp,
// monitor/attribute_file.hpp, monitor/attribute_tree.hpp) through backend::mock's path API, on
// every regular file of an attr_test_driver device's sysfs and debugfs trees
// (tests/monitor/attribute_test_driver.hpp: a bounded number store, a store that always fails,
// one with an 8-byte limit, a write-only counter, a show that fails, one of 5000 bytes; and the
// framework's files, `reset` among them).
//
// Input: sessions, each: file index, open flags (access mode; opener and writer root or not),
// an operation count, then operations: write, pwrite (any offset), read, pread (any offset),
// lseek (any offset and whence) with any lengths (up to 5000) and bytes.
// Checks (monitor/attribute_file.hpp's rules):
//  - a write of more than the file's limit is -EINVAL and the store is never called; 0 bytes
//    is 0; a root-only store opened by a non-root caller is -EACCES; a store error changes
//    nothing (the device's observable state: the value, the counters, reset requests, and
//    the text of every readable file a store could change: device/, status, reset_count,
//    memory/, counters);
//  - the modelled stores: `device/value` and `device/limited` take exactly a decimal number
//    0..1000 with at most one trailing newline; `device/failing` is always -EIO;
//    `device/write_only` counts each accepted write; `reset` takes "1" or "1\n" from root;
//  - a read returns at most what was asked, never writes past it, and never reaches past the
//    show cap (4095 bytes for sysfs, debugfs_limit - 1 for debugfs); `device/value` read
//    from offset 0 is the stored value;
//  - lseek follows generic_file_llseek with the stat size (SEEK_END from 4096 or 0), the
//    position moves by what read and write returned, and pread/pwrite leave it alone.
#include "attribute_test_driver.hpp"
#include "parsers_common.hpp"

#include <accel/backend/mock.hpp>
#include <accel/monitor/attribute_file.hpp>
#include <accel/monitor/attribute_paths.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace accel;
using accel::fuzz_parsers::fail;
using accel::fuzz_parsers::reader;

const char accel::fuzz_parsers::target_name[] = "accel_fuzz_attributes";

namespace {

struct file_info {
    std::string path; ///< full mock path
    std::string rel;  ///< under the device's sysfs or debugfs directory
    bool debugfs = false;
    mode_t mode = 0;
    long long size = 0; ///< st_size
};

const caller_identity root_id{0, 1, true, 0};
const caller_identity nobody{65534, 4242, false, 65534};

/// The device, and its attribute files found by walking its sysfs and debugfs directories.
struct world : fuzz_parsers::device_world<test::attr_test_driver> {
    std::vector<file_info> files;

    world() {
        backend::mock::identity as_root(root_id);
        const std::string root(mock.root());
        walk(root + "/" + sysfs_device_dir(reg.minor()), "", false);
        walk(root + "/" + debugfs_device_dir(reg.minor()), "", true);
        if (files.size() < 10)
            fail("too few attribute files found");
        if (std::getenv("ACCEL_FUZZ_VERBOSE"))
            for (std::size_t i = 0; i < files.size(); ++i)
                std::fprintf(stderr, "file %zu: %s %s %o size %lld\n", i, files[i].debugfs ? "debugfs" : "sysfs",
                             files[i].rel.c_str(), static_cast<unsigned>(files[i].mode), files[i].size);
    }
    void walk(const std::string& dir, const std::string& rel, bool debugfs) {
        auto names = mock.list(dir);
        if (!names)
            fail("list", dir);
        for (const std::string& n : *names) {
            const std::string p = dir + "/" + n, r = rel.empty() ? n : rel + "/" + n;
            struct stat st {};
            if (mock.stat(p, st) != 0)
                fail("stat", p);
            if (S_ISDIR(st.st_mode))
                walk(p, r, debugfs);
            else if (S_ISREG(st.st_mode))
                files.push_back({p, r, debugfs, static_cast<mode_t>(st.st_mode & 07777), static_cast<long long>(st.st_size)});
        }
    }
};

/// The text of every readable file but those that list open files (they change as we open).
std::map<std::string, std::string> observable(world& w) {
    backend::mock::identity as_root(root_id);
    std::map<std::string, std::string> out;
    auto& d = *w.dev;
    out["=value"] = std::to_string(d->value.load());
    out["=write_only_stores"] = std::to_string(d->write_only_stores.load());
    out["=reset_requests"] = std::to_string(d->resetter.requests.load());
    for (const file_info& f : w.files) {
        // What a store could change: the driver's files and the device status (the hwmon,
        // identity and client files do not depend on any store; reading them all per write
        // would cost most of the run).
        if (!(f.mode & 0444) || !(f.rel.starts_with("device/") || f.rel == "status" || f.rel == "reset_count" ||
                                  f.rel == "counters" || f.rel.starts_with("memory/")))
            continue;
        const int fd = w.mock.open(f.path, O_RDONLY);
        if (fd < 0)
            continue;
        std::string text(8192, '\0');
        const long r = w.mock.read(fd, text.data(), text.size());
        text.resize(r > 0 ? static_cast<std::size_t>(r) : 0);
        out[f.rel] = r < 0 ? "error " + std::to_string(r) : text;
        w.mock.close(fd);
    }
    return out;
}

/// The documented number parse of `value_store`: digits, at most one trailing newline, <= 1000.
bool value_accepts(std::string_view in, unsigned& v) {
    if (!in.empty() && in.back() == '\n')
        in.remove_suffix(1);
    if (in.empty())
        return false;
    unsigned long long x = 0;
    for (char c : in) {
        if (c < '0' || c > '9')
            return false;
        x = std::min<unsigned long long>(x * 10 + static_cast<unsigned>(c - '0'), 1'000'000); // saturates past 1000
    }
    if (x > 1000)
        return false;
    v = static_cast<unsigned>(x);
    return true;
}

std::size_t limit_of(const file_info& f) { return f.rel == "device/limited" ? 8 : attribute_page_size; }
bool has_store(const file_info& f) { return f.mode & 0222; }

/// A write of `data` through `fd`: checks the answer and what changed.
void checked_write(world& w, const file_info& f, int fd, const std::string& data, bool writer_root, bool opener_root,
                   bool positioned, long long off, std::uint64_t& pos) {
    const auto before = observable(w);
    long r;
    {
        backend::mock::identity who(writer_root ? root_id : nobody);
        r = positioned ? w.mock.pwrite(fd, data.data(), data.size(), static_cast<off_t>(off))
                       : w.mock.write(fd, data.data(), data.size());
    }
    const std::size_t n = data.size();
    if (r == -EBADF)
        return; // opened read-only
    auto& d = *w.dev;
    if (positioned && off < 0) {
        EXPECT(r == -EINVAL, std::to_string(r));
    } else if (!has_store(f)) {
        EXPECT(r == -EINVAL, f.rel + " " + std::to_string(r));
    } else if ((positioned ? static_cast<std::uint64_t>(off) : pos) > static_cast<std::uint64_t>(LLONG_MAX) - n) {
        EXPECT(r == -EINVAL, f.rel + " write past LLONG_MAX: " + std::to_string(r)); // rw_verify_area
    } else if (n == 0) {
        EXPECT(r == 0, f.rel + " " + std::to_string(r));
    } else if (f.rel == "reset" && !opener_root) {
        EXPECT(r == -EACCES, std::to_string(r));
    } else if (n > limit_of(f)) {
        EXPECT(r == -EINVAL, f.rel + " " + std::to_string(n) + " bytes: " + std::to_string(r));
    } else if (f.rel == "device/value" || f.rel == "device/limited") {
        unsigned v = 0;
        if (value_accepts(data, v)) {
            EXPECT(r == static_cast<long>(n), f.rel + " " + std::to_string(r));
            EXPECT(d->value.load() == v, data);
        } else {
            EXPECT(r == -EINVAL, f.rel + " \"" + data + "\" " + std::to_string(r));
        }
    } else if (f.rel == "device/failing") {
        EXPECT(r == -EIO, std::to_string(r));
    } else if (f.rel == "device/write_only") {
        EXPECT(r == static_cast<long>(n), std::to_string(r));
        EXPECT(d->write_only_stores.load() == std::stoul(before.at("=write_only_stores")) + 1, "");
    } else if (f.rel == "reset") {
        if (data == "1" || data == "1\n") {
            EXPECT(r == 1 || r == 2, std::to_string(r));
            EXPECT(d->resetter.requests.load() == std::stoull(before.at("=reset_requests")) + 1, "");
        } else {
            EXPECT(r == -EINVAL, std::to_string(r));
        }
    } else {
        fail("a writable file the harness does not know", f.rel);
    }
    if (r < 0) {
        if (observable(w) != before)
            fail("a failed write changed the device", f.rel + " " + std::to_string(r));
    } else if (!positioned) {
        pos += static_cast<std::uint64_t>(r);
    }
}

void checked_read(world& w, const file_info& f, int fd, std::size_t len, bool positioned, long long off,
                  std::uint64_t& pos) {
    std::vector<char> buf(len + 64, '\x5a');
    const long r = positioned ? w.mock.pread(fd, buf.data(), len, static_cast<off_t>(off)) : w.mock.read(fd, buf.data(), len);
    if (r == -EBADF)
        return; // opened write-only
    if (r < 0) {
        EXPECT(r == -EIO || r == -EINVAL, f.rel + " " + std::to_string(r));
        return;
    }
    const std::uint64_t at = positioned ? static_cast<std::uint64_t>(off) : pos;
    EXPECT(at <= static_cast<std::uint64_t>(LLONG_MAX) - len, f.rel + " read past LLONG_MAX succeeded"); // rw_verify_area
    EXPECT(static_cast<std::size_t>(r) <= len, f.rel);
    EXPECT(std::all_of(buf.begin() + r, buf.end(), [](char c) { return c == '\x5a'; }), f.rel + ": wrote past the count");
    const std::uint64_t cap = f.debugfs ? debugfs_limit - 1 : attribute_page_size - 1;
    if (r > 0)
        EXPECT(at + static_cast<std::uint64_t>(r) <= cap, f.rel + " read past the show cap");
    if (f.rel == "device/value" && at == 0 && len >= 8)
        EXPECT(std::string(buf.data(), static_cast<std::size_t>(r)) == std::to_string((*w.dev)->value.load()) + "\n", f.rel);
    if (!positioned)
        pos += static_cast<std::uint64_t>(r);
}

void checked_seek(world& w, const file_info& f, int fd, long long off, int whence, std::uint64_t& pos) {
    const long long r = w.mock.lseek(fd, off, whence);
    long long base = 0;
    bool ok = true;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = static_cast<long long>(pos); break;
    case SEEK_END: base = f.size; break;
    default: ok = false;
    }
    // generic_file_llseek: a negative result is -EINVAL (so is one that would overflow)
    __int128 want = static_cast<__int128>(base) + off;
    if (!ok || want < 0 || want > LLONG_MAX)
        ok = false;
    if (!ok) {
        EXPECT(r == -EINVAL, f.rel + " lseek " + std::to_string(off) + " " + std::to_string(whence) + " -> " + std::to_string(r));
        return;
    }
    EXPECT(r == static_cast<long long>(want), f.rel + " lseek " + std::to_string(off) + " -> " + std::to_string(r));
    pos = static_cast<std::uint64_t>(r);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    world& w = fuzz_parsers::the_world<world>();
    reader in{data, size};
    for (int session = 0; session < 4 && !in.empty(); ++session) {
        const file_info& f = w.files[in.get<std::uint8_t>() % w.files.size()];
        const auto flags = in.get<std::uint8_t>();
        const int acc[] = {O_RDONLY, O_WRONLY, O_RDWR, O_RDWR};
        const bool opener_root = !(flags & 4), writer_root = !(flags & 8);
        int fd;
        {
            backend::mock::identity who(opener_root ? root_id : nobody);
            fd = w.mock.open(f.path, acc[flags & 3]);
        }
        if (fd < 0) {
            EXPECT(fd == -EACCES || fd == -EPERM, f.rel + " open " + std::to_string(fd));
            continue;
        }
        std::uint64_t pos = 0;
        const unsigned ops = in.get<std::uint8_t>() % 8;
        for (unsigned i = 0; i < ops && !in.empty(); ++i) {
            const auto op = in.get<std::uint8_t>() % 5;
            if (op == 0 || op == 1) {
                const long long off = op == 1 ? in.get<std::int64_t>() : 0;
                const std::size_t len = in.get<std::uint16_t>() % 5001;
                checked_write(w, f, fd, in.payload(len), writer_root, opener_root, op == 1, off, pos);
            } else if (op == 2 || op == 3) {
                const long long off = op == 3 ? in.get<std::int64_t>() % (1ll << 21) : 0;
                const std::size_t len = in.get<std::uint16_t>() % 8193;
                if (op == 3 && off < 0)
                    continue;
                checked_read(w, f, fd, len, op == 3, off, pos);
            } else {
                const long long off = in.get<std::int64_t>();
                const auto wh = in.get<std::uint8_t>();
                checked_seek(w, f, fd, off, wh < 192 ? wh % 3 : wh, pos);
            }
        }
        EXPECT(w.mock.close(fd) == 0, f.rel);
    }
    return 0;
}
