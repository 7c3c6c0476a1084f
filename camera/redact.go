package camera

import "regexp"

// userinfo matches the password of a URL's user info anywhere in a text:
// "scheme://user:password@" (also inside a pipeline or an error message).
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s"']*):([^@/\s"']*)@`)

// Redact returns text with the password of every URL in it replaced by
// "***" (user:***@), for logs, the status page, /api/status and the
// heartbeat. Text without a password comes back unchanged.
func Redact(text string) string {
	return userinfo.ReplaceAllString(text, "$1:***@")
}
