// Stopping every rank together on an error only some ranks saw (a reward program that failed
// on one SP group's leader, an input file missing on one node): every rank calls at the same
// point; if any rank has an error, every rank throws UniformError with the message of the
// lowest such rank, so `main` prints it once and every rank exits non-zero: never a hang in
// the next collective, and never a message lost because only rank k saw it.
#pragma once

#include <functional>
#include <string>

namespace ringlm {

// `error` empty: this rank is fine. The message says "rank N: ...". Collective over the world
// (world_communicator(); a group's own: Communicator::fail_together).
void fail_together(const std::string& error);

// Runs `check` on every rank, each on its own view of the files (a node-local path can differ
// between nodes). If it throws on any rank, every rank throws UniformError with the lowest
// such rank's message: as it is when that is rank 0 (what a one-rank run would say), else
// prefixed "rank N: ". Collective over MPI_COMM_WORLD.
void check_together(const std::function<void()>& check);

}  // namespace ringlm
