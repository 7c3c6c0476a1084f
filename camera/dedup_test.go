package camera

import (
	"fmt"
	"testing"
	"time"
)

func TestDedupWindowRestartsOnEachSighting(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	d := NewDedup(CameraDedupWindow)
	steps := []struct {
		text string
		at   time.Duration
		want bool
	}{
		{"A", 0, true},
		{"A", 1 * time.Second, false},
		{"B", 1 * time.Second, true},
		{"A", 5900 * time.Millisecond, false}, // 4.9 s after the last sighting
		{"A", 10900 * time.Millisecond, true}, // 5 s after it
		{"B", 10900 * time.Millisecond, true},
		{"B", 10800 * time.Millisecond, false}, // read just before the last one, ordered after it
		{"B", 10850 * time.Millisecond, false},
		{"B", 5 * time.Second, true}, // the clock was set back by a window or more
	}
	for i, s := range steps {
		if got := d.Fresh(s.text, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%s at %v): %v, want %v", i, s.text, s.at, got, s.want)
		}
	}
	off := NewDedup(0)
	if !off.Fresh("A", t0) || !off.Fresh("A", t0) {
		t.Error("window 0 must let repeats through")
	}
}

func TestDedupPrunesOldEntries(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	d := NewDedup(EngineDedupWindow)
	for i := 0; i < 1000; i++ {
		d.Fresh(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(d.seen); n > 260 {
		t.Errorf("%d entries kept, want pruning", n)
	}
}
