// The smallest and largest of a set of token ids (or of labels other than -100), known on the
// host. A TokenBatch summarises its own when it is made, so embedding and cross_entropy can
// check a device tensor against the vocabulary without reading it back (a host wait per call).
#pragma once

#include "backend/labels.h"

#include <cstdint>
#include <optional>

namespace ringlm {

struct IdRange {
    int32_t min = 0, max = -1;  // max < min: the set is empty
    bool empty() const { return max < min; }
};

// An unset range: unknown, so the op reads the tensor itself.
using KnownIdRange = std::optional<IdRange>;

}  // namespace ringlm
