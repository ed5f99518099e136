// Sum of all elements (accumulated in f64 by the backend), a tensor of shape [1]:
//   s = sum_i x_i,   dx_i += ds[0]
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor sum(Tape& tape, const Tensor& x) {
    if (!x.defined()) fail("sum: x is undefined");
    check_floating("sum", {&x});
    Tensor s = empty({1}, x.dtype(), x.device());
    backend(x).fill(s, backend(x).sum(x));
    // backward needs x's shape, not its values: x itself is not saved
    tape.record("sum", s, [x = TensorDescriptor(x)](Grads& grads, const Tensor& ds) {
        // ds may live on a device: read its one value through a host copy
        Tensor ds_host = empty({1}, DType::f64, Device::cpu);
        backend(ds).copy(ds_host, ds);
        Backend& compute = backend_for(x.device);
        Tensor ones = empty(x.shape, x.dtype, x.device);
        compute.fill(ones, 1.0);
        compute.axpy(grads.of(x), ones, ds_host.data<double>()[0]);
    });
    return s;
}

}  // namespace ringlm
