// Token embedding lookup:
//   out[t] = table[ids[t]]                    table [V, C], ids i32 [T], out [T, C]
//   dtable[ids[t]] += dout[t]                 (a scatter-add: ids may repeat)
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor embedding(Tape& tape, const Tensor& table, const Tensor& ids, const KnownIdRange& ids_range) {
    check_shape("embedding", "table", table, {any_size, any_size});
    check_shape("embedding", "ids", ids, {any_size});
    check_dtype("embedding", "ids", ids, DType::i32);
    check_floating("embedding", {&table});
    if (ids.device() != table.device())
        fail("embedding: ids on {} but table on {}", device_name(ids.device()), device_name(table.device()));
    // an id outside the table would read (and in backward write) outside its memory
    check_ids_in_range("embedding", "ids", ids, table.size(0), ids_range, std::nullopt, "the table's vocabulary",
                       "a token from another tokenizer, or vocab_size too small?");
    Tensor out = empty({ids.size(0), table.size(1)}, table.dtype(), table.device());
    backend(table).embedding_forward(out, table, ids);
    tape.record("embedding", out, [table = TensorDescriptor(table), ids](Grads& grads, const Tensor& dout) {
        backend(dout).embedding_backward(grads.of(table), dout, ids);
    });
    return out;
}

}  // namespace ringlm
