//go:build !cgo || nocv

package decode

// newCVStage returns nil: this build has no OpenCV.
func newCVStage() cvStage { return nil }
