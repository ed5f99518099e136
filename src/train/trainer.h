// The training loop (SFT / pre-training): per optimizer step, gradient_accumulation_steps
// micro batches of forward + backward into the gradient buffer, one all-reduce (sum) of the
// gradients and of (loss sum, loss tokens) over the world, then AdamW with the gradient
// divided by the loss tokens of the whole global batch, so neither S, D nor accumulation
// changes the loss or the update (DESIGN.md "Parallel layout").
#pragma once

#include "train/training_run.h"
#include "train/training_setup.h"

namespace ringlm {

// The SFT step function in the one run loop (train/training_run.h).
RunSummary run_training(TrainingSetup& setup);

// One optimizer step's gradients: forward + backward of every micro batch of `step` into
// model.gradients (zeroed first), then summed over the world with the loss sum and the
// loss-token count. The optimizer update is not applied.
// The loss sums stay on the device until read: LossRead::now reads them before returning
// (one wait); LossRead::with_update leaves loss_sum unset for read_step_values, which brings
// them together with the gradient's sum of squares the optimizer writes into the last slot of
// step_values, so a step on a GPU waits once.
enum class LossRead { now, with_update };
struct StepResult {
    double loss_sum = 0, loss_tokens = 0;
    // f64 [micro batches + 1] on the model's device: each micro batch's loss sum, then the slot
    // for the gradient's sum of squares (gradient_sum_squares_slot)
    Tensor step_values;
    double compute_seconds = 0, ring_wait_seconds = 0, ring_compute_seconds = 0, allreduce_seconds = 0;
    int64_t sp_bytes_sent = 0;  // by this rank through the SP communicator (Communicator::take_bytes_sent)
    // The (query, key) pairs each rank of this rank's SP group attends over the step's micro
    // batches (TokenBatch::sp_attention_pairs): the same on every rank of the group.
    std::vector<int64_t> attention_pairs;
};
StepResult accumulate_gradients(TrainingSetup& setup, int64_t step, LossRead read = LossRead::now);
Tensor gradient_sum_squares_slot(StepResult& result);
// Reads step_values once (the wait): loss_sum, summed over the world, and the sum of squares.
double read_step_values(const TrainingSetup& setup, StepResult& result);

// Sums a gradient buffer over the world in place: NCCL on the device when the setup has it
// (backend cuda, transport nccl), else MPI on the host (device buffers through a host copy).
void allreduce_gradients(const TrainingSetup& setup, Tensor& gradients);

}  // namespace ringlm
