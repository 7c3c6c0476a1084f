package central_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kipass/kipass/central/api"
)

// Every endpoint docs/protocol.md names is routed (the API tests exercise
// each one on both backends).
func TestDocumentedEndpointsAreRouted(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0].open(t), secure)
	f := e.facility(t, "124810099", "서울 1")
	seen := map[string]bool{}
	re := regexp.MustCompile("`(GET|POST|PATCH|DELETE) (/v1/[^`?\\s\\[]*)")
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		method, path := m[1], m[2]
		if seen[method+" "+path] {
			continue
		}
		seen[method+" "+path] = true
		p := strings.NewReplacer("{id}", f.Facility.ID, "{device}", "D-none", "{staff}", "S-none").Replace(path)
		code, out := e.do(t, method, p, adminCred, "{}")
		var ae api.Error
		json.Unmarshal(out, &ae)
		if code == 405 || ae.Reason == "no_such_endpoint" {
			t.Errorf("%s %s is documented but not routed: %d %s", method, path, code, out)
		}
	}
	if len(seen) < 20 {
		t.Fatalf("found only %d endpoints in the document: %v", len(seen), seen)
	}
}

// The JSON examples of central's sections decode strictly into the API
// types: no unknown or misspelt field, no wrong type.
func TestDocumentedExamplesDecode(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start, end := strings.Index(text, "## Central: accounts"), strings.Index(text, "## Server time")
	if start < 0 || end < start {
		t.Fatal("central sections not found")
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(text[start:end], -1)
	if len(blocks) < 15 {
		t.Fatalf("only %d JSON examples", len(blocks))
	}
	candidates := []func() any{
		func() any { return &[]api.BusinessType{} }, func() any { return &api.Registration{} }, func() any { return &api.Registered{} },
		func() any { return &api.CodeRequest{} }, func() any { return &api.EnrollmentCode{} }, func() any { return &api.EnrollRequest{} },
		func() any { return &api.Enrollment{} }, func() any { return &api.ScanBatch{} }, func() any { return &api.BatchResult{} },
		func() any { return &api.ItemResult{} }, func() any { return &api.Heartbeat{} }, func() any { return &api.HeartbeatAck{} },
		func() any { return &api.Fleet{} }, func() any { return &api.Stats{} }, func() any { return &api.Counts{} },
		func() any { return &api.Export{} }, func() any { return &api.Audit{} }, func() any { return &api.Error{} },
		func() any { return &api.VerifyRequest{} }, func() any { return &api.VerifyResult{} },
		func() any { return &api.GivenVerdicts{} }, func() any { return &api.VerdictsStored{} }, func() any { return &api.ScanVerdict{} },
		func() any { return &api.Rotation{} },
	}
	for _, b := range blocks {
		ok := false
		for _, c := range candidates {
			dec := json.NewDecoder(strings.NewReader(b[1]))
			dec.DisallowUnknownFields()
			if dec.Decode(c()) == nil {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("example decodes into no API type:\n%s", b[1])
		}
	}
}
