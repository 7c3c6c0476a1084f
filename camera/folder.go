package camera

import (
	"context"
	"fmt"
	"image"
	_ "image/gif"  // register GIF for folder sources
	_ "image/jpeg" // register JPEG for folder sources
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// imageExts are the file name endings a folder source reads.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true}

// folderSource yields the images of a folder in name order, then io.EOF.
type folderSource struct {
	dir   string
	files []string
	o     Options

	mu     sync.Mutex
	next   int
	seq    uint64
	last   time.Time
	closed bool
}

func openFolder(dir string, o Options) (*folderSource, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("camera: read folder %s: %w", dir, ErrNotFound)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		o.Log.Warn("camera: folder has no PNG, JPEG or GIF images", "dir", dir)
	}
	return &folderSource{dir: dir, files: files, o: o}, nil
}

// Next decodes the next image. An undecodable file gives an error wrapping
// ErrBadFrame naming the file; the following call moves on.
func (s *folderSource) Next(ctx context.Context) (Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Frame{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	if s.next >= len(s.files) {
		return Frame{}, io.EOF
	}
	if s.o.FPS > 0 && !s.last.IsZero() {
		period := time.Duration(float64(time.Second) / s.o.FPS)
		if wait := s.last.Add(period).Sub(s.o.Clock.Now()); wait > 0 {
			select {
			case <-s.o.Clock.After(wait):
			case <-ctx.Done():
				return Frame{}, ctx.Err()
			}
		}
	}
	name := s.files[s.next]
	s.next++
	s.seq++
	s.last = s.o.Clock.Now()
	g, err := decodeFile(filepath.Join(s.dir, name))
	if err != nil {
		return Frame{}, err
	}
	return Frame{Gray: g, At: s.o.Clock.Now(), Seq: s.seq}, nil
}

func decodeFile(path string) (*image.Gray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("camera: open frame %s: %w", filepath.Base(path), ErrBadFrame)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("camera: decode frame %s: %v: %w", filepath.Base(path), err, ErrBadFrame)
	}
	return toGray(img), nil
}

// Close ends the source.
func (s *folderSource) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// WriteFolder writes frames as frame_0000.png, frame_0001.png, ... into dir,
// creating it if needed. It is pure Go: builds without OpenCV use it where
// the demo would write a video, and read it back with "folder:DIR" (or the
// pattern DIR/frame_%04d.png with OpenCV).
func WriteFolder(dir string, frames []*image.Gray) error {
	if len(frames) == 0 {
		return fmt.Errorf("camera: write folder %s: no frames: %w", dir, ErrBadInput)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("camera: write folder: %w", err)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	for i, g := range frames {
		if g == nil {
			return fmt.Errorf("camera: write folder %s: frame %d is nil: %w", dir, i, ErrBadInput)
		}
		path := filepath.Join(dir, fmt.Sprintf("frame_%04d.png", i))
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("camera: write folder: %w", err)
		}
		err = enc.Encode(f, g)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("camera: write %s: %w", path, err)
		}
	}
	return nil
}
