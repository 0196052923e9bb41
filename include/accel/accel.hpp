// SPDX-License-Identifier: MIT
#pragma once
/// \file Umbrella header: the whole accel library.
#include <accel/backend/client_backend.hpp>
#include <accel/backend/mock.hpp>
#include <accel/core/device.hpp>
#include <accel/core/driver.hpp>
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/ioctl_table.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/gem/bo.hpp>
#include <accel/core/gem/host_aperture.hpp>
#include <accel/core/gem/memory_stats.hpp>
#include <accel/mm/device_memory.hpp>
#include <accel/mm/dma_coherent.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_allocator.hpp>
#include <accel/mm/range_manager.hpp>
#include <accel/mm/range/naive.hpp>
#include <accel/mm/vm/dma.hpp>
#include <accel/mm/vm/lpae_formats.hpp>
#include <accel/mm/vm/page_table.hpp>
#include <accel/mm/vm/va_space.hpp>
#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_info.h>
