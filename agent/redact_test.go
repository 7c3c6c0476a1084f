package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"

	"github.com/kipass/kipass/status"
)

// failingCamera is a camera whose health names its URL with a password.
type failingCamera struct{}

func (failingCamera) CameraHealth() (string, string) {
	return "reopening", `camera: mjpeg mjpeg+http://viewer:hunter2@10.0.0.9/video: connection refused`
}

// A camera URL's password never shows: not in /api/status, not on the
// page, not in the heartbeat; the user name and host still do.
func TestCameraPasswordRedactedInStatusPageAndHeartbeat(t *testing.T) {
	r := newRigWith(t, 10, func(p *Parts, o *Options) {
		o.Clock = clock.NewFake(time.Now())
		p.Watch = Watch{Camera: failingCamera{}}
	})
	srv, err := status.New(status.Options{Source: r.a, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	get := func(path string) string {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	hb, _ := json.Marshal(heartbeatState(r.a.Snapshot()))
	for place, text := range map[string]string{
		"/api/status": get("/api/status"),
		"page":        get("/?lang=en"),
		"heartbeat":   string(hb),
	} {
		if strings.Contains(text, "hunter2") {
			t.Errorf("%s shows the camera password: %s", place, text)
		}
	}
	if st := get("/api/status"); !strings.Contains(st, "viewer:***@10.0.0.9") {
		t.Errorf("/api/status does not show the redacted camera problem: %s", st)
	}
}
