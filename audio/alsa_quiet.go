//go:build cgo && linux && !android && !noaudio

package audio

// #cgo pkg-config: alsa
// #include <alsa/asoundlib.h>
//
// static void kipass_alsa_quiet(const char *file, int line, const char *function, int err, const char *fmt, ...) {}
//
// static void kipass_alsa_silence(void) {
// 	snd_lib_error_set_handler(kipass_alsa_quiet);
// }
import "C"

// silenceALSA stops alsa-lib from printing its own error lines to stderr
// (a box without a sound card would print a dozen per start). The failure
// still reaches the log: oto's error carries ALSA's message, and Open logs it
// once as a warning.
func silenceALSA() { C.kipass_alsa_silence() }
