#include "train/evaluation.h"

#include "ops/ops.h"

#include <cmath>

namespace ringlm {

EvalResult evaluate(const TrainingSetup& setup) {
    const Config& c = setup.config;
    const Corpus& corpus = setup.evaluation_corpus();
    const Topology& t = setup.topology;
    const std::vector<PackedRow> rows =
        pack_pieces(split_into_pieces(setup.split.validation, corpus.document_lengths(), c.data.sequence_len),
                    c.data.sequence_len, c.data.sample_packing);
    std::vector<PackedRow> mine;
    for (size_t i = static_cast<size_t>(t.dp_rank); i < rows.size(); i += static_cast<size_t>(t.dp_size))
        mine.push_back(rows[i]);

    double totals[2] = {0, 0};  // loss sum, loss tokens
    const size_t B = static_cast<size_t>(c.training.micro_batch_size);
    for (size_t first = 0; first < mine.size(); first += B) {
        std::vector<PackedRow> micro(mine.begin() + first, mine.begin() + std::min(mine.size(), first + B));
        const TokenBatch batch = make_token_batch(micro, c.data.sequence_len, corpus.reader(), setup.layout);
        Tape tape(Tape::Mode::inference);
        const Tensor losses =
            llama_token_losses(tape, setup.model, to_device(batch, setup.model.parameters.device()), setup.forward);
        totals[0] += backend(losses).sum(losses);
        totals[1] += static_cast<double>(count_loss_tokens(batch));
    }
    setup.comms.world->all_reduce_sum(totals, 2);
    EvalResult result;
    result.tokens = static_cast<int64_t>(totals[1]);
    if (result.tokens > 0) {
        result.loss = totals[0] / totals[1];
        result.perplexity = std::exp(result.loss);
    }
    return result;
}

}  // namespace ringlm
