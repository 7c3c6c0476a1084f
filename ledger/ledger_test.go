package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

func TestControlCodeRoundTripAndRefusals(t *testing.T) {
	dir := t.TempDir()
	mine, err := OpenCodes(filepath.Join(dir, "a", "ledger.key"), "F-1", "D-1.door")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "a", "ledger.key"))
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != keySize {
		t.Fatalf("key file: %v %v", st, err)
	}
	for _, a := range Actions {
		code := mine.Make(a)
		if !IsControl(code) {
			t.Fatalf("%q is not a control code", code)
		}
		got, err := mine.Check(code)
		if err != nil || got != a {
			t.Fatalf("Check(%q) = %q, %v; want %q", code, got, err, a)
		}
	}
	// The same key file gives the same codes after a restart.
	again, err := OpenCodes(filepath.Join(dir, "a", "ledger.key"), "F-1", "D-1.door")
	if err != nil {
		t.Fatal(err)
	}
	if again.Make(Paper) != mine.Make(Paper) {
		t.Fatal("codes changed across a restart")
	}

	otherFacility, _ := OpenCodes(filepath.Join(dir, "b", "ledger.key"), "F-2", "D-1.door")
	otherDevice, _ := OpenCodes(filepath.Join(dir, "c", "ledger.key"), "F-1", "D-2")
	sameIDsOtherKey, _ := OpenCodes(filepath.Join(dir, "d", "ledger.key"), "F-1", "D-1.door")
	good := mine.Make(Paper)
	flipped := strings.Replace(good, "KPL1.P.", "KPL1.N.", 1) // the attacker changes the action, keeps the mac
	cases := []struct {
		name, code string
		want       error
	}{
		{"other facility", otherFacility.Make(Paper), ErrForeign},
		{"other device", otherDevice.Make(NoPhone), ErrForeign},
		{"same ids, other device key", sameIDsOtherKey.Make(Paper), ErrForged},
		{"action changed", flipped, ErrForged},
		{"mac cut", good[:len(good)-3], ErrForged},
		{"unknown action", strings.Replace(good, "KPL1.P.", "KPL1.X.", 1), ErrMalformed},
		{"too few parts", "KPL1.P.F-1", ErrMalformed},
		{"extra dot", good + ".x", ErrMalformed},
	}
	for _, c := range cases {
		a, err := mine.Check(c.code)
		if !errors.Is(err, c.want) || a != "" {
			t.Errorf("%s: Check = %q, %v; want %v", c.name, a, err, c.want)
		}
	}
	if IsControl("KP1.abc") || IsControl("https://example.com/KPL1.") {
		t.Error("visitor tokens taken for control codes")
	}
}

func TestNewCodesRefusesShortKeyAndEmptyIDs(t *testing.T) {
	if _, err := NewCodes(make([]byte, 8), "F", "D"); !errors.Is(err, ErrKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := NewCodes(make([]byte, 32), "", "D"); err == nil {
		t.Fatal("empty facility accepted")
	}
}

// The warning starts on the day the sheet is due, not the day before,
// counted from its last entry.
func TestSheetDueOnTheDayItIsDue(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, KST)
	clk := clock.NewFake(start)
	path := filepath.Join(t.TempDir(), "ledger.json")
	b, err := OpenBook(path, clk)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Start("")
	if err != nil || s.Date != "2026-03-02" || s.DestroyBy != "2026-03-30" {
		t.Fatalf("Start = %+v, %v", s, err)
	}
	clk.Set(time.Date(2026, 3, 5, 23, 30, 0, 0, KST))
	if err := b.Entry(2); err != nil {
		t.Fatal(err)
	}
	got := b.Sheets()
	if len(got) != 1 || got[0].Entries != 2 || got[0].DestroyBy != "2026-04-02" {
		t.Fatalf("after entries: %+v", got)
	}
	clk.Set(time.Date(2026, 4, 1, 23, 59, 59, 0, KST))
	if d := b.Due(); len(d) != 0 {
		t.Fatalf("due a day early: %+v", d)
	}
	clk.Set(time.Date(2026, 4, 2, 0, 0, 0, 0, KST))
	if d := b.Due(); len(d) != 1 || d[0].Date != "2026-03-02" {
		t.Fatalf("not due on its day: %+v", d)
	}
	// The book survives a restart; the confirmation ends the warning.
	b2, err := OpenBook(path, clk)
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Due()) != 1 {
		t.Fatal("due sheet lost across a restart")
	}
	if _, err := b2.Shredded("2026-03-01"); !errors.Is(err, ErrNoSheet) {
		t.Fatalf("shredding an unknown sheet: %v", err)
	}
	sh, err := b2.Shredded("2026-03-02")
	if err != nil || sh.ShreddedAt.IsZero() {
		t.Fatalf("Shredded = %+v, %v", sh, err)
	}
	if len(b2.Due()) != 0 || len(b2.Sheets()) != 1 {
		t.Fatalf("after shredding: due %v sheets %v", b2.Due(), b2.Sheets())
	}
	// The confirmation is remembered for KeepShredded, then forgotten.
	clk.Advance(KeepShredded + time.Hour)
	if len(b2.Sheets()) != 0 {
		t.Fatalf("shredded sheet kept too long: %+v", b2.Sheets())
	}
	// The file holds dates and counts only.
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "name") || strings.Contains(string(raw), "phone") {
		t.Fatalf("ledger file holds more than dates: %s", raw)
	}
}

func TestSheetStartRefusesBadDates(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 2, 10, 0, 0, 0, KST))
	b, _ := OpenBook(filepath.Join(t.TempDir(), "l.json"), clk)
	for _, d := range []string{"2026-3-1", "yesterday", "2026-03-03"} {
		if _, err := b.Start(d); !errors.Is(err, ErrDate) {
			t.Errorf("Start(%q) = %v, want ErrDate", d, err)
		}
	}
	if _, err := b.Start("2026-03-01"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start("2026-03-01"); !errors.Is(err, ErrSheetExists) {
		t.Fatalf("second sheet of a date: %v", err)
	}
	// Entries go on the newest open sheet.
	if _, err := b.Start(""); err != nil {
		t.Fatal(err)
	}
	b.Entry(1)
	for _, s := range b.Sheets() {
		if (s.Date == "2026-03-02") != (s.Entries == 1) {
			t.Fatalf("entry on the wrong sheet: %+v", b.Sheets())
		}
	}
}

func TestOpenBookNamesADamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := OpenBook(path, nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged file: %v", err)
	}
}
