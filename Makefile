# A thin wrapper over CMake. `make run` and `make test` are the README's two commands; both
# install missing Debian packages first (scripts/deps.sh).
BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
PORTABLE   ?= 0
RINGLM_CUDA ?= auto
DEPS       ?= check

.PHONY: deps build test run bench clean fuzz test-sanitize

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

# libFuzzer targets (fuzz/), clang with AddressSanitizer + UndefinedBehaviorSanitizer, in their
# own build folder: FUZZ_SECONDS per target, or FUZZ_RUNS executions each when set
# (`make fuzz FUZZ_RUNS=1000000`); FUZZ_TARGETS picks some (`make fuzz FUZZ_TARGETS=safetensors_fuzz`).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_RUNS    ?= 0
FUZZ_TARGETS ?=

$(FUZZ_BUILD)/CMakeCache.txt:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DRINGLM_FUZZ=ON -DRINGLM_CUDA=off -DRINGLM_TESTS=OFF -DRINGLM_BENCH=OFF $(CMAKE_ARGS)

fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_RUNS) $(FUZZ_TARGETS)

# The unit and app tests built with -fsanitize=address,undefined (GCC), UB fatal, leaks
# reported (suppressions: fuzz/lsan.supp, third-party frames only).
SANITIZE_BUILD ?= build-sanitize
SANITIZE_ENV = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
               LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0

$(SANITIZE_BUILD)/CMakeCache.txt:
	cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGLM_SANITIZE=ON -DRINGLM_CUDA=off \
	      -DRINGLM_BENCH=OFF $(CMAKE_ARGS)

test-sanitize: deps $(SANITIZE_BUILD)/CMakeCache.txt
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target unit_tests app_tests
	cd $(SANITIZE_BUILD) && $(SANITIZE_ENV) ctest --output-on-failure -j $(JOBS) -L '^(unit|app)$$'

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(SANITIZE_BUILD)
