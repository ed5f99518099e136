#include "data/hdf5_handle.h"

#include <filesystem>
#include <system_error>

namespace ringlm::hdf5 {

// HDF5 closes whatever is still open when the process exits. A file whose close failed (a full
// disk during a checkpoint save) stays half-freed in HDF5 1.10's identifier table, and that
// exit-time close then crashes. Every file ringlm opens is closed by its Handle, so nothing is
// lost by skipping it. (Must run before the library's first use: a static initializer.)
[[maybe_unused]] static const bool no_close_at_exit = H5dont_atexit() >= 0;

// --- errors ---------------------------------------------------------------------------------

void silence_error_printing() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string last_error_detail() {
    std::string detail;
    // Walking upward starts at the innermost frame, where the cause was first detected.
    auto innermost = [](unsigned depth, const H5E_error2_t* error, void* data) -> herr_t {
        if (depth == 0 && error->desc != nullptr) *static_cast<std::string*>(data) = error->desc;
        return 0;
    };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &detail);
    return detail.empty() ? "unknown HDF5 error" : detail;
}

hid_t check(hid_t status, const std::string& where, std::string_view action) {
    if (status < 0) fail("{}: {}: {}", where, action, last_error_detail());
    return status;
}

// --- files ----------------------------------------------------------------------------------

File open_file_readonly(const std::string& path) {
    silence_error_printing();
    std::error_code error;
    if (!std::filesystem::exists(path, error))
        fail("{}: no such file (check the path; `ringlm prepare` makes a token file from text or JSONL)", path);
    if (std::filesystem::is_directory(path, error))
        fail("{}: is a directory, expected an HDF5 token file", path);
    const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
    if (is_hdf5 < 0) fail("{}: cannot read the file: {}", path, last_error_detail());
    if (is_hdf5 == 0)
        fail("{}: not an HDF5 file (make one from text or JSONL with `ringlm prepare INPUT {}`)", path, path);

    // Shared read locks let many ranks open the file at once; where the file system has no
    // locks (some Lustre mounts), go on without them instead of failing.
    PropertyList access(check(H5Pcreate(H5P_FILE_ACCESS), path, "create file access properties"), path);
#if H5_VERSION_GE(1, 12, 1) || (H5_VERSION_GE(1, 10, 7) && !H5_VERSION_GE(1, 12, 0))
    check(H5Pset_file_locking(access.id(), true, true), path, "set file locking");
#endif
    return File(check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.id()), path, "cannot open as HDF5"), path);
}

File create_file(const std::string& path) {
    silence_error_printing();
    return File(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path, "cannot create"), path);
}

// --- datasets -------------------------------------------------------------------------------

static std::string dataset_where(const File& file, std::string_view name) {
    return fmt::format("{}: {}{}", file.where(), name.starts_with('/') ? "" : "/", name);
}

bool has_dataset(const File& file, std::string_view name) {
    const std::string key(name);
    const htri_t exists = H5Lexists(file.id(), key.c_str(), H5P_DEFAULT);
    check(exists, dataset_where(file, name), "look up");
    if (exists == 0) return false;
    // A group of that name is not a dataset.
    const hid_t object = check(H5Oopen(file.id(), key.c_str(), H5P_DEFAULT), dataset_where(file, name), "open");
    const bool is_dataset = H5Iget_type(object) == H5I_DATASET;
    H5Oclose(object);
    return is_dataset;
}

std::vector<std::string> dataset_names(const File& file) {
    std::vector<std::string> links;
    auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
    };
    check(H5Lvisit(file.id(), H5_INDEX_NAME, H5_ITER_INC, collect, &links), file.where(), "list objects");
    std::vector<std::string> names;
    for (const std::string& link : links)
        if (has_dataset(file, link)) names.push_back(link);
    return names;
}

int64_t dataset_file_offset(const Dataset& dataset) {
    const haddr_t offset = H5Dget_offset(dataset.id());
    if (offset == HADDR_UNDEF) fail("{}: not stored contiguously (no file offset)", dataset.where());
    return static_cast<int64_t>(offset);
}

Dataset open_dataset(const File& file, std::string_view name, std::string_view hint) {
    const std::string where = dataset_where(file, name);
    if (!has_dataset(file, name)) fail("{}: dataset missing ({})", where, hint);
    const std::string key(name);
    return Dataset(check(H5Dopen2(file.id(), key.c_str(), H5P_DEFAULT), where, "cannot open"), where);
}

DatasetShape dataset_shape(const Dataset& dataset) {
    DatasetShape shape;
    Dataspace space(check(H5Dget_space(dataset.id()), dataset.where(), "get dataspace"), dataset.where());
    const int rank = static_cast<int>(check(H5Sget_simple_extent_ndims(space.id()), dataset.where(), "get rank"));
    shape.dims.resize(rank);
    check(H5Sget_simple_extent_dims(space.id(), shape.dims.data(), nullptr), dataset.where(), "get dims");
    Datatype type(check(H5Dget_type(dataset.id()), dataset.where(), "get type"), dataset.where());
    shape.type_class = H5Tget_class(type.id());
    shape.type_bytes = H5Tget_size(type.id());
    shape.is_signed = shape.type_class == H5T_INTEGER && H5Tget_sign(type.id()) == H5T_SGN_2;
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    check(H5Dget_space_status(dataset.id(), &status), dataset.where(), "get storage status");
    hsize_t elements = 1;
    for (hsize_t size : shape.dims) elements *= size;
    // A chunked dataset extended as it was written reports PART_ALLOCATED although every
    // element is written; its chunks then hold at least the declared bytes (uncompressed, as
    // prepare writes them). A dataset whose declared size its storage cannot hold is refused
    // before anything is allocated for it.
    const bool chunks_hold_every_element =
        status == H5D_SPACE_STATUS_PART_ALLOCATED && H5Dget_storage_size(dataset.id()) >= elements * shape.type_bytes;
    shape.stored = elements == 0 || status == H5D_SPACE_STATUS_ALLOCATED || chunks_hold_every_element;
    return shape;
}

std::string type_name(const DatasetShape& shape) {
    switch (shape.type_class) {
        case H5T_INTEGER: return fmt::format("{}int{}", shape.is_signed ? "" : "u", shape.type_bytes * 8);
        case H5T_FLOAT: return fmt::format("float{}", shape.type_bytes * 8);
        case H5T_STRING: return "string";
        default: return "a non-numeric type";
    }
}

// Selects [offset, offset + count) of a 1-D dataset's file space.
static Dataspace select_range(const Dataset& dataset, int64_t offset, int64_t count) {
    Dataspace space(check(H5Dget_space(dataset.id()), dataset.where(), "get dataspace"), dataset.where());
    const hsize_t start[1] = {static_cast<hsize_t>(offset)}, size[1] = {static_cast<hsize_t>(count)};
    check(H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start, nullptr, size, nullptr), dataset.where(),
          fmt::format("select {} elements at {}", count, offset));
    return space;
}

static Dataspace memory_space(int64_t count, const std::string& where) {
    const hsize_t size[1] = {static_cast<hsize_t>(count)};
    return Dataspace(check(H5Screate_simple(1, size, nullptr), where, "create memory dataspace"), where);
}

void read_range_raw(const Dataset& dataset, hid_t memory_type, int64_t offset, int64_t count, void* out) {
    if (count == 0) return;
    Dataspace file_space = select_range(dataset, offset, count);
    Dataspace memory = memory_space(count, dataset.where());
    check(H5Dread(dataset.id(), memory_type, memory.id(), file_space.id(), H5P_DEFAULT, out), dataset.where(),
          fmt::format("cannot read {} elements at {}", count, offset));
}

void write_dataset_raw(const File& file, std::string_view name, hid_t type, int64_t count, const void* values) {
    const std::string where = dataset_where(file, name), key(name);
    Dataspace space = memory_space(count, where);
    Dataset dataset(check(H5Dcreate2(file.id(), key.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                          where, "cannot create"), where);
    if (count == 0) return;
    check(H5Dwrite(dataset.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), where,
          fmt::format("cannot write {} elements", count));
}

Dataset create_growing_dataset(const File& file, std::string_view name, hid_t type, int64_t chunk_elements) {
    const std::string where = dataset_where(file, name), key(name);
    const hsize_t size[1] = {0}, max_size[1] = {H5S_UNLIMITED}, chunk[1] = {static_cast<hsize_t>(chunk_elements)};
    Dataspace space(check(H5Screate_simple(1, size, max_size), where, "create dataspace"), where);
    PropertyList create(check(H5Pcreate(H5P_DATASET_CREATE), where, "create properties"), where);
    check(H5Pset_chunk(create.id(), 1, chunk), where, "set chunking");
    return Dataset(check(H5Dcreate2(file.id(), key.c_str(), type, space.id(), H5P_DEFAULT, create.id(), H5P_DEFAULT),
                         where, "cannot create"), where);
}

int64_t append_raw(const Dataset& dataset, hid_t type, int64_t current_size, int64_t count, const void* values) {
    if (count == 0) return current_size;
    const hsize_t new_size[1] = {static_cast<hsize_t>(current_size + count)};
    check(H5Dset_extent(dataset.id(), new_size), dataset.where(), fmt::format("cannot grow to {} elements", new_size[0]));
    Dataspace file_space = select_range(dataset, current_size, count);
    Dataspace memory = memory_space(count, dataset.where());
    check(H5Dwrite(dataset.id(), type, memory.id(), file_space.id(), H5P_DEFAULT, values), dataset.where(),
          fmt::format("cannot write {} elements at {}", count, current_size));
    return current_size + count;
}

// --- attributes on the root group (File) or on a dataset ---------------------------------------

// Every attribute function works on an object id and the name messages give it.
static std::string attribute_where(const std::string& object_where, std::string_view name) {
    return fmt::format("{}: attribute {}", object_where, name);
}

static bool has_attribute_of(hid_t object, const std::string& object_where, std::string_view name) {
    const std::string key(name);
    const htri_t exists = H5Aexists(object, key.c_str());
    check(exists, attribute_where(object_where, name), "look up");
    return exists > 0;
}

bool has_attribute(const File& file, std::string_view name) { return has_attribute_of(file.id(), file.where(), name); }
bool has_attribute(const Dataset& dataset, std::string_view name) {
    return has_attribute_of(dataset.id(), dataset.where(), name);
}

std::vector<std::string> attribute_names(const File& file) {
    std::vector<std::string> names;
    auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
    };
    check(H5Aiterate2(file.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names), file.where(),
          "list attributes");
    return names;
}

static Attribute open_attribute_of(hid_t object, const std::string& object_where, std::string_view name) {
    const std::string where = attribute_where(object_where, name), key(name);
    return Attribute(check(H5Aopen(object, key.c_str(), H5P_DEFAULT), where, "cannot open"), where);
}

static Attribute open_attribute(const File& file, std::string_view name) {
    return open_attribute_of(file.id(), file.where(), name);
}

bool is_integer_attribute(const File& file, std::string_view name) {
    Attribute attribute = open_attribute(file, name);
    Datatype type(check(H5Aget_type(attribute.id()), attribute.where(), "get type"), attribute.where());
    return H5Tget_class(type.id()) == H5T_INTEGER;
}

static int64_t read_int64_attribute_of(hid_t object, const std::string& object_where, std::string_view name) {
    Attribute attribute = open_attribute_of(object, object_where, name);
    Datatype type(check(H5Aget_type(attribute.id()), attribute.where(), "get type"), attribute.where());
    if (H5Tget_class(type.id()) != H5T_INTEGER) fail("{}: must be an integer", attribute.where());
    Dataspace space(check(H5Aget_space(attribute.id()), attribute.where(), "get dataspace"), attribute.where());
    if (H5Sget_simple_extent_npoints(space.id()) != 1) fail("{}: must be a single integer", attribute.where());
    int64_t value = 0;
    check(H5Aread(attribute.id(), H5T_NATIVE_INT64, &value), attribute.where(), "cannot read");
    return value;
}

int64_t read_int64_attribute(const File& file, std::string_view name) {
    return read_int64_attribute_of(file.id(), file.where(), name);
}
int64_t read_int64_attribute(const Dataset& dataset, std::string_view name) {
    return read_int64_attribute_of(dataset.id(), dataset.where(), name);
}

std::string read_string_attribute(const File& file, std::string_view name) {
    Attribute attribute = open_attribute(file, name);
    Datatype type(check(H5Aget_type(attribute.id()), attribute.where(), "get type"), attribute.where());
    if (H5Tget_class(type.id()) != H5T_STRING) fail("{}: must be a string", attribute.where());
    Dataspace space(check(H5Aget_space(attribute.id()), attribute.where(), "get dataspace"), attribute.where());
    if (H5Sget_simple_extent_npoints(space.id()) != 1) fail("{}: must be a single string", attribute.where());
    if (H5Tis_variable_str(type.id()) > 0) {
        char* text = nullptr;
        check(H5Aread(attribute.id(), type.id(), &text), attribute.where(), "cannot read");
        std::string value = text != nullptr ? text : "";
        H5free_memory(text);
        return value;
    }
    std::string value(H5Tget_size(type.id()), '\0');
    check(H5Aread(attribute.id(), type.id(), value.data()), attribute.where(), "cannot read");
    value.resize(value.find('\0') == std::string::npos ? value.size() : value.find('\0'));  // drop padding
    return value;
}

static void write_scalar_attribute(hid_t object, const std::string& object_where, std::string_view name,
                                   hid_t file_type, hid_t memory_type, const void* value) {
    const std::string where = attribute_where(object_where, name), key(name);
    Dataspace scalar(check(H5Screate(H5S_SCALAR), where, "create dataspace"), where);
    Attribute attribute(check(H5Acreate2(object, key.c_str(), file_type, scalar.id(), H5P_DEFAULT, H5P_DEFAULT), where,
                              "cannot create"), where);
    check(H5Awrite(attribute.id(), memory_type, value), where, "cannot write");
}

void write_int64_attribute(const File& file, std::string_view name, int64_t value) {
    write_scalar_attribute(file.id(), file.where(), name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void write_uint32_attribute(const File& file, std::string_view name, uint32_t value) {
    write_scalar_attribute(file.id(), file.where(), name, H5T_STD_U32LE, H5T_NATIVE_UINT32, &value);
}
void write_uint32_attribute(const Dataset& dataset, std::string_view name, uint32_t value) {
    write_scalar_attribute(dataset.id(), dataset.where(), name, H5T_STD_U32LE, H5T_NATIVE_UINT32, &value);
}

void write_string_attribute(const File& file, std::string_view name, const std::string& value) {
    const std::string where = attribute_where(file.where(), name), key(name);
    Datatype type(check(H5Tcopy(H5T_C_S1), where, "copy string type"), where);
    check(H5Tset_size(type.id(), H5T_VARIABLE), where, "set string size");
    check(H5Tset_cset(type.id(), H5T_CSET_UTF8), where, "set string encoding");
    Dataspace scalar(check(H5Screate(H5S_SCALAR), where, "create dataspace"), where);
    Attribute attribute(check(H5Acreate2(file.id(), key.c_str(), type.id(), scalar.id(), H5P_DEFAULT, H5P_DEFAULT),
                              where, "cannot create"), where);
    const char* text = value.c_str();
    check(H5Awrite(attribute.id(), type.id(), &text), where, "cannot write");
}

}  // namespace ringlm::hdf5
