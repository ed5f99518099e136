// Token embedding lookup:
//   out[t] = table[ids[t]]                    table [V, C], ids i32 [T], out [T, C]
//   dtable[ids[t]] += dout[t]                 (a scatter-add: ids may repeat)
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

namespace {

// An id outside the table would read (and in backward write) outside its memory, so every
// id is checked on the host first; ids are a few KB, so the copy off a device is cheap.
void check_ids_in_range(const Tensor& ids, int64_t vocab_size) {
    Tensor host_ids = ids;
    if (ids.device() != Device::cpu) {
        host_ids = empty(ids.shape(), DType::i32, Device::cpu);
        backend(ids).copy(host_ids, ids);
    }
    const int32_t* id = host_ids.data<int32_t>();
    for (int64_t t = 0; t < host_ids.numel(); t++) {
        if (id[t] < 0 || id[t] >= vocab_size)
            fail("embedding: ids[{}] = {} is outside the table's vocabulary [0, {}) (a token from another "
                 "tokenizer, or vocab_size too small?)",
                 t, id[t], vocab_size);
    }
}

}  // namespace

Tensor embedding(Tape& tape, const Tensor& table, const Tensor& ids) {
    check_shape("embedding", "table", table, {any_size, any_size});
    check_shape("embedding", "ids", ids, {any_size});
    check_dtype("embedding", "ids", ids, DType::i32);
    check_floating("embedding", {&table});
    if (ids.device() != table.device())
        fail("embedding: ids on {} but table on {}", device_name(ids.device()), device_name(table.device()));
    check_ids_in_range(ids, table.size(0));
    Tensor out = empty({ids.size(0), table.size(1)}, table.dtype(), table.device());
    backend(table).embedding_forward(out, table, ids);
    tape.record("embedding", out, [table = TensorDescriptor(table), ids](Grads& grads, const Tensor& dout) {
        backend(dout).embedding_backward(grads.of(table), dout, ids);
    });
    return out;
}

}  // namespace ringlm
