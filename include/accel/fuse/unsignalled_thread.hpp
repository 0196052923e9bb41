// SPDX-License-Identifier: MIT
#pragma once
/// \file Threads of the host that must not take the process's signals.
///
/// The server's signal handling (serve.hpp) relies on signals reaching the thread that called
/// host::run(): a signal taken by libfuse's loop or the housekeeping thread would end their
/// waits early and race with the wake-ups, and would never reach the stop handler's thread.
#include <csignal>
#include <pthread.h>
#include <thread>
#include <utility>

namespace accel::fuse {

/// A thread started with every signal blocked (it inherits the mask; the caller's is restored).
template <class Fn>
std::thread unsignalled_thread(Fn&& fn) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    std::thread t(std::forward<Fn>(fn));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return t;
}

} // namespace accel::fuse
