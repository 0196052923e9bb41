// SPDX-License-Identifier: MIT
#pragma once
/// \file libfuse3's low-level API at the version the host needs, for every header of the host.
///
/// FUSE_USE_VERSION must be 312 or more: below it, fuse_loop_cfg_* silently get the wrong
/// struct and the loop spawns a thread per request (../shared/DESIGN.md, "FUSE facts").
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#elif FUSE_USE_VERSION < 312
#error "accel/fuse needs FUSE_USE_VERSION >= 312 (libfuse 3.12 loop configuration API)"
#endif
#include <fuse3/fuse_lowlevel.h>
