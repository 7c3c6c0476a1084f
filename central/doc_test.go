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
