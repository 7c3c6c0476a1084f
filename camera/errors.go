package camera

import "errors"

// Sentinel errors of the camera package. Each says whether a caller should
// retry: permanent errors will not go away by trying again with the same
// spec; retryable errors may (a device that comes back, a stream that
// recovers).
var (
	// ErrNoOpenCV is returned for gocv specs (devices, video files, image
	// sequences, URLs, GStreamer pipelines) and for WriteVideo in a build
	// without OpenCV (CGO_ENABLED=0 or the nocv tag). Permanent.
	ErrNoOpenCV = errors.New("camera: this build has no OpenCV (gocv)")

	// ErrNotFound means the spec names a path that does not exist.
	// Permanent for files and folders; a device path may appear later
	// (hot-plug), which the resilient device source retries.
	ErrNotFound = errors.New("camera: no such file, folder or device")

	// ErrBadSpec means the spec cannot be parsed. Permanent.
	ErrBadSpec = errors.New("camera: bad source spec")

	// ErrOpenTimeout means a source did not open within Options.OpenTimeout.
	// Retryable.
	ErrOpenTimeout = errors.New("camera: open timed out")

	// ErrOpenFailed means the backend refused to open the source (OpenCV's
	// VideoCapture.IsOpened is false, an HTTP stream answered with an error).
	// Retryable.
	ErrOpenFailed = errors.New("camera: open failed")

	// ErrBadFrame means one frame could not be decoded or had an unexpected
	// format. The source stays usable: the next call to Next moves on.
	// Retryable.
	ErrBadFrame = errors.New("camera: bad frame")

	// ErrReadFailed means a live source stopped delivering frames (a device
	// unplugged, a stream that dropped). Retryable: reopen it.
	ErrReadFailed = errors.New("camera: read failed")

	// ErrStalled means a live source delivered no frame within the watchdog
	// period. Retryable: the resilient source reopens it.
	ErrStalled = errors.New("camera: no frame within watchdog period")

	// ErrClosed is returned by Next after Close. Permanent.
	ErrClosed = errors.New("camera: source closed")

	// ErrNoControl means the device's driver lacks a control (autofocus for
	// Refocus). Permanent for that device.
	ErrNoControl = errors.New("camera: driver lacks this control")

	// ErrSnapshotDisabled means a debug snapshot was asked for without
	// Options.DebugSnapshotDir. Permanent.
	ErrSnapshotDisabled = errors.New("camera: debug snapshots are disabled")

	// ErrBadInput means an argument to WriteVideo or WriteFolder is unusable
	// (no frames, frames of different sizes, non-positive fps). Permanent.
	ErrBadInput = errors.New("camera: bad input")
)

// Retryable reports whether err is worth retrying: a transient condition of
// a live source rather than a bad spec or a missing build feature.
func Retryable(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrOpenTimeout), errors.Is(err, ErrOpenFailed),
		errors.Is(err, ErrBadFrame), errors.Is(err, ErrStalled),
		errors.Is(err, ErrReadFailed):
		return true
	}
	return false
}
