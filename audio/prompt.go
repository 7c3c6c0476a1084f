package audio

import (
	"fmt"
	"strings"
)

// Prompt is one spoken outcome of a scan.
type Prompt int

// The prompts, one per outcome the agent can announce. Their String names
// ("verified", "pending", ...) name the embedded clips and the keys of
// Options.Clips.
const (
	// Verified: the token is valid and the scan is durably recorded ("인증되었습니다").
	Verified Prompt = iota
	// Pending: the scan is recorded but could not be verified yet
	// ("기록되었습니다. 확인 중입니다").
	Pending
	// Invalid: the code is not a KI-Pass QR code ("유효하지 않은 QR코드입니다").
	Invalid
	// Expired: the token is past its 15 s validity ("만료된 QR코드입니다. 새로 발급해 주세요").
	Expired
	// ClockProblem: the device clock is unusable for verification
	// ("기기 시간에 문제가 있습니다. 관리자에게 문의하세요").
	ClockProblem
	// StorageFailure: the scan could not be recorded ("기록에 실패했습니다. 관리자에게 문의하세요").
	StorageFailure
	// NotRegistered: central refused this device, so a scan recorded here
	// can never be delivered ("등록되지 않은 기기입니다"); played instead of
	// confirming the visit.
	NotRegistered
	// LedgerPlease: the device cannot record visits now; the visitor signs
	// the paper ledger instead ("수기 명부를 작성해 주세요").
	LedgerPlease
	// LedgerInstructions: for a visitor without a phone, how to sign the
	// paper ledger.
	LedgerInstructions
	// PaperRecorded: staff counted one paper-ledger visit ("수기 명부 방문이 기록되었습니다").
	PaperRecorded
	// ControlRefused: a staff control code of another facility or device,
	// or a forged one ("이 기기의 관리 코드가 아닙니다").
	ControlRefused

	numPrompts // keep last
)

var promptNames = [numPrompts]string{
	Verified:       "verified",
	Pending:        "pending",
	Invalid:        "invalid",
	Expired:        "expired",
	ClockProblem:   "clock-problem",
	StorageFailure: "storage-failure",
	NotRegistered:  "not-registered",

	LedgerPlease:       "ledger-please",
	LedgerInstructions: "ledger-instructions",
	PaperRecorded:      "paper-recorded",
	ControlRefused:     "control-refused",
}

// promptTexts are the words of each voice clip, as displayed. The Korean
// clips are synthesised with "QR" written as 큐알 (see
// prompts/make-prompts.sh); a test keeps these texts and the script in step.
var promptTexts = map[string][numPrompts]string{
	"ko": {
		Verified:       "인증되었습니다",
		Pending:        "기록되었습니다. 확인 중입니다",
		Invalid:        "유효하지 않은 QR코드입니다",
		Expired:        "만료된 QR코드입니다. 새로 발급해 주세요",
		ClockProblem:   "기기 시간에 문제가 있습니다. 관리자에게 문의하세요",
		StorageFailure: "기록에 실패했습니다. 관리자에게 문의하세요",
		NotRegistered:  "등록되지 않은 기기입니다",

		LedgerPlease:       "수기 명부를 작성해 주세요",
		LedgerInstructions: "수기 명부에 성함과 연락처를 적어 주세요",
		PaperRecorded:      "수기 명부 방문이 기록되었습니다",
		ControlRefused:     "이 기기의 관리 코드가 아닙니다",
	},
	"en": {
		Verified:       "Verified.",
		Pending:        "Recorded. Verification pending.",
		Invalid:        "This is not a valid QR code.",
		Expired:        "This QR code has expired. Please get a new one.",
		ClockProblem:   "Device clock problem. Please contact staff.",
		StorageFailure: "Recording failed. Please contact staff.",
		NotRegistered:  "This device is not registered.",

		LedgerPlease:       "Please sign the paper register.",
		LedgerInstructions: "Please show your ID and write your name and phone number in the paper register.",
		PaperRecorded:      "Paper register visit counted.",
		ControlRefused:     "This staff code is not for this device.",
	},
}

// Text returns the words of p's embedded voice clip in language lang ("ko"
// or "en"), e.g. for a screen beside the speaker; "" if either is unknown.
func (p Prompt) Text(lang string) string {
	texts, ok := promptTexts[lang]
	if !ok || !p.Valid() {
		return ""
	}
	return texts[p]
}

// Prompts returns every prompt, in declaration order.
func Prompts() []Prompt {
	ps := make([]Prompt, numPrompts)
	for i := range ps {
		ps[i] = Prompt(i)
	}
	return ps
}

// String returns the prompt's name, e.g. "verified" or "clock-problem".
func (p Prompt) String() string {
	if p < 0 || p >= numPrompts {
		return fmt.Sprintf("prompt(%d)", int(p))
	}
	return promptNames[p]
}

// Valid reports whether p is one of the declared prompts.
func (p Prompt) Valid() bool { return p >= 0 && p < numPrompts }

// ParsePrompt returns the prompt named s (as returned by String).
func ParsePrompt(s string) (Prompt, error) {
	for i, n := range promptNames {
		if strings.EqualFold(s, n) {
			return Prompt(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown prompt %q (want one of %s)", ErrConfig, s, strings.Join(promptNames[:], ", "))
}
