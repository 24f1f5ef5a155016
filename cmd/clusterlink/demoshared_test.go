package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestDemo_SharedByThreeDaemons runs `demo --daemons 3`: three members share the link, one stops while data
// flows, two take its partitions, and every topic compares identical at identical offsets.
func TestDemo_SharedByThreeDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three daemons for several seconds; kept out of -short's one-minute budget")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runDemoShared(ctx, &out, zap.NewNop(), 2000, 3); err != nil {
		t.Fatalf("demo --daemons 3: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"(stable), 3 members", "stopping daemon-1", "(stable), 2 members"} {
		if !strings.Contains(s, want) {
			t.Errorf("the demo did not show %q:\n%s", want, s)
		}
	}
	for _, topic := range demoTopics {
		if !strings.Contains(s, topic.name) || strings.Count(s, "records at identical offsets on both clusters") != len(demoTopics) {
			t.Errorf("the demo did not compare %s:\n%s", topic.name, s)
		}
	}
}
