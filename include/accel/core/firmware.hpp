// SPDX-License-Identifier: MIT
#pragma once
/// \file `firmware_loader`: request_firmware for user-space drivers (drivers/base/firmware_loader,
/// KERNEL-EXEC.md section 9): a driver asks for a firmware file by name ("accel/vdsp.fw") and
/// gets its bytes and the path they came from, or a negative errno.
///
/// The search path is either an explicit list of directories, or the kernel's order under a
/// root directory (the file system root by default; a test or accel-serve points it at a build
/// tree):
///   1. the custom directory (firmware_class.path=), if set; used as given, not under the root;
///   2. ROOT/lib/firmware/updates/$(uname -r)
///   3. ROOT/lib/firmware/updates
///   4. ROOT/lib/firmware/$(uname -r)
///   5. ROOT/lib/firmware
/// The root comes from the ACCEL_FIRMWARE_ROOT environment variable when the loader is built with
/// `from_environment()`, and ACCEL_FIRMWARE_PATH (a ':'-separated list) replaces the whole search
/// path, as an explicit list.
///
/// request(name), in the kernel's order of checks:
///   - a null or empty name, or one with a ".." path component: -EINVAL, with a warning line
///     (the 2024 fw_path check); an absolute name is looked up under each directory all the same;
///   - each directory in turn: DIR/name of PATH_MAX bytes or more: -ENAMETOOLONG (the search
///     stops, as kernel_read_file_from_path_initns's path buffer would); a file that is not
///     there (ENOENT, ENOTDIR): the next directory, silently; any other error (EACCES, EISDIR,
///     EIO, a file too large) is logged and the search continues;
///   - found nowhere: -ENOENT and the kernel's "Direct firmware load for NAME failed with error
///     -2" line (unless `quiet`, as firmware_request_nowarn).
/// Log lines go to the loader's sink (stderr by default); tests capture them with `set_log`.
/// The loader holds no lock: it is configured before use, and request() may run on any thread.
#include <accel/base/errno.hpp>

#include <sys/stat.h>
#include <sys/utsname.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

namespace accel {

/// A firmware image handed to a driver (struct firmware): the file's bytes and where they came
/// from. Copyable and cheap to pass on: the bytes are shared and never change.
class firmware {
public:
    firmware() = default;
    firmware(std::string name, std::string path, std::vector<std::byte> data)
        : name_(std::move(name)), path_(std::move(path)),
          data_(std::make_shared<const std::vector<std::byte>>(std::move(data))) {}

    /// The name the driver asked for ("accel/vdsp.fw").
    const std::string& name() const noexcept { return name_; }
    /// The file it was read from.
    const std::string& path() const noexcept { return path_; }
    std::span<const std::byte> data() const noexcept {
        return data_ ? std::span<const std::byte>(*data_) : std::span<const std::byte>{};
    }
    std::size_t size() const noexcept { return data_ ? data_->size() : 0; }

private:
    std::string name_;
    std::string path_;
    std::shared_ptr<const std::vector<std::byte>> data_;
};

class firmware_loader {
public:
    /// Receives one log line (without the newline).
    using log_sink = std::function<void(std::string_view)>;
    /// Files larger than this are refused (-EFBIG, logged; the search continues), as the
    /// kernel's firmware buffer is bounded (INT_MAX there; a smaller bound here).
    static constexpr std::size_t max_size = 64u * 1024u * 1024u;

    firmware_loader() = default;

    /// The kernel's order under `root` (empty: the file system root).
    static firmware_loader under_root(std::string root) {
        firmware_loader l;
        l.root_ = std::move(root);
        return l;
    }
    /// An explicit list of directories, searched in order.
    static firmware_loader with_path(std::vector<std::string> dirs) {
        firmware_loader l;
        l.explicit_ = true;
        l.dirs_ = std::move(dirs);
        return l;
    }
    /// The default loader, adjusted by the environment: ACCEL_FIRMWARE_PATH (':'-separated
    /// directories, an explicit list) or else ACCEL_FIRMWARE_ROOT (the root of the kernel's order).
    static firmware_loader from_environment() {
        if (const char* p = std::getenv("ACCEL_FIRMWARE_PATH"); p && *p) {
            std::vector<std::string> dirs;
            std::string_view rest = p;
            while (!rest.empty()) {
                const std::size_t colon = rest.find(':');
                if (std::string_view d = rest.substr(0, colon); !d.empty())
                    dirs.emplace_back(d);
                rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
            }
            return with_path(std::move(dirs));
        }
        const char* r = std::getenv("ACCEL_FIRMWARE_ROOT");
        return under_root(r ? r : "");
    }

    /// firmware_class.path=: searched first (kernel order only; at most 255 characters, as the
    /// module parameter: a longer one is ignored; empty: none).
    void set_custom_path(std::string dir) { custom_ = dir.size() <= 255 ? std::move(dir) : std::string(); }
    /// The kernel release used for the $(uname -r) directories (default: uname's).
    void set_release(std::string r) { release_ = std::move(r); }
    /// Where log lines go (nullptr: stderr).
    void set_log(log_sink sink) { log_ = std::move(sink); }
    /// No "Direct firmware load ... failed" line for a missing file (firmware_request_nowarn).
    void set_quiet(bool q) noexcept { quiet_ = q; }

    /// The directories request() searches, in order.
    std::vector<std::string> search_path() const {
        if (explicit_)
            return dirs_;
        std::vector<std::string> d;
        if (!custom_.empty())
            d.push_back(custom_);
        const std::string base = root_ + "/lib/firmware";
        const std::string rel = release();
        if (!rel.empty())
            d.push_back(base + "/updates/" + rel);
        d.push_back(base + "/updates");
        if (!rel.empty())
            d.push_back(base + "/" + rel);
        d.push_back(base);
        return d;
    }

    /// request_firmware(): the first DIR/name that can be read, or -EINVAL, -ENAMETOOLONG,
    /// -ENOENT (see the file comment). -ENOMEM when memory runs out.
    result<firmware> request(const char* name) const {
        if (!name) {
            log("firmware: invalid firmware name (null)");
            return result<firmware>::failure(-EINVAL);
        }
        return request(std::string_view(name));
    }
    result<firmware> request(std::string_view name) const {
        using out = result<firmware>;
        try {
            if (name.empty() || has_dotdot(name)) {
                log("firmware: invalid firmware name \"" + std::string(name) + "\"");
                return out::failure(-EINVAL);
            }
            for (const std::string& dir : search_path()) {
                if (dir.empty())
                    continue;
                std::string path = dir;
                if (path.back() != '/' && name.front() != '/')
                    path += '/';
                path += name;
                if (path.size() >= PATH_MAX) {
                    log("firmware: path for \"" + std::string(name) + "\" is too long (" + std::to_string(path.size()) +
                        " bytes)");
                    return out::failure(-ENAMETOOLONG);
                }
                std::vector<std::byte> bytes;
                const int e = read_file(path, bytes);
                if (e == 0)
                    return firmware(std::string(name), std::move(path), std::move(bytes));
                if (e == -ENOENT || e == -ENOTDIR)
                    continue;
                if (e == -ENOMEM)
                    return out::failure(e);
                log("firmware: reading " + path + " failed with error " + std::to_string(e) + " (" +
                    std::strerror(-e) + "); trying the next directory");
            }
            if (!quiet_)
                log("firmware: Direct firmware load for " + std::string(name) + " failed with error -2");
            return out::failure(-ENOENT);
        } catch (...) {
            return out::failure(exception_errno());
        }
    }

    /// Writes one line to the sink (drivers log their firmware checks through it too).
    void log(std::string_view line) const {
        if (log_) {
            log_(line);
            return;
        }
        std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }

private:
    static bool has_dotdot(std::string_view name) noexcept {
        while (!name.empty()) {
            const std::size_t slash = name.find('/');
            if (name.substr(0, slash) == "..")
                return true;
            if (slash == std::string_view::npos)
                break;
            name.remove_prefix(slash + 1);
        }
        return false;
    }

    std::string release() const {
        if (!release_.empty())
            return release_;
        struct utsname u {};
        return ::uname(&u) == 0 ? std::string(u.release) : std::string();
    }

    /// 0 and the whole file in `out`, or -errno.
    static int read_file(const std::string& path, std::vector<std::byte>& out) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        struct closer {
            int fd;
            ~closer() { ::close(fd); }
        } c{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0)
            return -errno;
        if (S_ISDIR(st.st_mode))
            return -EISDIR;
        if (!S_ISREG(st.st_mode))
            return -EINVAL; // a device or a pipe is no firmware file
        if (static_cast<std::uint64_t>(st.st_size) > max_size)
            return -EFBIG;
        out.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < out.size()) {
            const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            if (n == 0)
                break; // shrank meanwhile: what was there
            got += static_cast<std::size_t>(n);
        }
        out.resize(got);
        return 0;
    }

    bool explicit_ = false;
    std::vector<std::string> dirs_;
    std::string root_;
    std::string custom_;
    std::string release_;
    log_sink log_;
    bool quiet_ = false;
};

} // namespace accel
