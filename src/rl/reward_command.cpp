#include "rl/reward_command.h"

#include "util/error.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace ringlm {

namespace {

// A pipe whose ends close themselves.
struct Pipe {
    int read = -1, write = -1;
    Pipe() {
        int ends[2];
        if (pipe2(ends, O_CLOEXEC) != 0) fail("reward_command: pipe failed: {}", std::strerror(errno));
        read = ends[0];
        write = ends[1];
    }
    ~Pipe() {
        close_read();
        close_write();
    }
    void close_read() {
        if (read >= 0) ::close(read);
        read = -1;
    }
    void close_write() {
        if (write >= 0) ::close(write);
        write = -1;
    }
};

// The child: its own process group (so a timeout kills what it started too), stdin and
// stdout on the pipes.
pid_t spawn_shell(const std::string& command, Pipe& to_child, Pipe& from_child) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child.read, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from_child.write, STDOUT_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    pid_t pid = 0;
    const int code = posix_spawn(&pid, "/bin/sh", &actions, &attributes, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (code != 0) fail("reward_command '{}': cannot start /bin/sh: {}", command, std::strerror(code));
    return pid;
}

// Strictly a number: optional spaces around one finite double.
bool parse_number(const std::string& line, double& value) {
    const char* begin = line.c_str();
    char* end = nullptr;
    errno = 0;
    value = std::strtod(begin, &end);
    if (end == begin || errno == ERANGE || !std::isfinite(value)) return false;
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    return end == begin + line.size();  // the whole line: a NUL byte inside it does not end it
}

}  // namespace

std::vector<double> run_reward_command(const std::string& command, const std::vector<std::string>& json_lines,
                                       double timeout_seconds) {
    std::string input;
    for (const std::string& line : json_lines) input += line + "\n";
    Pipe to_child, from_child;
    const pid_t pid = spawn_shell(command, to_child, from_child);
    to_child.close_read();
    from_child.close_write();
    fcntl(to_child.write, F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);  // a program that exits without reading must not kill ringlm

    // Write stdin and read stdout together (a program may answer before reading everything).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
    std::string output;
    size_t written = 0;
    bool timed_out = false;
    if (input.empty()) to_child.close_write();
    while (from_child.read >= 0) {
        const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd fds[2] = {{from_child.read, POLLIN, 0}, {to_child.write, POLLOUT, 0}};
        const nfds_t n = to_child.write >= 0 ? 2 : 1;
        const int ready = poll(fds, n, static_cast<int>(std::ceil(left * 1000)));
        if (ready < 0 && errno != EINTR) fail("reward_command '{}': poll failed: {}", command, std::strerror(errno));
        if (ready <= 0) continue;
        if (n == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const ssize_t count = ::write(to_child.write, input.data() + written, input.size() - written);
            if (count > 0) written += static_cast<size_t>(count);
            if (count < 0 && errno != EAGAIN) written = input.size();  // it closed its stdin: stop feeding
            if (written == input.size()) to_child.close_write();
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buffer[65536];
            const ssize_t count = ::read(from_child.read, buffer, sizeof buffer);
            if (count > 0) output.append(buffer, static_cast<size_t>(count));
            if (count == 0 || (count < 0 && errno != EINTR && errno != EAGAIN)) from_child.close_read();
        }
    }
    // It may close stdout and still run: wait for its exit within the same deadline.
    int status = 0;
    while (!timed_out) {
        const pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) fail("reward_command '{}': waitpid failed: {}", command, std::strerror(errno));
        if (std::chrono::steady_clock::now() >= deadline) timed_out = true;
        else usleep(1000);
    }
    if (timed_out) {
        kill(-pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        fail("reward_command '{}': no answer within {} s (trl.reward_timeout): killed it; make it faster or raise "
             "reward_timeout",
             command, timeout_seconds);
    }
    if (WIFSIGNALED(status))
        fail("reward_command '{}': killed by signal {} ({})", command, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fail("reward_command '{}': exited with status {} (its stderr is above)", command, WEXITSTATUS(status));

    return parse_reward_output(command, output, json_lines.size());
}

std::vector<double> parse_reward_output(const std::string& command, const std::string& output, size_t completions) {
    std::vector<double> rewards;
    size_t start = 0;
    int64_t line_number = 0;
    while (start < output.size()) {
        size_t end = output.find('\n', start);
        if (end == std::string::npos) end = output.size();
        const std::string line = output.substr(start, end - start);
        line_number++;
        double value = 0;
        if (!parse_number(line, value))
            fail("reward_command '{}': output line {} is '{}', not a number (answer one number per line, one line "
                 "per completion)",
                 command, line_number, line.substr(0, 80));
        rewards.push_back(value);
        start = end + 1;
    }
    if (rewards.size() != completions)
        fail("reward_command '{}': answered {} lines for {} completions (one number per line, in order)", command,
             rewards.size(), completions);
    return rewards;
}

}  // namespace ringlm
