package status

// The paper ledger's texts, merged into messages.
func init() {
	for k, v := range map[string][2]string{
		"chart.paper.today":     {"오늘 수기 명부 방문 (시간별)", "Paper register visits today (by hour)"},
		"chart.paper.days":      {"최근 14일 수기 명부 방문", "Paper register visits, last 14 days"},
		"paper.side":            {"QR %d명 · 수기 %d명", "QR %d · paper %d"},
		"ledger.title":          {"수기 명부", "Paper register"},
		"ledger.rule":           {"잠금 보관 · 마지막 기재 4주 후 파쇄", "kept locked · shred 4 weeks after the last entry"},
		"ledger.col.date":       {"시트 날짜", "Sheet date"},
		"ledger.col.entries":    {"기록", "Entries"},
		"ledger.col.last":       {"마지막 기재", "Last entry"},
		"ledger.col.destroy":    {"파기일", "Destroy by"},
		"ledger.col.state":      {"상태", "State"},
		"ledger.open.state":     {"보관 중", "Kept"},
		"ledger.due.state":      {"파쇄할 날", "Shred now"},
		"ledger.shredded.state": {"파쇄 완료", "Shredded"},
		"ledger.shred":          {"파쇄 완료", "Shredded"},
		"ledger.none":           {"시작된 시트가 없습니다.", "No sheet started."},
		"ledger.add":            {"수기 명부 방문 추가", "Add paper visit"},
		"ledger.count":          {"인원", "Visitors"},
		"ledger.start":          {"새 시트 시작", "Start a new sheet"},
		"ledger.codes":          {"수기 명부 관리 코드 인쇄", "Print the ledger's control codes"},
		"ledger.added":          {"수기 명부 방문을 기록했습니다.", "Paper visit counted."},
		"ledger.started":        {"새 시트를 시작했습니다.", "New sheet started."},
		"ledger.shredded":       {"파쇄 완료를 기록했습니다.", "Shredding recorded."},
		"ledger.error.date":     {"날짜가 올바르지 않습니다 (YYYY-MM-DD, 오늘 이전).", "The date is wrong (YYYY-MM-DD, not in the future)."},
		"ledger.error.exists":   {"그 날짜의 시트가 이미 있습니다.", "A sheet of that date exists."},
		"ledger.error.nosheet":  {"그 날짜의 보관 중인 시트가 없습니다.", "No kept sheet of that date."},
		"ledger.error.failed":   {"기록하지 못했습니다. 저장 상태를 확인하세요.", "Could not be recorded: check the storage."},
		"ledger.due.title":      {"수기 명부를 파쇄할 날입니다", "A paper register sheet must be shredded"},
		"ledger.due.sheet":      {"%s 시트: 파기일 %s — 파쇄 후 PIN으로 확인하세요", "Sheet of %s: destroy by %s. Shred it, then confirm with the PIN"},
		"code.P":                {"수기 명부 방문 1명", "One paper register visit"},
		"code.N":                {"휴대전화 없는 방문자 안내", "Visitor without a phone"},
		"code.hint.P":           {"방문자가 수기 명부를 작성한 뒤 스캔하세요.", "Scan after a visitor signed the paper register."},
		"code.hint.N":           {"스캔하면 수기 명부 작성 안내가 나옵니다.", "Scan to play the paper register instructions."},
	} {
		messages[k] = v
	}
}
