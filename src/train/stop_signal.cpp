#include "train/stop_signal.h"

#include <csignal>

namespace ringlm {

namespace {
volatile std::sig_atomic_t received = 0;
void on_signal(int signal) { received = signal; }
}  // namespace

void install_stop_signal_handlers() {
    std::signal(SIGTERM, on_signal);
    std::signal(SIGUSR1, on_signal);
}

bool stop_requested() { return received != 0; }
int stop_signal() { return received; }

}  // namespace ringlm
