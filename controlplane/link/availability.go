package link

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// availabilityLoop checks the source every availability.check.ms (and at once): after
// availability.check.consecutive.failure.threshold failures in a row the link is SOURCE_UNAVAILABLE.
func (l *Link) availabilityLoop(ctx context.Context) error {
	for {
		// DescribeCluster, not Metadata: the client answers metadata from its cache for a while.
		cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
		resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(cctx, l.src)
		cancel()
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if ctx.Err() != nil {
			return nil
		}
		l.mu.Lock()
		if err == nil {
			l.failures = 0
			l.srcID = resp.ClusterID
			if l.unavail {
				l.log.Info("source cluster available again")
			}
			l.unavail = false
		} else {
			l.failures++
			if l.failures >= l.config().AvailabilityCheckConsecutiveFailureThreshold && !l.unavail {
				l.unavail = true
				l.log.Error("source cluster unavailable", zap.Int("consecutive_failures", l.failures), zap.Error(err))
			}
		}
		failures := l.failures
		l.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("source cluster %s unreachable (%d consecutive failures): %w",
				strings.Join(l.config().BootstrapServers, ","), failures, err)
		}
		l.availabilityTask.Record(err)
		interval := l.config().AvailabilityCheckInterval
		if err != nil {
			interval = min(interval, max(l.config().RetryBackoff, time.Second)) // a failing source is re-checked soon
		}
		if l.sleepOrChange(ctx, interval) != nil {
			return nil
		}
	}
}
