package queue

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// processStart anchors the fallback boot clock (Go's monotonic clock).
var processStart = time.Now()

// processBootID is a random id for this process, used where the system
// gives no boot id: a record is then re-based by the boot clock only
// within the process that took it.
var processBootID = sync.OnceValue(func() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "process-" + hex.EncodeToString(b)
})
