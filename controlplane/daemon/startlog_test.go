package daemon

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"
)

func TestQuietStart_RetriableKafkaWarningsAreDebugOnlyDuringTheGracePeriod(t *testing.T) {
	now := time.Unix(1000, 0)
	until := now.Add(StartupGrace)
	retriable := fmt.Errorf("describe the transactions of orders[0]: %w", kerr.CoordinatorNotAvailable)
	fatal := fmt.Errorf("produce: %w", kerr.TopicAuthorizationFailed)
	for _, tc := range []struct {
		name  string
		at    time.Time
		level zapcore.Level // the logger's level
		err   error
		want  []zapcore.Level // what reaches the output
	}{
		{"retriable within grace, debug on", now, zapcore.DebugLevel, retriable, []zapcore.Level{zapcore.DebugLevel}},
		{"retriable within grace, info", now, zapcore.InfoLevel, retriable, nil},
		{"retriable after grace", until, zapcore.InfoLevel, retriable, []zapcore.Level{zapcore.WarnLevel}},
		{"not retriable within grace", now, zapcore.InfoLevel, fatal, []zapcore.Level{zapcore.WarnLevel}},
		{"not a Kafka error within grace", now, zapcore.InfoLevel, errors.New("boom"), []zapcore.Level{zapcore.WarnLevel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := zapobserver.New(tc.level)
			log := zap.New(core).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
				return quietStartCore{Core: c, until: until, now: func() time.Time { return tc.at }}
			}))
			log.With(zap.String("link", "l")).Warn("resolve mirror partition position", zap.Error(tc.err))
			var got []zapcore.Level
			for _, e := range logs.All() {
				got = append(got, e.Level)
				if e.ContextMap()["link"] != "l" {
					t.Errorf("fields of With were lost: %v", e.ContextMap())
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("logged at %v, want %v", got, tc.want)
			}
		})
	}
}
