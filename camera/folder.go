package camera

import (
	"context"
	"errors"
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

// folderPoll is how often a watched folder is listed again while no new
// image is waiting.
const folderPoll = 200 * time.Millisecond

// fileStamp is a file's size and modification time.
type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(fi os.FileInfo) fileStamp { return fileStamp{fi.Size(), fi.ModTime()} }

// errWatching is what a watched folder's Next answers after a poll with no
// new image: the source is fine and has nothing to show yet.
var errWatching = errors.New("camera: watching the folder: no new image")

// folderSource yields the images of a folder in name order, then io.EOF;
// when watched, it lists the folder again for images added later instead.
type folderSource struct {
	dir   string
	files []string
	seen  map[string]bool
	// failed holds a watched folder's images that failed to decode, with
	// their size and time then: one that changes (was still being
	// written) is read again.
	failed map[string]fileStamp
	o      Options

	mu     sync.Mutex
	next   int
	seq    uint64
	last   time.Time
	closed bool
}

func openFolder(dir string, o Options) (*folderSource, error) {
	s := &folderSource{dir: dir, o: o, seen: map[string]bool{}, failed: map[string]fileStamp{}}
	if err := s.list(); err != nil {
		return nil, err
	}
	if len(s.files) == 0 && !o.WatchFolder {
		o.Log.Warn("camera: folder has no PNG, JPEG or GIF images", "dir", dir)
	}
	return s, nil
}

// list appends the folder's images not seen before, in name order.
func (s *folderSource) list() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("camera: read folder %s: %w", s.dir, ErrNotFound)
	}
	var added []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !imageExts[strings.ToLower(filepath.Ext(name))] {
			continue
		}
		if st, ok := s.failed[name]; ok {
			if fi, err := e.Info(); err == nil && stampOf(fi) != st {
				delete(s.failed, name) // changed since it failed: read it again
				s.seen[name] = false
			}
		}
		if !s.seen[name] {
			s.seen[name] = true
			added = append(added, name)
		}
	}
	sort.Strings(added)
	s.files = append(s.files, added...)
	return nil
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
	if s.next >= len(s.files) && s.o.WatchFolder {
		if err := s.list(); err != nil {
			return Frame{}, err
		}
		if s.next >= len(s.files) {
			poll := folderPoll
			if w := s.o.Watchdog / 2; w > 0 && w < poll {
				poll = w // a wait never looks like a stall to the watchdog
			}
			select {
			case <-s.o.Clock.After(poll):
			case <-ctx.Done():
				return Frame{}, ctx.Err()
			}
			return Frame{}, errWatching
		}
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
		if s.o.WatchFolder {
			// Perhaps caught while still being written (moving files in
			// with mv avoids this): read again once it changes.
			if fi, serr := os.Stat(filepath.Join(s.dir, name)); serr == nil {
				s.failed[name] = stampOf(fi)
			}
		}
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
