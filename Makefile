# A thin wrapper over CMake. `make run` and `make test` are the README's two commands; both
# install missing Debian packages first (scripts/deps.sh).
BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
PORTABLE   ?= 0
RINGLM_CUDA ?= auto
DEPS       ?= check

.PHONY: deps build test run bench clean

deps:
ifneq ($(DEPS),skip)
	@scripts/deps.sh
endif

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DRINGLM_PORTABLE=$(if $(filter 1,$(PORTABLE)),ON,OFF) -DRINGLM_CUDA=$(RINGLM_CUDA) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	scripts/demo.sh $(BUILD)

# Kernels, AdamW and the training step in one process; then one ring attention step per
# variant on 2 ranks, one thread each, unpinned (bench/ring_step_bench.cpp), and batch_zigzag,
# Ulysses and USP 2 x 2 on 4 ranks.
RING_BENCH_ENV = OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
                 OMPI_MCA_mpi_yield_when_idle=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

bench: build
	$(BUILD)/bench/ringlm_bench --benchmark_counters_tabular=true
	$(RING_BENCH_ENV) mpiexec -np 2 --bind-to none $(BUILD)/bench/ringlm_ring_bench --benchmark_counters_tabular=true
	$(RING_BENCH_ENV) mpiexec -np 4 --bind-to none $(BUILD)/bench/ringlm_ring_bench --benchmark_counters_tabular=true \
	    --benchmark_filter='variant:1/T:4096'

clean:
	rm -rf $(BUILD)
