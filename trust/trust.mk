# Token trust targets (issue 4). Include from the Makefile with:
#   include trust/trust.mk

.PHONY: bench-token qr-size fuzz-token

bench-token: ## verification cost per token (wall and CPU ns/op; target ≤ 100 µs)
	$(GO) test -run '^$$' -bench 'BenchmarkVerify|BenchmarkCheck' -benchtime 2s ./token/ ./trust/

qr-size: ## QR version a token needs at each error-correction level (target ≤ 7 at M)
	$(GO) run ./cmd/kipass-issuer qr-size

FUZZTIME ?= 10m
fuzz-token: ## fuzz the token parser and verifier for FUZZTIME (default 10m)
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME) ./token/
