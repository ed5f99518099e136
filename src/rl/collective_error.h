// Stopping every rank together on an error only some ranks saw (a reward program that failed
// on one SP group's leader): every rank calls fail_together at the same point; if any rank
// passes an error, every rank throws UniformError with the message of the lowest such rank,
// so `main` prints it once and every rank exits non-zero: never a hang in the next collective.
#pragma once

#include <string>

namespace ringlm {

// `error` empty: this rank is fine. Collective over MPI_COMM_WORLD.
void fail_together(const std::string& error);

}  // namespace ringlm
