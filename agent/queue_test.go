package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// The queue key comes from the config, else the systemd credential, else
// beside the queue.
func TestQueueKeyFileChoice(t *testing.T) {
	creds := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	if got := queueKeyFile(Config{}); got != "" {
		t.Fatalf("no credential: %q", got)
	}
	cred := filepath.Join(creds, "queue-key")
	if err := os.WriteFile(cred, make([]byte, 32), 0o400); err != nil {
		t.Fatal(err)
	}
	if got := queueKeyFile(Config{}); got != cred {
		t.Fatalf("credential: %q", got)
	}
	if got := queueKeyFile(Config{QueueKeyFile: "/mnt/key/queue.key"}); got != "/mnt/key/queue.key" {
		t.Fatalf("configured: %q", got)
	}
}
