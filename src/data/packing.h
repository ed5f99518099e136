// Packing: how documents fill the rows of `sequence_len` tokens that training sees.
//
// A document longer than sequence_len is cut into pieces of at most sequence_len tokens
// (each piece keeps the targets of its own tokens, so the token before a cut still learns
// the token after it). With sample_packing, pieces are bin-packed first-fit decreasing over
// a window of pieces, so short documents share rows; without it, each piece gets a row.
#pragma once

#include <cstdint>
#include <vector>

namespace ringlm {

struct DocumentPiece {
    int64_t document = 0;  // index in the dataset
    int64_t begin = 0;     // first token of the piece within the document
    int64_t length = 0;
};

struct PackedRow {
    std::vector<DocumentPiece> pieces;
    int64_t used = 0;  // tokens filled; the rest of the row is padding
};

// Pieces of the given documents, in the given order.
std::vector<DocumentPiece> split_into_pieces(const std::vector<int64_t>& documents,
                                             const std::vector<int64_t>& document_lengths, int64_t sequence_len);

// Rows from pieces: first-fit decreasing within consecutive windows of `window` pieces when
// packing, one piece per row otherwise. Deterministic: ties keep the input order.
std::vector<PackedRow> pack_pieces(const std::vector<DocumentPiece>& pieces, int64_t sequence_len, bool packing,
                                   int64_t window = 1024);

// Real tokens over row capacity.
double packing_efficiency(const std::vector<PackedRow>& rows, int64_t sequence_len);

}  // namespace ringlm
