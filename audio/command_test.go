//go:build linux

package audio

import (
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFile waits until path exists and stops growing.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	var last []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 && len(b) == len(last) {
			return b
		}
		last = b
	}
	t.Fatalf("%s was not written", path)
	return nil
}

// TestCommandSpeaker plays through real external programs: once with the
// WAV on stdin, once with a {file} argument, and checks the WAV they got.
func TestCommandSpeaker(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		argv func(out string) []string
	}{
		{"stdin", func(out string) []string { return []string{"sh", "-c", "cat > " + out} }},
		{"file", func(out string) []string { return []string{"cp", "{file}", out} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".wav")
			s, err := Open(Options{Command: tc.argv(out), Volume: 0.5}, slog.New(&recorder{}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Say(Expired); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeWAV(waitFile(t, out))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := EmbeddedClip("ko", Expired)
			if len(got.Samples) != len(want.Samples) {
				t.Fatalf("player got %d samples, want %d", len(got.Samples), len(want.Samples))
			}
			g := fitGainF(got.Samples, want.Samples)
			if math.Abs(g-0.5) > 0.01 {
				t.Errorf("player got gain %.3f, want 0.5", g)
			}
		})
	}
}

func fitGainF(a, b []float32) float64 {
	var ab, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / bb
}

// pidsWritten waits until the file lists n process ids.
func pidsWritten(t *testing.T, path string, n int) []int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if f := strings.Fields(string(b)); len(f) >= n {
			var pids []int
			for _, x := range f {
				pid, _ := strconv.Atoi(x)
				pids = append(pids, pid)
			}
			return pids
		}
	}
	t.Fatalf("want %d player processes started", n)
	return nil
}

// gone waits until process pid has ended (and been reaped).
func gone(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return true
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return false
}

// TestCommandCutOff: a new Say kills the player still running, and Close
// kills the last one; Say itself returns at once.
func TestCommandCutOff(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	s, err := Open(Options{Command: []string{"sh", "-c", "echo $$ >> " + pids + "; exec sleep 30"}}, slog.New(&recorder{}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Say(Verified); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Say took %v: it must not wait for the player", d)
	}
	first := pidsWritten(t, pids, 1)[0]
	if err := s.Say(Invalid); err != nil {
		t.Fatal(err)
	}
	second := pidsWritten(t, pids, 2)[1]
	if !gone(first) {
		t.Errorf("the first player (%d) still runs after the next Say", first)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(second) {
		t.Errorf("the last player (%d) still runs after Close", second)
	}
}
