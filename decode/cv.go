package decode

// cvStage is the optional OpenCV stage of the cascade (cgo builds only; see
// cv_gocv.go). newCVStage returns nil when it is not built in.
type cvStage interface {
	run(f *frameCtx) (Result, bool)
	close()
}
