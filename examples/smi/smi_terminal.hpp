// SPDX-License-Identifier: MIT
#pragma once
/// \file accel-smi --watch's terminal handling. The screen is redrawn in place without flicker:
/// the alternate screen (the user's scrollback is left alone), the cursor hidden, and each frame
/// written with one write(2) as "cursor home, then every line followed by clear-to-end-of-line,
/// then clear-below" - never a full clear, which would show a blank screen between frames.
/// Keys are read in non-canonical mode without echo (termios), so 'q' quits at once; the
/// terminal's mode is restored and the screen left on every way out: 'q', end of input, SIGINT,
/// SIGTERM, SIGHUP (the handlers only write to a self-pipe; the main loop polls it). SIGWINCH
/// redraws at the new size. When stdin is not a terminal, the mode is left as it is and 'q' or
/// end of input still quit (a script can drive it through a pipe).
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

namespace accel_smi {

namespace detail {
inline int signal_pipe[2] = {-1, -1};
inline volatile std::sig_atomic_t last_signal = 0;

extern "C" inline void on_signal(int sig) {
    const int saved = errno;
    if (sig != SIGWINCH)
        last_signal = sig;
    const char c = static_cast<char>(sig);
    [[maybe_unused]] auto r = ::write(signal_pipe[1], &c, 1);
    errno = saved;
}
} // namespace detail

inline bool write_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
        const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

class watch_terminal {
public:
    enum class event { timeout, quit, resize };

    /// Sets up the signals, the key mode and the screen; false (with errno) when it cannot.
    bool start() {
        if (::pipe2(detail::signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
            return false;
        struct sigaction sa {};
        sa.sa_handler = detail::on_signal;
        sigemptyset(&sa.sa_mask);
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH})
            ::sigaction(sig, &sa, nullptr);
        if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios raw = saved_;
            raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
            raw.c_cc[VMIN] = 0;
            raw.c_cc[VTIME] = 0;
            if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
                restore_mode_ = true;
        }
        // Alternate screen, cursor hidden.
        screen_ = write_all(STDOUT_FILENO, "\x1b[?1049h\x1b[?25l");
        return true;
    }

    /// Leaves the screen and restores the key mode (idempotent; also runs from the destructor).
    void stop() {
        if (screen_)
            write_all(STDOUT_FILENO, "\x1b[?25h\x1b[?1049l");
        screen_ = false;
        if (restore_mode_)
            ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
        restore_mode_ = false;
    }
    ~watch_terminal() { stop(); }

    /// Terminal size (80x24 when unknown).
    static void size(std::size_t& cols, std::size_t& rows) {
        winsize ws{};
        cols = 80, rows = 24;
        if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
            cols = ws.ws_col;
            rows = ws.ws_row;
        }
    }

    /// One frame in place: lines cut to the width and height of the terminal.
    static void draw(const std::vector<std::string>& lines) {
        std::size_t cols, rows;
        size(cols, rows);
        std::string frame = "\x1b[H";
        for (std::size_t i = 0; i < lines.size() && i < rows; ++i) {
            if (i)
                frame += "\r\n";
            frame += cut(lines[i], cols);
            frame += "\x1b[K";
        }
        frame += "\x1b[J";
        write_all(STDOUT_FILENO, frame);
    }

    /// Waits up to timeout_ms for a key, end of input or a signal.
    event wait(int timeout_ms) {
        pollfd fds[2] = {{detail::signal_pipe[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        const nfds_t n = input_open_ ? 2 : 1;
        const int r = ::poll(fds, n, timeout_ms);
        if (r <= 0)
            return event::timeout;
        if (fds[0].revents & POLLIN) {
            char buf[16];
            while (::read(detail::signal_pipe[0], buf, sizeof buf) > 0) {
            }
            if (detail::last_signal)
                return event::quit;
            return event::resize;
        }
        if (n == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[64];
            const ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
            if (got == 0)
                return event::quit; // end of input (a pipe, /dev/null, a hung-up terminal)
            if (got < 0 && errno != EAGAIN && errno != EINTR)
                input_open_ = false;
            for (ssize_t i = 0; i < got; ++i)
                if (buf[i] == 'q' || buf[i] == 'Q')
                    return event::quit;
        }
        return event::timeout;
    }

    /// The signal that ended the loop (0 for 'q' or end of input).
    static int signal() { return detail::last_signal; }

private:
    /// The first `cols` characters of a UTF-8 line.
    static std::string cut(const std::string& s, std::size_t cols) {
        std::size_t n = 0, i = 0;
        for (; i < s.size(); ++i) {
            if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
                if (n == cols)
                    break;
                ++n;
            }
        }
        return s.substr(0, i);
    }

    termios saved_{};
    bool restore_mode_ = false;
    bool screen_ = false;
    bool input_open_ = true;
};

} // namespace accel_smi
