#!/bin/sh
# make-prompts.sh regenerates the embedded voice prompts of package audio.
#
#   apt-get install espeak-ng sox      # only needed to regenerate
#   sh audio/prompts/make-prompts.sh   # from the repository root (or anywhere)
#
# Output: audio/prompts/<lang>/<prompt>.wav, mono, 16000 Hz, 16-bit PCM,
# leading and trailing silence trimmed, peak-normalised to -1 dBFS, no
# dither (-D -R): the same espeak-ng and sox give byte-identical files.
# The prompt names match audio.Prompt.String(). The tones are not made here:
# package audio synthesises them in Go at Open (see tone.go).
#
# Korean: espeak-ng reads Latin "QR" with an English voice in the middle of a
# Korean sentence, so the spoken text writes it as 큐알; the displayed text
# in the docs stays "QR코드".
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
dir=${KIPASS_PROMPTS_OUT:-$dir} # the tests regenerate into a temp dir
rate=16000

command -v espeak-ng >/dev/null || { echo "make-prompts: espeak-ng not installed (apt-get install espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "make-prompts: sox not installed (apt-get install sox)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say LANG VOICE NAME TEXT
say() {
	mkdir -p "$dir/$1"
	espeak-ng -v "$2" -s 165 -w "$tmp/raw.wav" "$4"
	# Trim silence at both ends (reverse trick), resample, mono, 16-bit,
	# normalise, and add 20 ms of fade so the cut edges do not click.
	sox -q -D -R "$tmp/raw.wav" -r "$rate" -c 1 -b 16 "$dir/$1/$3.wav" \
		silence 1 0.01 0.5% fade t 0.005 reverse \
		silence 1 0.01 0.5% fade t 0.02 reverse norm -1
	printf '%s/%s.wav\t%s\n' "$1" "$3" "$4"
}

say ko ko verified        '인증되었습니다'
say ko ko pending         '기록되었습니다. 확인 중입니다'
say ko ko invalid         '유효하지 않은 큐알코드입니다'
say ko ko expired         '만료된 큐알코드입니다. 새로 발급해 주세요'
say ko ko clock-problem   '기기 시간에 문제가 있습니다. 관리자에게 문의하세요'
say ko ko storage-failure '기록에 실패했습니다. 관리자에게 문의하세요'
say ko ko not-registered  '등록되지 않은 기기입니다'
say ko ko ledger-please   '수기 명부를 작성해 주세요'
say ko ko ledger-instructions '수기 명부에 성함과 연락처를 적어 주세요'
say ko ko paper-recorded  '수기 명부 방문이 기록되었습니다'
say ko ko control-refused '이 기기의 관리 코드가 아닙니다'

say en en-us verified        'Verified.'
say en en-us pending         'Recorded. Verification pending.'
say en en-us invalid         'This is not a valid QR code.'
say en en-us expired         'This QR code has expired. Please get a new one.'
say en en-us clock-problem   'Device clock problem. Please contact staff.'
say en en-us storage-failure 'Recording failed. Please contact staff.'
say en en-us not-registered  'This device is not registered.'
say en en-us ledger-please   'Please sign the paper register.'
say en en-us ledger-instructions 'Please show your ID and write your name and phone number in the paper register.'
say en en-us paper-recorded  'Paper register visit counted.'
say en en-us control-refused 'This staff code is not for this device.'
