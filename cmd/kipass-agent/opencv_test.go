//go:build linux && !android

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/token"
)

// TestOpenCVLoadedOnlyWhenTheSourceNeedsIt builds the agent twice, without
// OpenCV (kipass-agent) and with it (kipass-agent-opencv, beside it), and
// runs the lean one: with an image folder it stays itself and maps no
// OpenCV library; with a V4L2 device it replaces itself by the OpenCV
// build (same process, same arguments).
func TestOpenCVLoadedOnlyWhenTheSourceNeedsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent twice")
	}
	if !camera.HaveOpenCV {
		t.Skip("a test build without OpenCV (CGO_ENABLED=0 or -tags nocv)")
	}
	if host, _ := exec.Command("go", "env", "GOHOSTARCH").Output(); strings.TrimSpace(string(host)) != runtime.GOARCH {
		t.Skipf("the test runs as %s on a %s host (emulated): the builds it makes could not exec each other", runtime.GOARCH, host)
	}
	if out, err := exec.Command("pkg-config", "--exists", "opencv4").CombinedOutput(); err != nil {
		t.Skipf("no OpenCV development files here (pkg-config opencv4: %v %s)", err, out)
	}
	bin := t.TempDir()
	for _, b := range []struct{ out, tags string }{{"kipass-agent", "nocv"}, {openCVBuild, ""}} {
		args := []string{"build", "-o", filepath.Join(bin, b.out)}
		if b.tags != "" {
			args = append(args, "-tags", b.tags)
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	dir := t.TempDir()
	key, _ := token.GenerateKey("dev")
	keys, _ := json.Marshal(token.NewKeySet(key.Public()))
	os.WriteFile(filepath.Join(dir, "keys.json"), keys, 0o600)
	os.MkdirAll(filepath.Join(dir, "frames"), 0o700)

	// start runs the lean build on source until the process maps its
	// program (after any exec) and has logged; it returns the program
	// the process runs, whether it maps an OpenCV library, and the log.
	start := func(name, source string) (exe string, openCV bool, log string) {
		t.Helper()
		cfgFile := filepath.Join(dir, name+".json")
		cfg, _ := json.Marshal(map[string]any{
			"facility": "FAC-CV", "device": name, "source": source,
			"data_dir": filepath.Join(dir, name), "central_url": "http://127.0.0.1:1", "keys_file": filepath.Join(dir, "keys.json"),
			"audio": map[string]any{"device": "none"}, "status": map[string]any{"listen": "127.0.0.1:0"},
			"log_level": "info",
		})
		os.WriteFile(cfgFile, cfg, 0o600)
		stderr := new(lockedBuffer)
		cmd := exec.Command(filepath.Join(bin, "kipass-agent"), "run", "--config", cfgFile)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			log = stderr.String()
		}()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			// "agent running" is logged once the agent is open, in
			// whichever build runs it in the end.
			if strings.Contains(stderr.String(), "agent running") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		exe, _ = os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe")
		maps, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/maps")
		return exe, bytes.Contains(maps, []byte("libopencv_core")), log
	}

	exe, cv, log := start("folder", "folder:"+filepath.Join(dir, "frames"))
	if filepath.Base(exe) != "kipass-agent" || cv || strings.Contains(log, "loading OpenCV") {
		t.Errorf("an image folder: the process runs %s, maps OpenCV %v; log:\n%s", exe, cv, log)
	}
	exe, cv, log = start("device", "/dev/video97")
	if filepath.Base(exe) != openCVBuild || !cv || !strings.Contains(log, "loading OpenCV") {
		t.Errorf("a V4L2 device: the process runs %s, maps OpenCV %v; log:\n%s", exe, cv, log)
	}
	if !strings.Contains(log, "agent running") {
		t.Errorf("the OpenCV build did not take over the run:\n%s", log)
	}
}

// lockedBuffer is a buffer a child process writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
