#include "data/packing.h"

#include "util/error.h"

#include <algorithm>
#include <numeric>

namespace ringlm {

std::vector<DocumentPiece> split_into_pieces(const std::vector<int64_t>& documents,
                                             const std::vector<int64_t>& document_lengths, int64_t sequence_len) {
    if (sequence_len < 2) fail("packing: sequence_len {} is too short (need at least 2)", sequence_len);
    std::vector<DocumentPiece> pieces;
    for (int64_t document : documents) {
        const int64_t length = document_lengths[document];
        for (int64_t begin = 0; begin < length; begin += sequence_len)
            pieces.push_back({document, begin, std::min(sequence_len, length - begin)});
    }
    return pieces;
}

std::vector<PackedRow> pack_pieces(const std::vector<DocumentPiece>& pieces, int64_t sequence_len, bool packing,
                                   int64_t window) {
    std::vector<PackedRow> rows;
    if (!packing) {
        for (const DocumentPiece& piece : pieces) rows.push_back({{piece}, piece.length});
        return rows;
    }
    for (size_t start = 0; start < pieces.size(); start += static_cast<size_t>(window)) {
        const size_t end = std::min(pieces.size(), start + static_cast<size_t>(window));
        std::vector<size_t> order(end - start);
        std::iota(order.begin(), order.end(), start);
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return pieces[a].length > pieces[b].length; });
        const size_t first_row = rows.size();
        for (size_t index : order) {
            const DocumentPiece& piece = pieces[index];
            size_t row = first_row;
            while (row < rows.size() && rows[row].used + piece.length > sequence_len) row++;
            if (row == rows.size()) rows.push_back({});
            rows[row].pieces.push_back(piece);
            rows[row].used += piece.length;
        }
    }
    return rows;
}

double packing_efficiency(const std::vector<PackedRow>& rows, int64_t sequence_len) {
    if (rows.empty()) return 0.0;
    int64_t used = 0;
    for (const PackedRow& row : rows) used += row.used;
    return static_cast<double>(used) / static_cast<double>(rows.size() * sequence_len);
}

}  // namespace ringlm
