// SPDX-License-Identifier: MIT
#pragma once
// The framework's fault-injection points as the source tree spells them, to check a sweep
// against: every `alloc_may_fail()` call and every `callback_may_fail("<hook>")` call under
// include/accel (fault_injection.hpp itself excluded). ACCEL_SOURCE_DIR is set by CMake.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace faults {

/// "accel/<dir>/<file>.hpp:<line>" for every line of include/accel that calls `needle`.
inline std::set<std::string> source_sites(const std::string& needle) {
    std::set<std::string> out;
    const std::filesystem::path root = std::filesystem::path(ACCEL_SOURCE_DIR) / "include";
    for (const auto& e : std::filesystem::recursive_directory_iterator(root / "accel")) {
        if (!e.is_regular_file() || e.path().filename() == "fault_injection.hpp")
            continue;
        std::ifstream in(e.path());
        std::string line;
        for (unsigned n = 1; std::getline(in, line); ++n)
            if (line.find(needle) != std::string::npos && line.find("///") == std::string::npos)
                out.insert(std::filesystem::relative(e.path(), root).generic_string() + ":" + std::to_string(n));
    }
    return out;
}

/// The same spelling for a site recorded at run time (a __FILE__ path ending in include/accel/...).
inline std::string site_key(const char* file, unsigned line) {
    std::string f = file ? file : "?";
    const auto at = f.rfind("include/accel/");
    if (at != std::string::npos)
        f = f.substr(at + 8);
    return f + ":" + std::to_string(line);
}

} // namespace faults
