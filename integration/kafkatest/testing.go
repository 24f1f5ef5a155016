package kafkatest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI (CI=true), where a test that needs brokers must fail, never skip, when
// they cannot start.
func InCI() bool { return os.Getenv("CI") == "true" }

// StartT starts a cluster owned by one test. The cluster ends with the test; if the test failed, the tail of every
// node's log is printed. Under -short the test is skipped. If the cluster cannot start the test fails in CI and is
// skipped elsewhere, with the reason.
func StartT(t testing.TB, opts ...Opt) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("needs real Kafka brokers; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, append([]Opt{Logf(t.Logf)}, opts...)...)
	Require(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker logs:\n%s", c.LogTail(80))
		}
		c.Close()
	})
	return c
}

// Require ends a test that needs brokers when they could not start (startErr != nil): a failure in CI, a skip
// elsewhere. Under -short it skips.
func Require(t testing.TB, startErr error) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs real Kafka brokers; skipped with -short")
	}
	if startErr == nil {
		return
	}
	if InCI() {
		t.Fatalf("Kafka brokers could not start (CI=true, so this fails instead of skipping): %v", startErr)
	}
	t.Skipf("Kafka brokers could not start (needs Java 17+ and Maven): %v", startErr)
}

// Shared holds clusters that the tests of one package share, started once in TestMain.
type Shared struct {
	Clusters []*Cluster
	Err      error
}

// StartShared starts clusters (one per option list) in parallel for a package's TestMain. It never exits the
// process: tests call s.Require(t) and fail or skip as Require says. Under -short it starts nothing.
func StartShared(specs ...[]Opt) *Shared {
	s := &Shared{Clusters: make([]*Cluster, len(specs))}
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.Clusters, s.Err = StartMany(ctx, specs...)
	if s.Err != nil {
		s.Close(false)
	}
	return s
}

// Require is Require(t, s.Err).
func (s *Shared) Require(t testing.TB) {
	t.Helper()
	Require(t, s.Err)
}

// Close ends the shared clusters; if failed, it prints the tail of their logs first.
func (s *Shared) Close(failed bool) {
	for _, c := range s.Clusters {
		if c == nil {
			continue
		}
		if failed {
			fmt.Fprintf(os.Stderr, "broker logs:\n%s", c.LogTail(80))
		}
		c.Close()
	}
}

// Main is a TestMain body for a package whose tests share clusters: it starts them, runs the tests, ends the
// clusters, and returns the exit code.
func Main(m *testing.M, s **Shared, specs ...[]Opt) int {
	*s = StartShared(specs...)
	code := m.Run()
	(*s).Close(code != 0)
	return code
}
