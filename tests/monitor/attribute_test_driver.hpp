// SPDX-License-Identifier: MIT
// The attribute test driver: every kind of attribute declaration, sensors, a memory region and
// a reset handler, for the attribute suites (the FUSE tests serve the same driver).
//
//   sysfs device/: value (0644, 0..1000, else -EINVAL), failing (0644, store always -EIO),
//                  limited (0644, limit 8), big (0444, 5000 bytes of show), write_only (0200,
//                  counts stores), show_error (0444, show -EIO), nested/deep/leaf (0444)
//   debugfs:       counters (0444), dir/entry (0444), big (0444, 5000 bytes of show: debugfs
//                  does not cut it at a page)
//   fdinfo:        attr-test-device-files, the device's open files, counted by walking them
//                  (dev.for_each_file) from show_fdinfo: the framework must not hold the
//                  device's file lock around show_fdinfo
//   sensors:       temp1 "die", in0, curr1, power1, energy1, fan1 (unlabelled)
//   memory:        region "hbm" (1 MiB) with device_data::hbm_used bytes used
#pragma once
#include <accel/accel.hpp>
#include <accel/core/attribute.hpp>

#include <atomic>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace accel::test {

struct attr_test_driver {
    static constexpr driver_info info{2, 7, 1, "attr-test", "attribute test driver", "20261205"};

    struct device_data {
        std::atomic<unsigned> value{42};
        std::atomic<unsigned> write_only_stores{0};
        std::atomic<std::uint64_t> hbm_used{4096};
        std::atomic<bool> sensors_on{true};
        std::atomic<std::int64_t> temp{45000};
        struct resetter final : reset_handler {
            device_status* status = nullptr;
            std::atomic<std::uint64_t> requests{0};
            int request_reset() noexcept override {
                requests++;
                status->set_state(ACCEL_STATE_IN_RESET);
                status->reset_completed();
                return 0;
            }
        } resetter;
    };
    struct file_data {};
    using ioctls = ioctl_table<>;
    using dev = device<attr_test_driver>;

    static int probe(dev& d) {
        d->resetter.status = &d.status();
        d.status().set_reset_handler(&d->resetter);
        return 0;
    }
    static void remove(dev& d) { d.status().set_reset_handler(nullptr); }

    static int value_show(dev& d, std::string& out) {
        out += std::to_string(d->value.load()) + "\n";
        return 0;
    }
    static int value_store(dev& d, std::string_view in) {
        unsigned v = 0;
        if (parse_attribute_number(in, v) != 0 || v > 1000)
            return -EINVAL;
        d->value = v;
        return 0;
    }
    static int failing_store(dev&, std::string_view) { return -EIO; }
    static int big_show(dev&, std::string& out) {
        for (int i = 0; i < 5000; ++i)
            out += static_cast<char>('a' + i % 26);
        return 0;
    }
    static int write_only_store(dev& d, std::string_view) {
        d->write_only_stores++;
        return 0;
    }
    static int show_error(dev&, std::string&) { return -EIO; }
    static int leaf_show(dev&, std::string& out) {
        out += "leaf\n";
        return 0;
    }
    static int counters_show(dev& d, std::string& out) {
        out += "value " + std::to_string(d->value.load()) + "\nwrite_only_stores " +
               std::to_string(d->write_only_stores.load()) + "\n";
        return 0;
    }

    static constexpr std::array sysfs_attributes{
        attribute<attr_test_driver>{"value", 0644, &value_show, &value_store},
        attribute<attr_test_driver>{"failing", 0644, &value_show, &failing_store},
        attribute<attr_test_driver>{"limited", 0644, &value_show, &value_store, 8},
        attribute<attr_test_driver>{"big", 0444, &big_show, nullptr},
        attribute<attr_test_driver>{"write_only", 0200, nullptr, &write_only_store},
        attribute<attr_test_driver>{"show_error", 0444, &show_error, nullptr},
        attribute<attr_test_driver>{"nested/deep/leaf", 0444, &leaf_show, nullptr},
    };
    static constexpr std::array debugfs_entries{
        attribute<attr_test_driver>{"counters", 0444, &counters_show, nullptr},
        attribute<attr_test_driver>{"dir/entry", 0444, &leaf_show, nullptr},
        attribute<attr_test_driver>{"big", 0444, &big_show, nullptr},
    };

    static std::vector<accel_info_sensor> sensors(dev& d) {
        if (!d->sensors_on)
            return {};
        auto make = [](std::uint32_t type, std::uint32_t index, std::int64_t value, const char* label) {
            accel_info_sensor s{};
            s.type = type;
            s.index = index;
            s.value = value;
            std::strncpy(s.label, label, sizeof s.label - 1);
            return s;
        };
        return {make(ACCEL_SENSOR_TEMP, 1, d->temp.load(), "die"), make(ACCEL_SENSOR_IN, 0, 850, ""),
                make(ACCEL_SENSOR_CURR, 1, 1200, ""),          make(ACCEL_SENSOR_POWER, 1, 75000000, ""),
                make(ACCEL_SENSOR_ENERGY, 1, 123456789, ""),   make(ACCEL_SENSOR_FAN, 1, 2400, "")};
    }
    static void show_fdinfo(file<attr_test_driver>& f, std::string& out) {
        unsigned n = 0;
        f.base_device().for_each_file([&](const file_base&) { ++n; });
        out += "attr-test-device-files:\t" + std::to_string(n) + "\n";
    }
    static std::vector<accel_info_memory_region> memory_regions(dev&) {
        accel_info_memory_region r{};
        r.id = 1;
        r.kind = ACCEL_MEMORY_DEVICE;
        r.size = 1 << 20;
        std::strncpy(r.name, "hbm", sizeof r.name - 1);
        return {r};
    }
    static std::vector<accel_info_memory_use> memory_usage(dev& d) {
        return {accel_info_memory_use{1, 0, d->hbm_used.load()}};
    }
};

} // namespace accel::test
