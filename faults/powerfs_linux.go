//go:build linux && !android && (amd64 || arm64)

package faults

import (
	"context"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// powerFS is a FUSE loopback filesystem that keeps written data in memory
// until the file is fsync'd, like a page cache that a power cut empties:
// Cut drops every write not yet fsync'd. Metadata operations (create,
// rename, truncate, unlink) are applied to the backing directory at once.
type powerFS struct {
	mu    sync.Mutex
	files map[uint64]*overlay // backing inode -> unsynced pages
}

const ovPage = 4096

type overlay struct {
	pages map[int64][]byte
	size  int64 // logical size reached by unsynced writes
}

func newPowerFS() *powerFS { return &powerFS{files: map[uint64]*overlay{}} }

// Cut drops every write not yet fsync'd: the power went out.
func (p *powerFS) Cut() {
	p.mu.Lock()
	p.files = map[uint64]*overlay{}
	p.mu.Unlock()
}

func (p *powerFS) ov(ino uint64) *overlay {
	o := p.files[ino]
	if o == nil {
		o = &overlay{pages: map[int64][]byte{}}
		p.files[ino] = o
	}
	return o
}

// mountPowerFS mounts a powerFS over backing at mnt.
func mountPowerFS(backing, mnt string, p *powerFS) (*fuse.Server, error) {
	rootData := &fs.LoopbackRoot{Path: backing}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, err
	}
	rootData.Dev = uint64(st.Dev)
	rootData.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &plNode{LoopbackNode: fs.LoopbackNode{RootData: r}, p: p}
	}
	root := &plNode{LoopbackNode: fs.LoopbackNode{RootData: rootData}, p: p}
	rootData.RootNode = root
	sec := time.Duration(0)
	return fs.Mount(mnt, root, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, FsName: "powerfs", Name: "powerfs"},
		EntryTimeout: &sec, AttrTimeout: &sec, NegativeTimeout: &sec,
	})
}

type plNode struct {
	fs.LoopbackNode
	p *powerFS
}

func (n *plNode) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(n.Root()))
}

func (n *plNode) openFile(path string, flags int) (fs.FileHandle, syscall.Errno) {
	fd, err := syscall.Open(path, flags&^(syscall.O_APPEND|syscall.O_CREAT|syscall.O_EXCL), 0)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, fs.ToErrno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		n.p.mu.Lock()
		delete(n.p.files, st.Ino)
		n.p.mu.Unlock()
	}
	return &plFile{fd: fd, ino: st.Ino, p: n.p}, 0
}

// Open opens the backing file through the overlay.
func (n *plNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, errno := n.openFile(n.backingPath(), int(flags&^fuse.FMODE_EXEC))
	return fh, 0, errno
}

// Create creates the backing file and opens it through the overlay.
func (n *plNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ino, fh, _, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if r, ok := fh.(fs.FileReleaser); ok {
		r.Release(ctx)
	}
	f, errno := n.openFile(filepath.Join(n.backingPath(), name), int(flags))
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ino, f, 0, 0
}

type plFile struct {
	fd  int
	ino uint64
	p   *powerFS
}

func (f *plFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := syscall.Pread(f.fd, dest, off)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return nil, fs.ToErrno(err)
	}
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	o := f.p.files[f.ino]
	size := st.Size
	if o != nil && o.size > size {
		size = o.size
	}
	end := min(off+int64(len(dest)), size)
	if end <= off {
		return fuse.ReadResultData(dest[:0]), 0
	}
	for i := n; i < int(end-off); i++ {
		dest[i] = 0
	}
	if o != nil {
		for pg := off / ovPage; pg*ovPage < end; pg++ {
			data, ok := o.pages[pg]
			if !ok {
				continue
			}
			ps := pg * ovPage
			lo, hi := max(ps, off), min(ps+ovPage, end)
			copy(dest[lo-off:hi-off], data[lo-ps:hi-ps])
		}
	}
	return fuse.ReadResultData(dest[:end-off]), 0
}

func (f *plFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	o := f.p.ov(f.ino)
	end := off + int64(len(data))
	for pg := off / ovPage; pg*ovPage < end; pg++ {
		ps := pg * ovPage
		page, ok := o.pages[pg]
		if !ok {
			page = make([]byte, ovPage)
			syscall.Pread(f.fd, page, ps)
			o.pages[pg] = page
		}
		lo, hi := max(ps, off), min(ps+ovPage, end)
		copy(page[lo-ps:hi-ps], data[lo-off:hi-off])
	}
	o.size = max(o.size, end)
	return uint32(len(data)), 0
}

// Fsync writes the file's unsynced pages to the backing file and syncs it.
func (f *plFile) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if o := f.p.files[f.ino]; o != nil {
		var st syscall.Stat_t
		if err := syscall.Fstat(f.fd, &st); err != nil {
			return fs.ToErrno(err)
		}
		size := max(st.Size, o.size)
		for pg, data := range o.pages {
			ps := pg * ovPage
			if ps >= size {
				continue
			}
			if _, err := syscall.Pwrite(f.fd, data[:min(ovPage, size-ps)], ps); err != nil {
				return fs.ToErrno(err)
			}
		}
		delete(f.p.files, f.ino)
	}
	return fs.ToErrno(syscall.Fdatasync(f.fd))
}

func (f *plFile) Flush(ctx context.Context) syscall.Errno { return 0 }

func (f *plFile) Release(ctx context.Context) syscall.Errno {
	return fs.ToErrno(syscall.Close(f.fd))
}

func (f *plFile) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	f.p.mu.Lock()
	if o := f.p.files[f.ino]; o != nil && o.size > st.Size {
		st.Size = o.size
	}
	f.p.mu.Unlock()
	out.FromStat(&st)
	return 0
}
