package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/redistest"
)

func TestDemo(t *testing.T) {
	redistest.Start(t) // fails clearly when redis-server is missing
	var out bytes.Buffer
	if err := demo(context.Background(), "redis-server", 900, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "demo: OK") || !strings.Contains(out.String(), "verified 801 keys") {
		t.Errorf("output:\n%s", out.String())
	}
}
