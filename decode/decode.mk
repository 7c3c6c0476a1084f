# Decoder benchmarks (issue 14). Included from the Makefile.

.PHONY: bench-door

bench-door: deps deps-bench ## simulated door: time from phone in view to verdict, ours vs gozxing vs zxing-cpp, 200 seeded visits
	nice $(GO) run ./decode/cmd/benchdoor -visits $(or $(VISITS),200)

.PHONY: bench-batch

bench-batch: deps deps-bench ## batch wall time and peak memory on 136 stills: kipass-agent decode (cgo and pure Go) vs one ZXingReader process
	decode/bench-batch.sh
