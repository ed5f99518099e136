#include "util/atomic_file.h"

#include "util/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ringlm {

namespace {

void fsync_path(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) fail("{}: cannot open to fsync: {}", path, std::strerror(errno));
    const int status = ::fsync(fd);
    const int fsync_errno = errno;
    ::close(fd);
    errno = fsync_errno;
    if (status != 0) fail("{}: fsync failed: {}", path, std::strerror(errno));
}

}  // namespace

void commit_file(const std::string& temporary, const std::string& path) {
    fsync_path(temporary);
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
        fail("{}: cannot rename to {}: {}", temporary, path, std::strerror(errno));
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    fsync_path(folder.empty() ? "." : folder.string());  // the rename itself
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temporary_(path_ + ".tmp") {
    file_ = std::fopen(temporary_.c_str(), "wb");
    if (!file_) fail("{}: cannot create: {}", temporary_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (file_) {
        std::fclose(file_);
        std::remove(temporary_.c_str());
    }
}

void AtomicFile::write(const void* data, size_t bytes) {
    if (std::fwrite(data, 1, bytes, file_) != bytes)
        fail("{}: write of {} bytes at offset {} failed: {}", temporary_, bytes, bytes_written_, std::strerror(errno));
    bytes_written_ += static_cast<int64_t>(bytes);
}

void AtomicFile::commit() {
    const bool flushed = std::fflush(file_) == 0;
    const int flush_errno = errno;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!flushed || !closed) {
        std::remove(temporary_.c_str());
        fail("{}: write failed: {}", temporary_, std::strerror(flushed ? errno : flush_errno));
    }
    try {
        commit_file(temporary_, path_);
    } catch (const Error&) {
        std::remove(temporary_.c_str());
        throw;
    }
}

}  // namespace ringlm
