// Chunked cross-entropy over the vocabulary, from the final hidden states:
//   logits = hidden @ classifier^T                  hidden [T, C], classifier [V, C]
//   losses[t] = lse[t] - logits[t, label[t]],  lse[t] = log sum_v exp(logits[t, v])
//   (0 where label[t] == -100)
// Backward, with dlogits = dlosses[t] * (softmax(logits[t]) - onehot(label[t])):
//   dhidden = dlogits @ classifier,   dclassifier = dlogits^T @ hidden
// The [T, V] logits never exist: forward makes them `chunk_rows` tokens at a time in one
// scratch buffer, backward makes them again chunk by chunk (one extra GEMM) and turns each
// chunk into its dlogits in place. Only lse [T] is saved.
// In bf16 (hidden bf16, from to_bf16): the logits are f32 = hidden @ classifier_bf16^T
// (f32 accumulation), and the losses, lse and dlogits stay f32; the two backward GEMMs take
// bf16(dlogits) and write f32 gradients (dclassifier into the classifier's f32 master gradient).
#include "ops/bf16.h"
#include "ops/check.h"
#include "ops/ops.h"

#include <algorithm>

namespace ringlm {

Tensor cross_entropy(Tape& tape, const Tensor& hidden, const Tensor& classifier, const Tensor& labels,
                     int64_t chunk_rows, const Tensor& classifier_bf16, const KnownIdRange& labels_range) {
    check_shape("cross_entropy", "hidden", hidden, {any_size, any_size});
    check_shape("cross_entropy", "classifier", classifier, {any_size, hidden.cols()});
    check_shape("cross_entropy", "labels", labels, {hidden.rows()});
    check_dtype("cross_entropy", "labels", labels, DType::i32);
    const bool in_bf16 = hidden.dtype() == DType::bf16;
    if (in_bf16) {
        check_bf16_weight("cross_entropy", hidden, classifier, classifier_bf16);
    } else {
        check_floating("cross_entropy", {&hidden, &classifier});
    }
    if (classifier.rows() == 0) fail("cross_entropy: classifier {} has no rows (vocabulary size 0)", classifier.describe());
    if (chunk_rows < 1) fail("cross_entropy: chunk_rows must be at least 1, got {}", chunk_rows);
    const int64_t T = hidden.rows(), V = classifier.rows();
    // every label is -100 or a row of the classifier: another would read outside the logits
    check_ids_in_range("cross_entropy", "labels", labels, V, labels_range, ignore_label, "the vocabulary",
                       "use -100 for no loss");

    Backend& compute = backend(hidden);
    const DType dtype = in_bf16 ? DType::f32 : hidden.dtype();  // of the logits, lse and losses
    const Tensor classifier_compute = in_bf16 ? classifier_bf16 : classifier;
    Tensor losses = empty({T}, dtype, hidden.device());
    Tensor lse = empty({T}, dtype, hidden.device());
    // one logits chunk [chunk_rows, V], reused by every chunk (the last one may be shorter)
    Tensor scratch = empty({std::min(chunk_rows, T), V}, dtype, hidden.device());
    for (int64_t begin = 0; begin < T; begin += chunk_rows) {
        const int64_t end = std::min(begin + chunk_rows, T);
        Tensor logits = scratch.rows(0, end - begin);
        // logits = hidden_chunk @ classifier^T
        compute.gemm(logits, hidden.rows(begin, end), classifier_compute, false, true, 1.0, 0.0);
        Tensor losses_chunk = losses.rows(begin, end), lse_chunk = lse.rows(begin, end);
        compute.cross_entropy_forward(losses_chunk, lse_chunk, logits, labels.rows(begin, end));
    }

    // Backward reads hidden, classifier_compute, labels and lse; of the classifier (f32, a
    // separate tensor in bf16) only its gradient.
    tape.record("cross_entropy", losses,
                [hidden, classifier = TensorDescriptor(classifier), classifier_compute, labels, lse, chunk_rows](
                    Grads& grads, const Tensor& dlosses) {
        const int64_t T = hidden.rows(), V = classifier_compute.rows();
        const bool in_bf16 = hidden.dtype() == DType::bf16;
        Backend& compute = backend(hidden);
        Tensor dhidden = grads.of(hidden);
        Tensor dclassifier = grads.of(classifier);
        Tensor scratch = empty({std::min(chunk_rows, T), V}, lse.dtype(), hidden.device());
        // bf16: dlogits rounded for the two GEMMs, one chunk at a time
        Tensor scratch_bf16 = in_bf16 ? empty(scratch.shape(), DType::bf16, hidden.device()) : Tensor();
        for (int64_t begin = 0; begin < T; begin += chunk_rows) {
            const int64_t end = std::min(begin + chunk_rows, T);
            const Tensor hidden_chunk = hidden.rows(begin, end);
            Tensor logits = scratch.rows(0, end - begin);
            // logits = hidden_chunk @ classifier^T, again; then dlogits over them in place
            compute.gemm(logits, hidden_chunk, classifier_compute, false, true, 1.0, 0.0);
            compute.cross_entropy_backward(logits, logits, lse.rows(begin, end), labels.rows(begin, end),
                                           dlosses.rows(begin, end));
            Tensor dlogits = logits;
            if (in_bf16) {
                dlogits = scratch_bf16.rows(0, end - begin);
                compute.copy(dlogits, logits);
            }
            // dhidden_chunk += dlogits @ classifier
            Tensor dhidden_chunk = dhidden.rows(begin, end);
            compute.gemm(dhidden_chunk, dlogits, classifier_compute, false, false, 1.0, 1.0);
            // dclassifier += dlogits^T @ hidden_chunk
            compute.gemm(dclassifier, dlogits, hidden_chunk, true, false, 1.0, 1.0);
        }
    });
    return losses;
}

}  // namespace ringlm
