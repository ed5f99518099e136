// Files that are either absent or whole: written under `path + ".tmp"`, fsync'd, then renamed
// over `path` (a rename within a folder is atomic), then the folder fsync'd so the rename
// itself survives a crash. Checkpoints (HDF5) and exports (raw bytes) both commit this way.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ringlm {

// fsync `temporary`, rename it to `path`, fsync the folder. Fails naming the file.
void commit_file(const std::string& temporary, const std::string& path);

// A binary file being written to `path + ".tmp"`. commit() makes it `path`; destroyed
// uncommitted (an error on the way), it removes the temporary and `path` is untouched.
class AtomicFile {
public:
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Appends bytes; a short write (disk full, I/O error) fails naming the file.
    void write(const void* data, size_t bytes);
    void commit();

    const std::string& path() const { return path_; }
    int64_t bytes_written() const { return bytes_written_; }

private:
    std::string path_, temporary_;
    std::FILE* file_ = nullptr;
    int64_t bytes_written_ = 0;
};

}  // namespace ringlm
