package daemon

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// StartupGrace is how long after the daemon starts a warning caused by a retriable Kafka error is logged at debug
// instead: a fresh cluster or a new topic answers COORDINATOR_NOT_AVAILABLE, LEADER_NOT_AVAILABLE or
// NOT_LEADER_OR_FOLLOWER for a few seconds, and the loops retry them. A retry that outlasts the grace period is
// logged as the warning it is.
const StartupGrace = 30 * time.Second

// quietStart wraps log so that, until until, warnings whose error field is a retriable Kafka error (kerr.Error with
// Retriable, found with errors.As) are logged at debug. Every other entry passes unchanged, through the wrapped
// core's own Check (its sampling included).
func quietStart(log *zap.Logger, until time.Time) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return quietStartCore{Core: c, until: until, now: time.Now}
	}))
}

type quietStartCore struct {
	zapcore.Core
	until time.Time
	now   func() time.Time
}

func (c quietStartCore) With(fields []zapcore.Field) zapcore.Core {
	return quietStartCore{Core: c.Core.With(fields), until: c.until, now: c.now}
}

func (c quietStartCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level != zapcore.WarnLevel || !c.now().Before(c.until) {
		return c.Core.Check(e, ce)
	}
	// The fields are known only in Write: keep the entry, decide there.
	if c.Core.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c quietStartCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if e.Level == zapcore.WarnLevel && retriableKafkaError(fields) {
		if !c.Core.Enabled(zapcore.DebugLevel) {
			return nil
		}
		e.Level = zapcore.DebugLevel
	}
	return c.Core.Write(e, fields)
}

func retriableKafkaError(fields []zapcore.Field) bool {
	for _, f := range fields {
		if f.Type != zapcore.ErrorType {
			continue
		}
		err, _ := f.Interface.(error)
		var ke *kerr.Error
		if errors.As(err, &ke) && ke.Retriable {
			return true
		}
	}
	return false
}
