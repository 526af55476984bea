package cli

import (
	"bytes"
	"encoding/json"
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

// TestJSONCarriesEveryCount: each count of Stats appears in -json's object
// under its name, so a caller can see losses as well as keys.
func TestJSONCarriesEveryCount(t *testing.T) {
	st := transfer.Stats{KeysRead: 1, KeysWritten: 2, KeysFiltered: 3, KeysSkipped: 4, KeysFailed: 5, KeysSkippedExpired: 6,
		KeysSkippedExisting: 7, KeysConverted: 8, KeysViaCommands: 9, FieldTTLsDropped: 10, MemberExpiresStripped: 11,
		MemberExpiresConverted: 12, RecordsDropped: 13, StreamMetaDropped: 14, PendingEntriesLost: 15, KeyMetaDropped: 16,
		KeysVanished: 17, BytesRead: 18}
	var got map[string]any
	if err := json.Unmarshal(AppendJSON(nil, st), &got); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"keys_read": 1, "keys_written": 2, "keys_filtered": 3, "keys_skipped": 4,
		"keys_failed": 5, "keys_skipped_expired": 6, "keys_skipped_existing": 7, "keys_converted": 8, "keys_via_commands": 9,
		"field_ttls_dropped": 10, "member_expires_stripped": 11, "member_expires_converted": 12, "records_dropped": 13,
		"stream_meta_dropped": 14, "pending_entries_lost": 15, "key_meta_dropped": 16, "keys_vanished": 17, "bytes_read": 18} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
