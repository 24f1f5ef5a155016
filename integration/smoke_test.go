package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// TestBrokers_ProduceAndConsumeOnSourceAndDestination proves the harness gives two independent real clusters that
// take and return records.
func TestBrokers_ProduceAndConsumeOnSourceAndDestination(t *testing.T) {
	for name, c := range map[string]*kafkatest.Cluster{"source": source(t), "destination": destination(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, c.ClientOpts(), uniqueTopic(t, "smoke"), 1000)
		})
	}
}

// TestBrokers_SASLClusterEnforcesACLs proves the SASL cluster authenticates and authorizes: a user with no ACL is
// refused with TOPIC_AUTHORIZATION_FAILED, the super user is served.
func TestBrokers_SASLClusterEnforcesACLs(t *testing.T) {
	c := secure(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := uniqueTopic(t, "secure")
	roundTrip(t, c.ClientOpts(), topic, 1000)

	alice, err := kgo.NewClient(append(c.ClientOptsAs("alice", secureUsers["alice"]),
		kgo.RecordRetries(1), kgo.UnknownTopicRetries(1))...)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	err = alice.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("not allowed")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce as alice without ACLs: got %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	wrong, err := kgo.NewClient(c.ClientOptsAs("alice", "wrong-password")...)
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if err := wrong.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("ping with a wrong password: got %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}

// roundTrip creates topic, produces n records and consumes them back, checking each one.
func roundTrip(t *testing.T, opts []kgo.Opt, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("value-%d", i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	seen := map[string]string{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s after %d records: %v", topic, len(seen), err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Key)] = string(r.Value) })
	}
	for i := 0; i < n; i++ {
		if got, want := seen[fmt.Sprint(i)], fmt.Sprintf("value-%d", i); got != want {
			t.Fatalf("record %d: got %q, want %q", i, got, want)
		}
	}
}
