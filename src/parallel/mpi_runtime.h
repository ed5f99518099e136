// MPI's lifetime as an RAII object, and the one way ringlm stops on an error: print the
// message once, tagged with the rank, and abort every rank (a rank that merely exits would
// leave the others blocked in a collective: a hang, never acceptable).
#pragma once

#include <string>

namespace ringlm {

class MpiRuntime {
public:
    MpiRuntime(int& argc, char**& argv);
    ~MpiRuntime();
    MpiRuntime(const MpiRuntime&) = delete;
    MpiRuntime& operator=(const MpiRuntime&) = delete;

    int rank() const { return rank_; }
    int world_size() const { return world_size_; }

private:
    int rank_ = 0;
    int world_size_ = 1;
};

// "ringlm: error: rank 3: <message>" on stderr, then MPI_Abort(MPI_COMM_WORLD, code).
[[noreturn]] void abort_all_ranks(const std::string& message, int code = 1);
// For an error every rank detected alike: rank 0 prints "ringlm: error: <message>", every rank
// finalizes MPI and exits with `code`.
[[noreturn]] void exit_uniform_error(const std::string& message, int code = 1);

}  // namespace ringlm
