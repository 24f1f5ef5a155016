package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/link"
)

// TestDaemon_LinkWhoseGroupIsTakenIsFailedWithWhatToDo: the link's group id on the destination is used by a consumer
// group (another protocol type), so the daemon can never join it: the link is FAILED with a message that says what
// to do, instead of copying unfenced.
func TestDaemon_LinkWhoseGroupIsTakenIsFailedWithWhatToDo(t *testing.T) {
	f := newFixture(t)
	if err := f.dst.CreateTopic("squatted", 1, nil); err != nil {
		t.Fatal(err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(f.dst.ListenAddrs()...),
		kgo.ConsumerGroup(link.GroupID(config.DefaultStateTopic, f.linkName)), kgo.ConsumeTopics("squatted"))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	pollCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	consumer.PollFetches(pollCtx) // joins the group
	cancel()
	f.start(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := f.client.Link(context.Background(), f.linkName)
		if err == nil && l.LinkState == "FAILED" {
			if !strings.Contains(l.LinkErrorMessage, "cannot join group") || !strings.Contains(l.LinkErrorMessage, "state topic of its own") {
				t.Fatalf("link error message %q does not say why and what to do", l.LinkErrorMessage)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("link %+v (err %v) not FAILED though its group id is a consumer group's", l, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
