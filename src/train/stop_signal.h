// SIGTERM / SIGUSR1 (Slurm preemption, `scancel --signal=USR1`): the handler only sets a flag;
// the trainer checks it at each step boundary, agrees on it across ranks (any rank signalled
// = all stop), writes a checkpoint and exits cleanly.
#pragma once

namespace ringlm {

void install_stop_signal_handlers();
bool stop_requested();  // this rank received SIGTERM or SIGUSR1
int stop_signal();      // which one (0 = none)

}  // namespace ringlm
