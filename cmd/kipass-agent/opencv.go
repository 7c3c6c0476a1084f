package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kipass/kipass/camera"
)

// OpenCV is loaded only when a source needs it. The agent is installed in
// two builds: kipass-agent, without OpenCV (its libraries cost about half
// a second and 70 MB of mapped pages at start-up), and kipass-agent-opencv
// beside it (or in /usr/libexec/kipass). A build without OpenCV whose
// source needs it replaces itself by the OpenCV build, with the same
// arguments, before it opens anything; image folders, MJPEG streams and
// scan engines never load OpenCV.

// openCVBuild is the file name of the agent built with OpenCV.
const openCVBuild = "kipass-agent-opencv"

// openCVDirs are where the OpenCV build is looked for after the directory
// of the running binary.
var openCVDirs = []string{"/usr/libexec/kipass"}

// findOpenCVBuild returns the OpenCV build's path, or "" when there is
// none.
func findOpenCVBuild() string {
	dirs := openCVDirs
	if exe, err := os.Executable(); err == nil {
		dirs = append([]string{filepath.Dir(exe)}, dirs...)
	}
	for _, d := range dirs {
		p := filepath.Join(d, openCVBuild)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// useOpenCV makes sure a command whose work needs OpenCV runs in a build
// that has it: in a build without, it replaces the process by the OpenCV
// build, and returns only when that fails. It does nothing when OpenCV is
// not needed or already linked. When there is no OpenCV build it says so
// and goes on, and opening the camera fails with camera.ErrNoOpenCV.
// what names the need, for the log.
func useOpenCV(need bool, what string, log *slog.Logger) {
	if !need || camera.HaveOpenCV {
		return
	}
	p := findOpenCVBuild()
	if p == "" {
		log.Error("this build has no OpenCV and no "+openCVBuild+" was found beside it or in /usr/libexec/kipass; install it, or use an image folder, an MJPEG stream or a scan engine",
			"for", what)
		return
	}
	log.Info("loading OpenCV: continuing in the OpenCV build", "for", what, "build", p)
	if err := execSelf(p); err != nil {
		log.Error("could not start the OpenCV build", "build", p, "err", err)
	}
}
