// SPDX-License-Identifier: MIT
#pragma once
/// \file Writing programs of the harness's language (fuzz/ioctl_program.hpp) from C++: the seed
/// corpus of a target, and the fixed inputs of tests that run the harness. Commands are named by
/// request number and found in the driver's catalogue, so seeds survive a reordered table.
#include <accel/fuzz/command_catalogue.hpp>
#include <accel/fuzz/violation.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace accel::fuzz {

/// A patch of an IOCTL operation (see the language's patch kinds).
struct patch {
    enum kind : std::uint8_t { pool32 = 0, pool64 = 1, arena_ptr = 2, descriptor = 3, small = 4, pool_delta = 5, raw32 = 6, raw64 = 7 };
    kind k;
    std::uint16_t offset;
    std::uint64_t value; ///< pool index, arena offset, descriptor index, or the raw value
};

template <class D>
class program_writer {
public:
    program_writer() : commands_(commands_of<D>()) {}

    const std::vector<std::uint8_t>& bytes() const noexcept { return out_; }

    program_writer& open(unsigned dev = 0, bool monitor = false, unsigned flags_choice = 0) {
        out_.push_back(0);
        out_.push_back(static_cast<std::uint8_t>((dev & 3) | (monitor ? 0x10 : 0) | ((flags_choice & 3) << 5)));
        return *this;
    }
    program_writer& close(unsigned which) {
        out_.push_back(1);
        out_.push_back(static_cast<std::uint8_t>(which));
        return *this;
    }
    /// IOCTL `cmd` (a catalogue entry) on descriptor `which` with `arg` as its first bytes.
    template <class Arg>
    program_writer& ioctl(unsigned which, ioctl_cmd cmd, const Arg& arg, std::initializer_list<patch> patches = {}, bool user = false) {
        return ioctl_bytes(which, cmd, &arg, sizeof arg, patches, user);
    }
    program_writer& ioctl_bytes(unsigned which, ioctl_cmd cmd, const void* arg, std::size_t n, std::initializer_list<patch> patches = {},
                                bool user = false) {
        out_.push_back(2);
        out_.push_back(static_cast<std::uint8_t>(which));
        out_.push_back(0);
        out_.push_back(index_of(cmd));
        out_.push_back(user ? 1 : 0);
        if (n > 255)
            n = 255;
        out_.push_back(static_cast<std::uint8_t>(n));
        const auto* b = static_cast<const std::uint8_t*>(arg);
        out_.insert(out_.end(), b, b + n);
        out_.push_back(static_cast<std::uint8_t>(patches.size()));
        for (const patch& p : patches) {
            out_.push_back(p.k);
            put(p.offset, 2);
            switch (p.k) {
            case patch::arena_ptr: put(p.value, 2); break;
            case patch::raw32: put(p.value, 4); break;
            case patch::pool_delta: put(p.value, 2); break;
            case patch::raw64: put(p.value, 8); break;
            default: put(p.value, 1); break;
            }
        }
        return *this;
    }
    /// MMAP on descriptor `which` at the pool's value `pool_index` (0: the newest; 0x80 + n: page n),
    /// `pages` pages; `fill_from_arena`: the arena's first bytes are copied into it.
    program_writer& mmap(unsigned which, unsigned pool_index, unsigned pages = 1, bool write = true, bool fill_from_arena = false) {
        out_.push_back(5);
        out_.push_back(static_cast<std::uint8_t>(which));
        if (pool_index >= 0x80) { // 0x80 + n: page n of the file, not a pool value
            out_.push_back(0x80);
            put(pool_index - 0x80, 2);
        } else {
            out_.push_back(static_cast<std::uint8_t>(pool_index));
        }
        out_.push_back(static_cast<std::uint8_t>((pages - 1) & 3));
        out_.push_back(static_cast<std::uint8_t>((write ? 3 : 1) | (fill_from_arena ? 8 : 0)));
        return *this;
    }
    program_writer& munmap(unsigned which) {
        out_.push_back(6);
        out_.push_back(static_cast<std::uint8_t>(which));
        out_.push_back(0);
        return *this;
    }
    /// Bytes into the user arena at `offset`.
    program_writer& arena(std::uint16_t offset, const void* data, std::size_t n) {
        out_.push_back(7);
        out_.push_back(0);
        put(offset, 2);
        if (n > 255)
            n = 255;
        out_.push_back(static_cast<std::uint8_t>(n));
        const auto* b = static_cast<const std::uint8_t*>(data);
        out_.insert(out_.end(), b, b + n);
        return *this;
    }
    /// A pool value into the user arena at `offset` (an array of handles for a wait, say).
    program_writer& arena_pool(std::uint16_t offset, unsigned pool_index) {
        out_.push_back(7);
        out_.push_back(1);
        put(offset, 2);
        out_.push_back(static_cast<std::uint8_t>(pool_index));
        return *this;
    }

    /// A pointer to arena byte `target` into the user arena at `offset` (a struct array's
    /// embedded pointer).
    program_writer& arena_ptr(std::uint16_t offset, std::uint16_t target) {
        out_.push_back(7);
        out_.push_back(2);
        put(offset, 2);
        put(target, 2);
        return *this;
    }

    /// Writes the program to `dir`/`name`.
    void save(const std::string& dir, const std::string& name) const {
        const std::string path = dir + "/" + name;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f || std::fwrite(out_.data(), 1, out_.size(), f) != out_.size())
            violation("cannot write %s", path.c_str());
        std::fclose(f);
    }

private:
    std::uint8_t index_of(ioctl_cmd cmd) const {
        for (std::size_t i = 0; i < commands_.size() && i < 240; ++i)
            if (commands_[i].cmd == cmd)
                return static_cast<std::uint8_t>(i);
        violation("program_writer: 0x%08x is not in the catalogue", static_cast<unsigned>(cmd));
    }
    void put(std::uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i)
            out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }

    std::vector<command> commands_;
    std::vector<std::uint8_t> out_;
};

} // namespace accel::fuzz
