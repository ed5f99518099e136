# The CUDA backend (cuBLASLt, cuDNN, own kernels, NCCL transport), built when nvcc exists.
# Facts for CMake 3.25 with nvcc 13: the architectures must be set before enable_language,
# the runtime is linked shared, and C++20 needs its flag spelled out (below).
if(NOT CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
# CMake 3.25 does not know nvcc's C++20 flag; teach it (without this, "CUDA20" is refused).
set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
file(GLOB RINGLM_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cuda/*.cu ${CMAKE_SOURCE_DIR}/cuda/*.cpp)
# NCCL (the GPU transport) next to the toolkit, or where -DNCCL_LIBRARY / -DNCCL_INCLUDE_DIR
# point (tests/gpu/check.sh finds a pip-installed one). Without it the backend still builds;
# RINGLM_WITH_NCCL marks the builds that have the transport.
find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib64 /usr/local/cuda/lib64)
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
set(RINGLM_WITH_NCCL OFF)
if(NCCL_LIBRARY AND NCCL_INCLUDE_DIR)
  set(RINGLM_WITH_NCCL ON)
  # The bootstrap makes NCCL communicators over src/parallel's MPI ones: not in a core-only
  # build without MPI.
  if(RINGLM_CORE_ONLY AND NOT RINGLM_CORE_MPI)
    list(FILTER RINGLM_CUDA_SOURCES EXCLUDE REGEX ".*/cuda/nccl_bootstrap\\.cpp$")
  endif()
else()
  list(FILTER RINGLM_CUDA_SOURCES EXCLUDE REGEX ".*/cuda/nccl_(communicator|bootstrap)\\.cpp$")
  message(STATUS "ringlm: NCCL not found (nccl.h, libnccl): the CUDA backend builds without the NCCL transport")
endif()
if(RINGLM_CUDA_SOURCES)
  add_library(ringlm_cuda STATIC ${RINGLM_CUDA_SOURCES})
  target_include_directories(ringlm_cuda PUBLIC ${CMAKE_SOURCE_DIR}/cuda)
  target_link_libraries(ringlm_cuda PUBLIC CUDA::cudart CUDA::cublasLt)
  find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib64 /usr/local/cuda/lib64)
  # cuDNN's graph API header (cudnn_graph.h, cuDNN 9) next to the toolkit's, or where
  # CUDNN_INCLUDE_DIR points (a pip-installed cuDNN: tests/gpu/check.sh passes both).
  find_path(CUDNN_INCLUDE_DIR cudnn_graph.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  if(CUDNN_LIBRARY AND CUDNN_INCLUDE_DIR)
    target_include_directories(ringlm_cuda PUBLIC ${CUDNN_INCLUDE_DIR})
    target_link_libraries(ringlm_cuda PUBLIC ${CUDNN_LIBRARY})
    target_compile_definitions(ringlm_cuda PUBLIC RINGLM_WITH_CUDNN=1)
  else()
    message(STATUS "ringlm: cuDNN not found; the CUDA backend's attention uses its own kernel only")
  endif()
  target_compile_definitions(ringlm_cuda PUBLIC RINGLM_WITH_CUDA=1)
  if(RINGLM_WITH_NCCL)
    target_include_directories(ringlm_cuda PUBLIC ${NCCL_INCLUDE_DIR})
    target_link_libraries(ringlm_cuda PUBLIC ${NCCL_LIBRARY})
    target_compile_definitions(ringlm_cuda PUBLIC RINGLM_WITH_NCCL=1)
  endif()
  # Warnings for the .cu files as for C++ (host code through the host compiler, device code
  # through nvcc's own checks).
  target_compile_options(ringlm_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>)
  # Device code may call constexpr host functions: the rules the CPU kernels share and test
  # (backend/attention_tiles.h's tiles_may_interact).
  target_compile_options(ringlm_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)
else()
  set(RINGLM_WITH_CUDA OFF)
endif()
