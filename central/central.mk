# central: PostgreSQL for the central/pg tests, and the ingest benchmark.
# include central/central.mk from the Makefile.

DEB_PG := postgresql

deps-pg: ## install PostgreSQL (the central/pg tests start a throwaway server)
	$(call install-debs,$(DEB_PG))

# test-central runs central's tests with a throwaway PostgreSQL; with
# KIPASS_PG_REQUIRED=1 (CI) they fail instead of skipping without one.
test-central: deps-pg ## central's API tests on bbolt and PostgreSQL
	central/pg/testdb.sh run -- $(GO) test -race ./central/... ./heartbeat/ ./cmd/kipass-central/ ./cmd/kipass-agent/

bench-central: deps-pg ## ingest scans/s on bbolt and on PostgreSQL
	central/pg/testdb.sh run -- $(GO) test -run XXX -bench Ingest -benchtime 20x ./central/

.PHONY: deps-pg test-central bench-central
