// The NCCL transport on the device, with a 1-rank communicator: NCCL refuses two ranks of a
// communicator on one GPU and the check machine has one, so what runs here is every NCCL call
// the transport makes (grouped send/recv to itself, all-gather, reduce-scatter, all-reduce)
// with every dtype the model moves, and the stream protocol: an exchange starts after the
// compute stream's queued work (so a send reads finished data), the compute stream resumes
// after it (so a kernel reads received data), and neither ring_shift nor wait() blocks the host.
// At one rank every exchange is an identity, so every result must be bit-identical to its
// input. Two ranks over the ring: tests/mpi/nccl_communicator_test.cpp, on a machine with a GPU
// per rank.
#include "gpu_check.h"

#ifdef RINGLM_WITH_NCCL
#include "cuda_backend.h"
#include "cuda_check.h"
#include "nccl_communicator.h"
#include "test_util.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace ringlm::gpu_check {

namespace {

using testing::random_ints;
using testing::random_uniform;

// "bit-identical", or how many bytes differ (NaN poison compares as bytes too).
void compare_bits(Checker& checker, const std::string& name, const Tensor& actual_device, const Tensor& expected) {
    const Tensor actual = to_host(actual_device);
    if (actual.bytes() != expected.bytes() || actual.dtype() != expected.dtype()) {
        checker.add(name, false, "got " + actual.describe() + ", expected " + expected.describe());
        return;
    }
    const auto* a = static_cast<const unsigned char*>(actual.raw());
    const auto* e = static_cast<const unsigned char*>(expected.raw());
    size_t differing = 0;
    for (size_t i = 0; i < actual.bytes(); i++) differing += a[i] != e[i];
    checker.add(name, differing == 0,
                differing == 0 ? "bit-identical (" + expected.describe() + ")"
                               : std::to_string(differing) + " of " + std::to_string(actual.bytes()) + " bytes differ");
}

// Device tensors of every dtype the ring moves: K f32, V bf16, an f64, indices and segments i32.
std::vector<Tensor> ring_payload_on_host(std::mt19937_64& rng) {
    return {random_uniform({96, 4, 32}, DType::f32, rng), host_as(random_uniform({96, 4, 32}, DType::f32, rng), DType::bf16),
            random_uniform({37}, DType::f64, rng), random_ints({96}, rng, 0, 1 << 20), random_ints({96}, rng, 0, 5)};
}

std::vector<Tensor> poisoned_like(const std::vector<Tensor>& tensors) {
    std::vector<Tensor> out;
    for (const Tensor& t : tensors) {
        Tensor x = empty(t.shape(), t.dtype(), Device::cuda);
        gpu().fill(x, is_floating(t.dtype()) ? NAN : -7.0);
        out.push_back(x);
    }
    return out;
}

void check_collectives(Checker& checker, NcclCommunicator& transport, std::mt19937_64& rng) {
    checker.check("nccl ring_shift to self (5 dtypes, 1 group)", [&] {
        const std::vector<Tensor> sent = ring_payload_on_host(rng);
        std::vector<Tensor> send;
        for (const Tensor& t : sent) send.push_back(to_device(t));
        const std::vector<Tensor> receive = poisoned_like(sent);
        transport.ring_shift(send, receive)->wait();
        for (size_t i = 0; i < sent.size(); i++)
            compare_bits(checker, "nccl ring_shift to self " + std::string(dtype_name(sent[i].dtype())) + " #" +
                                      std::to_string(i),
                         receive[i], sent[i]);
    });
    checker.check("nccl ring_shift, pending dropped unwaited", [&] {
        // The destructor waits: the compute stream's copy to the host still sees the data.
        const Tensor sent = random_uniform({1000}, DType::f32, rng);
        const std::vector<Tensor> receive = poisoned_like({sent});
        transport.ring_shift({to_device(sent)}, receive);
        compare_bits(checker, "nccl ring_shift, pending dropped unwaited", receive[0], sent);
    });
    checker.check("nccl all_gather 1 rank", [&] {
        const Tensor in = random_uniform({50, 8}, DType::f32, rng);
        const Tensor out = poisoned({50, 8}, Device::cuda);
        transport.all_gather(to_device(in), out)->wait();
        compare_bits(checker, "nccl all_gather 1 rank", out, in);
    });
    checker.check("nccl reduce_scatter 1 rank", [&] {
        const Tensor in = random_uniform({50, 8}, DType::f32, rng);
        const Tensor out = poisoned({50, 8}, Device::cuda);
        transport.reduce_scatter(to_device(in), out)->wait();
        compare_bits(checker, "nccl reduce_scatter 1 rank", out, in);
    });
    for (DType dtype : {DType::f32, DType::bf16, DType::f64}) {
        const std::string name = std::string("nccl all_reduce 1 rank ") + dtype_name(dtype);
        checker.check(name, [&] {
            const Tensor x = host_as(random_uniform({1001}, DType::f32, rng), dtype);
            const Tensor x_device = to_device(x);
            transport.all_reduce(x_device)->wait();
            compare_bits(checker, name, x_device, x);
        });
    }
}

// A ring step in flight while GEMMs run on the compute stream. K is doubled by a kernel queued
// right before ring_shift (behind GEMMs, so unfinished when ring_shift returns) and halved by
// one queued right after wait(): x * 2 * 0.5 is exact, so K must arrive bit-identical, and
// only if the send waited for the doubling and the halving waited for the receive.
void check_overlap(Checker& checker, NcclCommunicator& transport, std::mt19937_64& rng) {
    const char* name = "nccl ring_shift overlapped with GEMMs";
    checker.check(name, [&] {
        const int64_t n = 4096;
        const Tensor a = to_device(random_uniform({n, n}, DType::f32, rng));
        const Tensor b = to_device(random_uniform({n, n}, DType::f32, rng));
        Tensor c = empty({n, n}, DType::f32, Device::cuda);
        const Tensor k = random_uniform({8192, 8, 64}, DType::f32, rng);  // 16 MiB
        Tensor k_send = to_device(k);
        const std::vector<Tensor> receive = poisoned_like({k});
        // Warm up once (GEMM workspace, NCCL's buffers for this size), so nothing below allocates.
        gpu().gemm(c, a, b, false, false, 1.0, 0.0);
        transport.ring_shift({k_send}, {empty_like(k_send)})->wait();
        CUDA_CHECK(cudaStreamSynchronize(cuda_compute_stream()));
        transport.take_wait_seconds();

        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 4; i++) gpu().gemm(c, a, b, false, false, 1.0, 0.0);
        gpu().scale(k_send, 2.0);
        auto pending = transport.ring_shift({k_send}, receive);
        for (int i = 0; i < 8; i++) gpu().gemm(c, a, b, false, false, 1.0, 0.0);  // overlaps the exchange
        pending->wait();
        const double host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const bool still_busy = cudaStreamQuery(cuda_compute_stream()) == cudaErrorNotReady;
        cudaGetLastError();  // cudaErrorNotReady is an answer, not an error
        Tensor received = receive[0];
        gpu().scale(received, 0.5);
        compare_bits(checker, name, received, k);

        char detail[160];
        std::snprintf(detail, sizeof detail,
                      "compute stream %s when wait() returned; host %.2f ms to queue it all, %.1f us in wait()",
                      still_busy ? "still busy" : "IDLE (a host sync?)", host_seconds * 1e3,
                      transport.take_wait_seconds() * 1e6);
        checker.add("nccl ring_shift + wait() do not block the host", still_busy, detail);
    });
}

}  // namespace

void check_nccl(Checker& checker, std::mt19937_64& rng) {
    std::shared_ptr<NcclComm> communicator;
    checker.check("nccl 1-rank communicator", [&] {
        int device = 0;
        CUDA_CHECK(cudaGetDevice(&device));
        communicator = std::make_shared<NcclComm>(nccl_unique_id(), 0, 1, device);
        int version = 0;
        ncclGetVersion(&version);
        checker.add("nccl 1-rank communicator", true, "NCCL " + std::to_string(version));
    });
    if (!communicator) return;
    NcclCommunicator transport(communicator, cuda_compute_stream());
    check_collectives(checker, transport, rng);
    check_overlap(checker, transport, rng);
}

}  // namespace ringlm::gpu_check

#else  // no NCCL where this was built: one row says so (not a failure: the backend itself is checked)

namespace ringlm::gpu_check {

void check_nccl(Checker& checker, std::mt19937_64&) {
    checker.note("nccl transport", "SKIPPED", "built without NCCL (nccl.h or libnccl not found)");
}

}  // namespace ringlm::gpu_check

#endif
