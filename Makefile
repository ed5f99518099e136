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

bench: build
	$(BUILD)/bench/ringlm_bench --benchmark_counters_tabular=true

clean:
	rm -rf $(BUILD)
