// SPDX-License-Identifier: MIT
// vdsp-mkfw: builds a vdsp firmware file from a text description (vdsp_firmware.hpp).
//
//   vdsp-mkfw DESCRIPTION OUTPUT
//
// Exit status 0 on success, 1 on a bad description or an I/O error (one line on stderr).
#include "vdsp_firmware.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s DESCRIPTION OUTPUT\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::fprintf(stderr, "vdsp-mkfw: cannot read %s\n", argv[1]);
        return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    vdsp::fw_description d;
    std::string error;
    if (vdsp::parse_description(text.str(), d, error) != 0) {
        std::fprintf(stderr, "vdsp-mkfw: %s: %s\n", argv[1], error.c_str());
        return 1;
    }
    const auto image = vdsp::build_firmware(d);
    const std::string tmp = std::string(argv[2]) + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
        if (!out) {
            std::fprintf(stderr, "vdsp-mkfw: cannot write %s\n", tmp.c_str());
            return 1;
        }
    }
    if (std::rename(tmp.c_str(), argv[2]) != 0) {
        std::fprintf(stderr, "vdsp-mkfw: cannot rename %s to %s\n", tmp.c_str(), argv[2]);
        return 1;
    }
    return 0;
}
