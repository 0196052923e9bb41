// SPDX-License-Identifier: MIT
// Shared pieces of the attribute compile-fail TUs: a driver skeleton's callbacks.
#pragma once
#include <accel/core/attribute.hpp>
#include <accel/core/device.hpp>

#include <array>
#include <string>
#include <string_view>

template <class D>
int cf_show(accel::device<D>&, std::string& out) {
    out += "x\n";
    return 0;
}
template <class D>
int cf_store(accel::device<D>&, std::string_view) {
    return 0;
}
template <class D>
int cf_instantiate() {
    auto dev = accel::device<D>::create();
    return dev ? 0 : 1;
}
