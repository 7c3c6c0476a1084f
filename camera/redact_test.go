package camera

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRedactReplacesPasswordsOnly(t *testing.T) {
	cases := map[string]string{
		"mjpeg+http://user:pass@host/video":                       "mjpeg+http://user:***@host/video",
		"rtsp://admin:s3cr:et@10.0.0.2:554/stream":                "rtsp://admin:***@10.0.0.2:554/stream",
		"rtspsrc location=rtsp://u:p@cam/1 ! decodebin ! appsink": "rtspsrc location=rtsp://u:***@cam/1 ! decodebin ! appsink",
		`camera: open "mjpeg+http://a:b@h/v": refused`:            `camera: open "mjpeg+http://a:***@h/v": refused`,
		"mjpeg+http://host/video":                                 "mjpeg+http://host/video",
		"mjpeg+http://user@host/video":                            "mjpeg+http://user@host/video",
		"/dev/video0":                                             "/dev/video0",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// The camera's own logs and errors never carry the password of its URL.
func TestLiveCameraLogsAndErrorsRedactThePassword(t *testing.T) {
	var logs bytes.Buffer
	l, err := OpenLive("mjpeg+http://viewer:hunter2@127.0.0.1:1/video", Options{
		Log: slog.New(slog.NewTextHandler(&logs, nil)), OpenTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error shows the password: %v", err)
		}
		return
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = l.Next(ctx)
	h := l.Health()
	out := logs.String() + " " + h.Reason
	if err != nil {
		out += " " + err.Error()
	}
	if !strings.Contains(out, "viewer:***@") {
		t.Fatalf("no camera log or health names the source: %s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Fatalf("password shown: %s", out)
	}
}
