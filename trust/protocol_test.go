package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

// docExample is one example of docs/protocol.md: the type named by its
// marker and the text of the code block after it.
type docExample struct {
	typ, text string
	line      int
}

func readProtocol(t *testing.T) (string, []docExample) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	lines := strings.Split(doc, "\n")
	marker := regexp.MustCompile(`^<!-- example: (\S+)(?: \([^)]*\))? -->$`)
	var out []docExample
	pending := ""
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := marker.FindStringSubmatch(l); m != nil {
			pending = m[1]
			continue
		}
		if !strings.HasPrefix(l, "```") {
			continue
		}
		if l == "```json" && pending == "" {
			t.Errorf("docs/protocol.md:%d: a JSON example without an example marker (untested)", i+1)
		}
		start := i + 1
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		if pending != "" {
			out = append(out, docExample{typ: pending, text: strings.Join(lines[start:i], "\n"), line: start})
			pending = ""
		}
	}
	return doc, out
}

// normalize turns decoded JSON into a comparable form: times become UTC
// instants, so "10:30:00.120+09:00" equals "01:30:00.12Z".
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}

func TestProtocolExamplesRoundTrip(t *testing.T) {
	_, examples := readProtocol(t)
	types := map[string]func() any{
		"token.KeySet":      func() any { return new(token.KeySet) },
		"trust.clockState":  func() any { return new(clockState) },
		"api.ScanBatch":     func() any { return new(api.ScanBatch) },
		"api.BatchResult":   func() any { return new(api.BatchResult) },
		"api.Error":         func() any { return new(api.Error) },
		"api.VerifyRequest": func() any { return new(api.VerifyRequest) },
		"api.VerifyResult":  func() any { return new(api.VerifyResult) },
		"api.GivenVerdicts": func() any { return new(api.GivenVerdicts) },
		"api.VerdictsStored": func() any {
			return new(api.VerdictsStored)
		},
		"api.ScanVerdict": func() any { return new(api.ScanVerdict) },
		"api.Counts":      func() any { return new(api.Counts) },
		"api.Time":        func() any { return new(api.Time) },
	}
	// Central's enrollment, fleet, statistics and export (issue 9).
	for name, mk := range map[string]func() any{
		"[]api.BusinessType": func() any { return new([]api.BusinessType) },
		"api.Registration":   func() any { return new(api.Registration) },
		"api.Registered":     func() any { return new(api.Registered) },
		"api.EnrollmentCode": func() any { return new(api.EnrollmentCode) },
		"api.EnrollRequest":  func() any { return new(api.EnrollRequest) },
		"api.Enrollment":     func() any { return new(api.Enrollment) },
		"api.Rotation":       func() any { return new(api.Rotation) },
		"api.ItemResult":     func() any { return new(api.ItemResult) },
		"api.Heartbeat":      func() any { return new(api.Heartbeat) },
		"api.Fleet":          func() any { return new(api.Fleet) },
		"api.Stats":          func() any { return new(api.Stats) },
		"api.Export":         func() any { return new(api.Export) },
		"api.Audit":          func() any { return new(api.Audit) },
	} {
		types[name] = mk
	}
	decoded := map[string]any{}
	var exampleToken string
	for _, ex := range examples {
		if ex.typ == "token" {
			exampleToken = strings.TrimSpace(ex.text)
			continue
		}
		mk, ok := types[ex.typ]
		if !ok {
			t.Errorf("docs/protocol.md:%d: unknown example type %q", ex.line, ex.typ)
			continue
		}
		v := mk()
		dec := json.NewDecoder(strings.NewReader(ex.text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("docs/protocol.md:%d: %s: %v", ex.line, ex.typ, err)
			continue
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		json.Unmarshal([]byte(ex.text), &a)
		json.Unmarshal(again, &b)
		if !reflect.DeepEqual(normalize(a), normalize(b)) {
			t.Errorf("docs/protocol.md:%d: %s does not round-trip:\n doc: %s\ncode: %s", ex.line, ex.typ, compact(ex.text), again)
		}
		if decoded[ex.typ] == nil { // the first example of a type is its main one
			decoded[ex.typ] = v
		}
	}
	for name := range types {
		if decoded[name] == nil {
			t.Errorf("no example of %s in docs/protocol.md", name)
		}
	}
	if t.Failed() {
		return
	}

	// The example token verifies against the example key set at its issue
	// time, and not one second after its validity and skew.
	keys := decoded["token.KeySet"].(*token.KeySet)
	c, err := token.Parse(exampleToken)
	if err != nil {
		t.Fatalf("example token: %v", err)
	}
	if c.KeyID.String() != "0F277034" || !c.IssuedAt.Equal(time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)) {
		t.Fatalf("example token claims %+v, want key 0F277034 issued 2026-11-22T01:30:00Z as the text says", c)
	}
	v := token.Verifier{Keys: keys, Skew: 2 * time.Second}
	if _, err := v.Verify(exampleToken, c.IssuedAt); err != nil {
		t.Fatalf("example token does not verify: %v", err)
	}
	if _, err := v.Verify(exampleToken, c.Expires().Add(3*time.Second)); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("example token after validity: %v", err)
	}
	if k, _ := keys.Lookup(0x9A00B1C2); !k.Revoked {
		t.Fatal("the example's second key is not revoked")
	}

	// The scan examples: right scan ids; the verified one carries the
	// example token, valid at its corrected time; the answers match.
	batch := decoded["api.ScanBatch"].(*api.ScanBatch)
	res := decoded["api.BatchResult"].(*api.BatchResult)
	for i, s := range batch.Scans {
		if s.ID != token.ScanID(s.Device, s.Token) {
			t.Errorf("scan %d: id %s is not the scan id of its device and token (%s)", i, s.ID, token.ScanID(s.Device, s.Token))
		}
		if i < len(res.Results) && res.Results[i].ID != s.ID {
			t.Errorf("result %d is for %s, want %s", i, res.Results[i].ID, s.ID)
		}
		if s.Verdict == "verified" {
			if s.Token != exampleToken {
				t.Errorf("scan %d: the verified scan should carry the example token", i)
			}
			if _, err := v.Verify(s.Token, s.CorrectedTime); err != nil {
				t.Errorf("scan %d: token not valid at its corrected time: %v", i, err)
			}
		}
	}
	if sv := decoded["api.ScanVerdict"].(*api.ScanVerdict); sv.ID != batch.Scans[len(batch.Scans)-1].ID {
		t.Errorf("the scan verdict example is not about the pending scan")
	}
}

func compact(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

// TestProtocolReasonTables checks the reason tables against the code: every
// reason the code gives is documented with its verdict, and every
// documented reason is one the code gives.
func TestProtocolReasonTables(t *testing.T) {
	doc, _ := readProtocol(t)
	row := regexp.MustCompile("^\\| `([a-z0-9_<>]+)` \\| ([a-z, ]+) \\| ")
	documented := map[string]string{}
	inTable := false
	for _, l := range strings.Split(doc, "\n") {
		switch {
		case l == "| reason | verdict | meaning |":
			inTable = true
		case !strings.HasPrefix(l, "|"):
			inTable = false
		case inTable:
			if m := row.FindStringSubmatch(l); m != nil {
				documented[m[1]] = strings.TrimSpace(m[2])
			}
		}
	}
	if len(documented) == 0 {
		t.Fatal("no reason table found in docs/protocol.md")
	}
	code := map[string]string{}
	for _, err := range []error{
		token.ErrNotToken, token.ErrVersion, token.ErrOversize, token.ErrNotUTF8, token.ErrEncoding, token.ErrMalformed,
		token.ErrUnknownKey, token.ErrRevokedKey, token.ErrSignature, token.ErrExpired, token.ErrNotYetValid,
	} {
		code[token.Reason(err)] = string(token.VerdictOf(err))
	}
	for _, r := range []string{ReasonClockUnsure, ReasonCentralUnreachable, ReasonAwaitingIssuer} {
		code[r] = string(token.Pending)
	}
	code["central_<reason>"] = "invalid, expired"
	for r, verdict := range code {
		if documented[r] != verdict {
			t.Errorf("reason %s: documented verdict %q, code %q", r, documented[r], verdict)
		}
	}
	for r := range documented {
		if _, ok := code[r]; !ok {
			t.Errorf("documented reason %s is not given by the code", r)
		}
	}
}
