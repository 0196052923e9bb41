// SPDX-License-Identifier: MIT
// Test drivers shared by every backend's tests (the FUSE server serves the same ones).
#pragma once
#include "test_uapi.h"

#include <accel/accel.hpp>

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <stop_token>
#include <poll.h>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

namespace accel::test {

inline int echo_words(__u64& report, __u64* words, std::size_t n) {
    report = TEST_ECHO_RAN;
    for (std::size_t i = 0; i < n; ++i) {
        if (words[i])
            report |= std::uint64_t{1} << i;
        words[i] += 1;
    }
    return 0;
}

/// The device's own threads (JOB): started by an ioctl, joined at remove (or when the device
/// data goes). A job thread holds no device reference, so it never drops the last one and
/// never joins itself; the device outlives it because remove() joins it first.
class job_threads {
public:
    template <class Fn>
    void start(Fn&& fn) {
        std::lock_guard lock(m_);
        threads_.emplace_back(std::forward<Fn>(fn));
    }
    /// Asks every job to stop (a job waiting for the doorbell gives up) and waits for them.
    void stop_all() noexcept {
        std::vector<std::jthread> all;
        {
            std::lock_guard lock(m_);
            all.swap(threads_);
        }
        all.clear(); // request_stop + join
    }
    ~job_threads() { stop_all(); }

private:
    std::mutex m_;
    std::vector<std::jthread> threads_;
};

/// Every dispatch rule, made visible: see test_uapi.h.
template <bool Exclusive>
struct basic_test_driver {
    static constexpr driver_info info{3, 14, 15, Exclusive ? "test_excl" : "test", "accel test driver", "20261127"};
    static constexpr bool exclusive = Exclusive;

    struct device_data {
        std::atomic<std::uint64_t> opens{0};
        std::atomic<std::uint64_t> postcloses{0};
        std::atomic<int> fail_open{0}; // when non-zero, open() returns it
        std::atomic<int> probes{0};
        std::atomic<int> removes{0};
        std::atomic<int> fail_probe{0};
        std::atomic<std::uint32_t> postclose_ms{0};
        std::atomic<std::uint64_t> doorbell{0};
        wait_queue doorbell_wait;
        // Object operations seen (object_data's hooks), and a way to make handle opens fail.
        std::atomic<std::uint64_t> handle_opens{0};
        std::atomic<std::uint64_t> handle_closes{0};
        std::atomic<std::uint64_t> objects_freed{0};
        std::atomic<int> fail_handle_open{0};
        // The reset the non-exclusive driver offers ACCEL_IOCTL_RESET: done at once, or failed.
        struct resetter final : reset_handler {
            device_status* status = nullptr;
            std::atomic<std::uint32_t> fail{0};
            std::atomic<std::uint64_t> requests{0};
            int request_reset() noexcept override {
                requests++;
                status->set_state(ACCEL_STATE_IN_RESET);
                if (fail.exchange(0))
                    status->set_state(ACCEL_STATE_MALFUNCTION);
                else
                    status->reset_completed();
                return 0;
            }
        } resetter;
        job_threads jobs; // last: joined before the rest goes
    };
    struct file_data {
        std::uint64_t noarg_calls = 0;
        std::atomic<std::uint64_t> poll_target{0};
        file_data() = default;
        file_data(file_data&& o) noexcept : noarg_calls(o.noarg_calls), poll_target(o.poll_target.load()) {}
    };
    struct object_data {
        std::uint32_t create_flags = 0;
        static int open(bo<basic_test_driver>& o, file<basic_test_driver>&) {
            auto& d = o.device();
            if (int e = d->fail_handle_open.load())
                return e;
            d->handle_opens++;
            return 0;
        }
        static void close(bo<basic_test_driver>& o, file<basic_test_driver>&) { o.device()->handle_closes++; }
        static void free(bo<basic_test_driver>& o) { o.device()->objects_freed++; }
    };
    using dev = device<basic_test_driver>;
    using fil = file<basic_test_driver>;

    static int probe(dev& d) {
        d->probes++;
        if (int e = d->fail_probe.load())
            return e;
        if constexpr (!Exclusive) {
            d->resetter.status = &d.status();
            d.status().set_reset_handler(&d->resetter);
        }
        return 0;
    }
    static void remove(dev& d) {
        d.status().set_reset_handler(nullptr);
        d->jobs.stop_all();
        d->removes++;
    }
    static result<file_data> open(dev& d) {
        if (int e = d->fail_open.load())
            return result<file_data>::failure(e);
        d->opens++;
        return file_data{};
    }
    static unsigned poll(dev& d, fil& f) {
        const std::uint64_t t = f->poll_target.load();
        return t && d->doorbell.load() >= t ? POLLIN | POLLRDNORM : 0u;
    }
    static void postclose(dev& d, fil&) {
        if (auto ms = d->postclose_ms.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        d->postcloses++;
    }
    static int slow_close(dev& d, fil&, test_slow_close& a) {
        if (a.pad || a.postclose_ms > 2000)
            return -EINVAL;
        d->postclose_ms = a.postclose_ms;
        return 0;
    }

    static int echo(dev&, fil&, test_echo& a) { return echo_words(a.report, a.words, 7); }
    static int big(dev&, fil&, test_big& a) { return echo_words(a.report, a.words, 39); }
    static int sum(dev&, fil&, test_sum& a) {
        if (a.pad)
            return -EINVAL;
        if (a.count > 1024)
            return -E2BIG;
        std::uint64_t s = 0;
        for (std::uint32_t i = 0; i < a.count; ++i) {
            std::uint64_t v;
            if (int e = copy_from_user(v, a.values + i * sizeof(std::uint64_t)))
                return e;
            s += v;
        }
        a.sum = s;
        return 0;
    }
    static int fail(dev&, fil&, test_fail& a) {
        a.words[0] = a.words[1] = TEST_FAIL_MARKER;
        return -EIO;
    }
    static int noarg(dev&, fil& f, no_arg&) {
        f->noarg_calls++;
        return 0;
    }
    static int count(dev& d, fil& f, test_count& a) {
        a.noarg_calls = f->noarg_calls;
        a.opens = d->opens.load();
        a.postcloses = d->postcloses.load();
        return 0;
    }

    static int wait(dev& d, fil&, test_wait& a) {
        if (a.pad)
            return -EINVAL;
        auto reached = [&dd = d.data()](test_wait& w) -> std::optional<int> {
            const std::uint64_t now = dd.doorbell.load();
            if (now < w.target)
                return std::nullopt;
            w.seen = now;
            return 0;
        };
        if (auto r = reached(a))
            return *r; // the fast path: no wait
        const auto timeout = a.timeout_ms == ~0u ? std::chrono::nanoseconds(-1) : std::chrono::milliseconds(a.timeout_ms);
        return park(a, d->doorbell_wait, timeout, reached);
    }
    static int ring(dev& d, fil&, test_ring& a) {
        const auto parked = static_cast<int>(d.parked().size());
        a.doorbell = d->doorbell.fetch_add(a.count) + a.count;
        d->doorbell_wait.wake_all();
        d.for_each_file([](const file_base& f) { const_cast<file_base&>(f).event_wait().wake_all(); });
        return parked;
    }
    static int poll_arm(dev& d, fil& f, __u64& target) {
        f->poll_target = target;
        f.event_wait().wake_all();
        (void)d;
        return 0;
    }

    static int send_events(dev& d, fil&, test_send_events& a) {
        int err = 0;
        d.for_each_file([&](const file_base& f) {
            for (std::uint32_t i = 0; i < a.count && !err; ++i) {
                test_event e{a.type, sizeof(test_event), a.value + i};
                err = const_cast<file_base&>(f).send_event(&e, sizeof e);
            }
        });
        return err;
    }
    /// JOB (test_uapi.h): a driver thread does the device's part.
    static int job(dev& d, fil& f, test_job& a) {
        if (a.pad)
            return -EINVAL;
        gem_ref obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        if (a.offset % 8 || a.offset >= obj->size())
            return -EINVAL;
        try {
            d->jobs.start([&d, obj = std::move(obj), client = f.client_id(), a](std::stop_token stop) {
                while (d->doorbell.load() < a.after_doorbell) {
                    if (stop.stop_requested())
                        return;
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
                if (!d.enter())
                    return; // unplugged: the job is lost, as with a removed device
                device_base::entered guard{&d};
                std::byte* cpu = obj->vaddr();
                if (!cpu)
                    return;
                std::memcpy(cpu + a.offset, &a.value, sizeof a.value); // the device's DMA
                obj->device_wrote();                                     // before anyone is told
                test_event e{TEST_EVENT_JOB, sizeof(test_event), a.value};
                d.for_each_file([&](const file_base& g) {
                    if (g.client_id() == client)
                        (void)const_cast<file_base&>(g).send_event(&e, sizeof e);
                });
                d->doorbell.fetch_add(1);
                d->doorbell_wait.wake_all();
                d.for_each_file([](const file_base& g) { const_cast<file_base&>(g).event_wait().wake_all(); });
            });
        } catch (...) {
            return -ENOMEM;
        }
        return 0;
    }
    static int reset(dev& d, fil&, no_arg&) {
        d.reset_completed();
        return 0;
    }

    static int set_state(dev& d, fil&, test_set_state& a) {
        if (a.state > ACCEL_STATE_NEEDS_RESET)
            return -EINVAL;
        d->resetter.fail = a.fail_reset;
        d.status().set_state(static_cast<accel_device_state>(a.state));
        return 0;
    }

    static int bo_create(dev& d, fil& f, test_bo_create& a) {
        if (a.flags)
            return -EINVAL;
        auto obj = bo<basic_test_driver>::create(d, a.size, object_data{a.flags});
        if (!obj)
            return obj.error();
        auto h = create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        a.size = (*obj)->size();
        a.mmap_offset = (*obj)->mmap_offset();
        return 0;
    }
    static int bo_info(dev&, fil& f, test_bo_info& a) {
        auto obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        a.size = obj->size();
        a.mmap_offset = obj->mmap_offset();
        a.handle_count = obj->handle_count();
        return 0;
    }
    static int bo_poke(dev&, fil& f, test_bo_poke& a) {
        auto obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        if (a.op > 1 || a.offset % 8 || a.offset >= obj->size())
            return -EINVAL;
        std::byte* cpu = obj->vaddr();
        if (!cpu)
            return -ENOMEM;
        auto* word = reinterpret_cast<std::uint64_t*>(cpu + a.offset);
        if (a.op == 1)
            *word = a.value;
        else
            a.value = *word;
        return 0;
    }
    static int mem_stats(dev&, fil& f, test_mem_stats& a) {
        const file_memory_stats m = memory_stats(f);
        a = {m.handles, m.total, m.shared, m.resident};
        return 0;
    }

    using ioctls = ioctl_table<                                           //
        ACCEL_IOCTL(TEST_IOCTL_ECHO, &echo, ioctl_flags::none),           //
        ACCEL_IOCTL(TEST_IOCTL_ECHO_IN, &echo, ioctl_flags::none),        //
        ACCEL_IOCTL(TEST_IOCTL_ECHO_OUT, &echo, ioctl_flags::none),       //
        ACCEL_IOCTL(TEST_IOCTL_ROOT, &echo, ioctl_flags::root_only),      //
        ACCEL_IOCTL(TEST_IOCTL_AUTH, &echo, ioctl_flags::auth),           //
        ACCEL_IOCTL(TEST_IOCTL_MASTER, &echo, ioctl_flags::master),       //
        ACCEL_IOCTL(TEST_IOCTL_MONITOR, &echo, ioctl_flags::monitor),     //
        ACCEL_IOCTL(TEST_IOCTL_BIG, &big, ioctl_flags::none),             //
        ACCEL_IOCTL(TEST_IOCTL_SUM, &sum, ioctl_flags::monitor),          //
        ACCEL_IOCTL(TEST_IOCTL_FAIL, &fail, ioctl_flags::none),           //
        ACCEL_IOCTL(TEST_IOCTL_NOARG, &noarg, ioctl_flags::none),         //
        ACCEL_IOCTL(TEST_IOCTL_COUNT, &count, ioctl_flags::monitor),      //
        ACCEL_IOCTL(TEST_IOCTL_SLOW_CLOSE, &slow_close, ioctl_flags::none), //
        ACCEL_IOCTL(TEST_IOCTL_BO_CREATE, &bo_create, ioctl_flags::none), //
        ACCEL_IOCTL(TEST_IOCTL_BO_INFO, &bo_info, ioctl_flags::none),     //
        ACCEL_IOCTL(TEST_IOCTL_BO_POKE, &bo_poke, ioctl_flags::none),     //
        ACCEL_IOCTL(TEST_IOCTL_MEM_STATS, &mem_stats, ioctl_flags::none), //
        ACCEL_IOCTL(TEST_IOCTL_WAIT, &wait, ioctl_flags::none),           //
        ACCEL_IOCTL(TEST_IOCTL_RING, &ring, ioctl_flags::monitor),        //
        ACCEL_IOCTL(TEST_IOCTL_POLL_ARM, &poll_arm, ioctl_flags::none),   //
        ACCEL_IOCTL(TEST_IOCTL_RESET, &reset, ioctl_flags::none),         //
        ACCEL_IOCTL(TEST_IOCTL_SET_STATE, &set_state, ioctl_flags::none), //
        ACCEL_IOCTL(TEST_IOCTL_SEND_EVENTS, &send_events, ioctl_flags::monitor), //
        ACCEL_IOCTL(TEST_IOCTL_JOB, &job, ioctl_flags::none)>;

    // INFO callbacks.
    static std::vector<accel_info_memory_region> memory_regions(dev&) {
        std::vector<accel_info_memory_region> r(2);
        r[0] = {0, ACCEL_MEMORY_SYSTEM, 1ull << 30, "system"};
        r[1] = {1, ACCEL_MEMORY_SRAM, 4ull << 20, "sram"};
        return r;
    }
    static std::vector<accel_info_engine> engines(dev&) { return {{0, 4, "compute"}, {1, 1, "dma"}}; }
    static accel_info_capabilities capabilities(dev&) { return {ACCEL_INFO_CAP_MMU, (1ull << 12) | (1ull << 21), 48, 0}; }
    static std::vector<accel_info_memory_use> memory_usage(dev&) { return {{0, 0, 4096}, {1, 0, 0}}; }
    static std::vector<accel_info_engine_time> engine_busy(dev& d) { return {{0, 0, 1000 * d->opens.load()}, {1, 0, 0}}; }
    /// Two fixed sensors (monitor_conformance.hpp checks them).
    static std::vector<accel_info_sensor> sensors(dev&) {
        std::vector<accel_info_sensor> s(2);
        s[0] = {ACCEL_SENSOR_TEMP, 1, 42'000, "edge"};
        s[1] = {ACCEL_SENSOR_POWER, 1, 1'500'000, "board"};
        return s;
    }
    /// Driver fdinfo keys: one valid "<driver>-" key and two the framework must drop (a
    /// standard key and one without the driver's prefix).
    static void show_fdinfo(fil& f, std::string& out) {
        out += std::string(info.name) + "-noarg-calls:\t" + std::to_string(f->noarg_calls) + "\n";
        out += "drm-engine-forged:\t1 ns\n";
        out += "other-key:\t1\n";
    }
};

using test_driver = basic_test_driver<false>;
using exclusive_test_driver = basic_test_driver<true>;

} // namespace accel::test
