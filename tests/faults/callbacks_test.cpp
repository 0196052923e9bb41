// SPDX-License-Identifier: MIT
// Callback sweep: the whole two-driver scenario (fault_scenario.hpp) run once for each n, the
// nth driver-hook call answering an error (fail_nth_callback: probe, open, a driver ioctl, the
// dma-buf exporter's attach/map/mmap/vmap, the importer's dma_domain map, run_job, the hardware
// reset), until a run passes with nothing injected. Each run must fail at most one step, with
// the hook's error as the boundary documents it, leave the state as it was before that step,
// leave the devices working (smoke()), and leave nothing behind once everything is closed. Then
// the hooks reached are checked against every callback_may_fail("<hook>") call in include/accel.
#include "fault_scenario.hpp"
#include "sites.hpp"

#include <cstdlib>
#include <map>

namespace {

constexpr int injected = -ENXIO; // an errno no step produces by itself

/// Hooks the scenario cannot reach, and why.
const std::map<std::string, const char*> unreachable = {
    {"object.open", "neither vdnn nor vdsp declares object_data::open (gem_object_funcs.open)"},
    {"object.export_dmabuf", "neither vdnn nor vdsp declares object_data::export_dmabuf: they export with gem_exporter"},
    {"exporter.begin_cpu_access", "gem_exporter has no begin/end_cpu_access (coherent memory, as drm_gem's default ops)"},
    {"exporter.end_cpu_access", "gem_exporter has no begin/end_cpu_access (coherent memory, as drm_gem's default ops)"},
};

/// Hooks whose failure the framework absorbs by design: no step fails.
///   exporter.mmap  asked at import for the memfd through which a client maps the imported
///                  object: without it the import still works for the devices (a client's mmap
///                  of that handle answers the error instead); the step "mmap dma-buf" gets it.
bool absorbed(const std::string& hook) { return hook == "exporter.mmap"; }

/// The errno the boundary answers when `hook` fails with `injected`.
int expected_errno(const std::string& hook) {
    if (hook == "reset_domain.hw_reset")
        return -EIO; // accel_reset.h: the device is left MALFUNCTION, RESET_WAIT answers -EIO
    return injected;
}

/// The hook names of every callback_may_fail("<hook>") call in include/accel.
std::set<std::string> source_hooks() {
    std::set<std::string> out;
    const std::string needle = "callback_may_fail(\"";
    const std::filesystem::path root = std::filesystem::path(ACCEL_SOURCE_DIR) / "include" / "accel";
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
        if (!e.is_regular_file() || e.path().filename() == "fault_injection.hpp")
            continue;
        std::ifstream in(e.path());
        std::string line;
        while (std::getline(in, line))
            if (auto at = line.find(needle); at != std::string::npos) {
                at += needle.size();
                out.insert(line.substr(at, line.find('"', at) - at));
            }
    }
    return out;
}

} // namespace

TEST_CASE("every driver callback failing in turn: the driver's errno at the boundary, state unchanged, device still works") {
    std::map<std::string, int> reached;              // hook -> runs that failed it
    std::map<std::string, std::string> failed_steps; // hook -> the steps it failed
    bool clean = false;
    std::int64_t n = 1;
    for (; n < 500 && !clean; ++n) {
        CAPTURE(n);
        faults::scenario s;
        const auto before = accel::injected_callback_failures();
        accel::fail_nth_callback(n, injected);
        s.run();
        accel::disarm_callback_faults();
        if (accel::injected_callback_failures() == before) {
            CHECK_MESSAGE(s.failed_step == nullptr, "a clean run failed step ",
                          std::string(s.failed_step ? s.failed_step : ""), " errno ", s.failed_errno);
            clean = true;
        } else {
            const std::string hook = accel::last_failed_callback();
            const std::string step = s.failed_step ? s.failed_step : "(none)";
            CAPTURE(hook);
            INFO("failed step: ", step, " errno ", s.failed_errno);
            if (std::getenv("FAULTS_VERBOSE"))
                MESSAGE(n << " " << hook << " -> " << step << " " << s.failed_errno);
            ++reached[hook];
            if (s.failed_step) {
                CHECK(s.failed_errno == expected_errno(hook));
                if (failed_steps[hook].find(step) == std::string::npos)
                    failed_steps[hook] += (failed_steps[hook].empty() ? "" : ", ") + step;
            } else {
                CHECK(absorbed(hook));
            }
        }
        s.smoke(); // the device still works: a reset brings a MALFUNCTION device back first
        s.teardown();
        s.check_nothing_left();
    }
    CHECK(clean);
    MESSAGE("driver callbacks the scenario crosses: " << n - 2);
    for (const auto& [hook, count] : reached)
        MESSAGE("  " << hook << ": " << count << " (" << failed_steps[hook] << ")");

    for (const auto& hook : source_hooks()) {
        if (reached.count(hook))
            continue;
        INFO("callback_may_fail(\"", hook, "\") not reached");
        CHECK(unreachable.count(hook) == 1);
    }
}
