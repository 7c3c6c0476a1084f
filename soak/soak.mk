# Soak (issue 14): the agent daemon for $(SOAK) on a 720p, 15 fps MJPEG
# stream on loopback with a visitor every 3 s. Include from the Makefile:
#   include soak/soak.mk
# `SOAK=1m make soak` is the CI length.

SOAK ?= 10m

.PHONY: soak

soak: build ## run the agent for $(SOAK) (default 10m) at a simulated door: RSS, goroutines, dropped frames, frame→voice p99; fails only if a confirmed scan is lost, the agent dies or no visitor is read
	$(GO) run ./soak/cmd/kipass-soak -duration $(SOAK) -agent $(BIN)/kipass-agent
