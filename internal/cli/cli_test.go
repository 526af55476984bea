package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/transfer"
)

// TestSummaryNamesEveryLoss: what keys lost on the way is in the summary.
func TestSummaryNamesEveryLoss(t *testing.T) {
	st := transfer.Stats{KeysRead: 3, KeysWritten: 3, StreamMetaDropped: 2, PendingEntriesLost: 5, KeyMetaDropped: 1, FieldTTLsDropped: 4}
	var out bytes.Buffer
	Summary(&out, "test", st, nil)
	for _, want := range []string{"stream metadata of 2 streams", "5 pending entries", "key metadata of 1 keys", "4 hash field TTLs dropped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	Summary(&out, "test", transfer.Stats{KeysRead: 1, KeysWritten: 1}, nil)
	if strings.Contains(out.String(), "lost") {
		t.Errorf("summary of a lossless run mentions losses:\n%s", out.String())
	}
}
