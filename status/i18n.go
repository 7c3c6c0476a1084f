package status

import (
	"fmt"
	"time"
)

// Languages the page speaks; the first is the default.
var Languages = []string{"ko", "en"}

// messages holds each text in Korean and English.
var messages = map[string][2]string{
	"title":                   {"KI-Pass 출입 스캐너", "KI-Pass entrance scanner"},
	"state.scanning":          {"정상 작동 중", "Scanning"},
	"state.offline_recording": {"오프라인: 기기에 기록 중", "Offline, still recording"},
	"state.camera_problem":    {"카메라 문제", "Camera problem"},
	"state.clock_problem":     {"시계 문제", "Clock problem"},
	"state.scanner_problem":   {"스캐너 문제", "Scanner problem"},
	"state.not_registered":    {"등록되지 않은 기기입니다", "Device not registered"},
	"state.storage_problem":   {"저장 문제", "Storage problem"},
	"hint.scanning":           {"QR 코드를 인식하고 서버로 전송하고 있습니다.", "QR codes are checked, recorded and sent to central."},
	"hint.offline_recording":  {"서버에 연결할 수 없습니다. 방문 기록은 기기에 안전하게 보관되며 연결되면 전송됩니다.", "Central cannot be reached. Visits are kept safely on the device and sent when the connection returns."},
	"hint.camera_problem":     {"카메라 화면이 들어오지 않습니다. 케이블과 전원을 확인하세요.", "No picture from the camera. Check its cable and power."},
	"hint.scanner_problem":    {"스캐너가 연결되지 않았습니다. 케이블을 확인하세요. 다시 연결되면 자동으로 이어집니다.", "The scanner is not connected. Check its cable; scanning resumes on its own when it is back."},
	"hint.not_registered":     {"서버가 이 기기를 거부했습니다. 방문 기록은 기기에 보관되지만 전송되지 않습니다. 관리자에게 등록 코드를 받아 등록하세요 (kipass-agent enroll).", "Central refused this device. Visits are kept on the device but cannot be sent. Enroll it with a code from the facility manager (kipass-agent enroll)."},
	"hint.clock_problem":      {"기기 시계가 맞지 않아 QR 코드가 거부될 수 있습니다. 시간 설정을 확인하세요.", "The device clock is wrong, so QR codes may be refused. Check the time settings."},
	"hint.storage_problem":    {"방문 기록을 저장할 수 없습니다. 관리자에게 연락하세요.", "Visits cannot be recorded. Call your installer."},
	"queue.depth":             {"전송 대기", "Waiting to send"},
	"queue.oldest":            {"가장 오래된 대기", "Oldest waiting"},
	"uplink.last":             {"마지막 전송", "Last upload"},
	"never":                   {"없음", "never"},
	"ago":                     {"%s 전", "%s ago"},
	"unit.scans":              {"%d건", "%d"},
	"chart.today":             {"오늘 시간대별 방문자", "Visitors today by hour"},
	"chart.days":              {"최근 14일 방문자", "Visitors in the last 14 days"},
	"chart.devices":           {"출입구 기기별 방문자", "Visitors by entrance device"},
	"col.device":              {"기기", "Device"},
	"counts.facility":         {"시설 전체 · 서버 집계", "whole facility · from central"},
	"counts.device":           {"이 기기만 · 기기 기록", "this device only · from its records"},
	"col.entrance":            {"출입구", "Entrance"},
	"col.today":               {"오늘", "Today"},
	"col.days":                {"14일", "14 days"},
	"col.hours":               {"오늘 시간대별", "Today by hour"},
	"total":                   {"합계 %d명", "%d in total"},
	"no.counts":               {"방문자 수를 읽을 수 없습니다.", "Visitor counts cannot be read."},
	"camera":                  {"카메라", "Camera"},
	"camera.ok":               {"정상", "ok"},
	"camera.starting":         {"시작 중", "starting"},
	"camera.watching":         {"새 이미지 대기 중", "waiting for images"},
	"camera.no_frames":        {"화면 없음", "no frames"},
	"camera.failing":          {"오류", "failing"},
	"camera.ended":            {"입력 끝남", "source ended"},
	"scanner":                 {"스캐너", "Scanner"},
	"scanner.starting":        {"시작 중", "starting"},
	"scanner.open":            {"연결됨", "open"},
	"scanner.reopening":       {"다시 여는 중", "reopening"},
	"scanner.disconnected":    {"연결 끊김", "disconnected"},
	"scanner.ended":           {"입력 끝남", "input ended"},
	"clock":                   {"시계 차이", "Clock offset"},
	"clock.behind":            {"서버보다 %.1f초 느림", "%.1fs behind central"},
	"clock.ahead":             {"서버보다 %.1f초 빠름", "%.1fs ahead of central"},
	"clock.same":              {"서버와 같음", "in step with central"},
	"unknown":                 {"알 수 없음", "unknown"},
	"settings":                {"설정", "Settings"},
	"settings.pin":            {"관리자 PIN", "Manager PIN"},
	"settings.login":          {"확인", "Unlock"},
	"settings.nopin":          {"관리자 PIN이 설정되지 않아 설정을 변경할 수 없습니다.", "No manager PIN is configured, so settings cannot be changed here."},
	"settings.wrong":          {"PIN이 틀렸습니다.", "Wrong PIN."},
	"settings.locked":         {"PIN 오류가 많아 잠시 잠겼습니다. 나중에 다시 시도하세요.", "Too many wrong PINs: locked for a while. Try again later."},
	"settings.saved":          {"저장했습니다. 음성 설정은 다음 시작 때 적용됩니다.", "Saved. Voice settings apply at the next start."},
	"settings.save":           {"저장", "Save"},
	"settings.logout":         {"잠그기", "Lock"},
	"settings.language":       {"화면 언어", "Page language"},
	"settings.volume":         {"음량 (%)", "Volume (%)"},
	"settings.quiet":          {"조용한 시간 (HH:MM-HH:MM)", "Quiet hours (HH:MM-HH:MM)"},
	"settings.tones":          {"음성 대신 신호음", "Tones instead of the voice"},
	"settings.flush":          {"지금 전송", "Send now"},
	"settings.flushed":        {"전송을 시작했습니다.", "Sending started."},
	"back":                    {"상태 화면으로", "Back to status"},
	"updated":                 {"%s 기준 · 30초마다 새로 고침", "as of %s · refreshes every 30 s"},
	"lang.ko":                 {"한국어", "한국어"},
	"lang.en":                 {"English", "English"},
}

func langIndex(lang string) int {
	if lang == "en" {
		return 1
	}
	return 0
}

// T returns the text of key in lang ("ko" or "en"), formatted with args.
func T(lang, key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	s := m[langIndex(lang)]
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// TimeLayout is how the page, the CLI and the logs write a time for
// people: always with its zone ("2026-11-22 15:30:00 KST").
const TimeLayout = "2006-01-02 15:04:05 MST"

// ClockOffset writes central's time minus the device's the way people
// read it: a device whose clock is slow is "behind central".
func ClockOffset(lang string, offset time.Duration) string {
	secs := offset.Seconds()
	switch {
	case offset == 0:
		return T(lang, "clock.same")
	case secs > 0:
		return T(lang, "clock.behind", secs)
	}
	return T(lang, "clock.ahead", -secs)
}

// Age writes a duration for people: "3분 12초" or "3 min 12 s".
func Age(lang string, d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		d = 0
	}
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	units := [3]string{"시간", "분", "초"}
	sep := ""
	if lang == "en" {
		units = [3]string{"h", "min", "s"}
		sep = " "
	}
	switch {
	case h >= 48:
		if lang == "en" {
			return fmt.Sprintf("%d days", h/24)
		}
		return fmt.Sprintf("%d일", h/24)
	case h > 0:
		return fmt.Sprintf("%d%s%s %d%s%s", h, sep, units[0], m, sep, units[1])
	case m > 0:
		return fmt.Sprintf("%d%s%s %d%s%s", m, sep, units[1], s, sep, units[2])
	}
	return fmt.Sprintf("%d%s%s", s, sep, units[2])
}
