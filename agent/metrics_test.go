package agent

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/token"
)

// seqFrames hands out blank frames numbered as a camera numbers them.
type seqFrames struct{ seqs []uint64 }

func (s *seqFrames) Next(ctx context.Context) (camera.Frame, error) {
	if len(s.seqs) == 0 {
		return camera.Frame{}, io.EOF
	}
	seq := s.seqs[0]
	s.seqs = s.seqs[1:]
	return camera.Frame{Gray: screen.Blank(screen.Options{Width: 64, Height: 48}), At: time.Now(), Seq: seq}, nil
}

func (s *seqFrames) Close() error { return nil }

func TestDroppedFramesCountedFromSeqGaps(t *testing.T) {
	// 1 2 [3 4] 5 6, reopened: 1 [2] 3, then an unnumbered frame.
	src := &seqFrames{seqs: []uint64{1, 2, 5, 6, 1, 3, 0}}
	r := newRigWith(t, 0, func(p *Parts, _ *Options) { p.Frames = src })
	ctx := context.Background()
	for range 7 {
		if err := r.a.nextFrame(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := r.a.Stats()
	if st.Frames != 7 || st.Dropped != 3 {
		t.Fatalf("frames=%d dropped=%d, want 7 and 3", st.Frames, st.Dropped)
	}
	if got := r.a.Snapshot().Camera.Dropped; got != 3 {
		t.Fatalf("snapshot camera dropped = %d, want 3", got)
	}
	rec := httptest.NewRecorder()
	r.a.obs.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nkipass_camera_frames_dropped_total 3\n") {
		t.Fatalf("metrics lack kipass_camera_frames_dropped_total 3:\n%s", rec.Body.String())
	}
}

func TestFrameToVoiceHistogram(t *testing.T) {
	r := newRig(t, 0)
	tok, _ := token.Signer{Key: r.key}.Issue(time.Now())
	f := r.frame(t, tok)
	f.At = time.Now().Add(-40 * time.Millisecond) // captured 40 ms before the loop took it
	r.a.handleFrame(context.Background(), f)
	if len(r.scans) != 1 || r.scans[0].Latency < 40*time.Millisecond {
		t.Fatalf("scans = %+v", r.scans)
	}
	rec := httptest.NewRecorder()
	r.a.obs.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"\nkipass_frame_to_voice_seconds_count 1\n", "\nkipass_frame_to_voice_seconds_bucket{le=\"0.03\"} 0\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
