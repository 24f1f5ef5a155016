// Package task is what every link task reports: its state (ACTIVE, IN_ERROR with a code and a message,
// NOT_CONFIGURED, LINK_PAUSED), a Tracker that keeps it cycle by cycle and logs only its changes, and Code, the one
// mapping from an error to Confluent's error codes. It runs nothing itself.
package task

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// Task states, as `link describe` shows them.
const (
	Active        = "ACTIVE"
	InError       = "IN_ERROR"
	NotConfigured = "NOT_CONFIGURED"
	LinkPaused    = "LINK_PAUSED"
)

// Task names, as `link describe` shows them.
const (
	AutoCreateMirror   = "AutoCreateMirror"
	TopicConfigsSync   = "TopicConfigsSync"
	AvailabilityCheck  = "AvailabilityCheck"
	ConsumerOffsetSync = "ConsumerOffsetSync"
	ACLSync            = "AclSync"
)

// Status is one task's state. ErrorCode and ErrorMessage are set when State is IN_ERROR.
type Status struct {
	Name         string
	State        string
	ErrorCode    string
	ErrorMessage string
}

// Tracker keeps one task's status. Record it after every cycle; it logs when the task goes IN_ERROR (or changes
// its code) and when it recovers, never the same error every cycle. Its methods are safe for concurrent use.
type Tracker struct {
	log *zap.Logger
	mu  sync.Mutex
	st  Status
}

// NewTracker returns the tracker of the task name, ACTIVE. log may be nil.
func NewTracker(name string, log *zap.Logger) *Tracker {
	if log == nil {
		log = zap.NewNop()
	}
	return &Tracker{log: log, st: Status{Name: name, State: Active}}
}

// Record sets the outcome of a cycle: ACTIVE for nil, otherwise IN_ERROR with Code(err) and err's message.
func (t *Tracker) Record(err error) {
	if err == nil {
		t.Set(Active)
		return
	}
	code := Code(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.State != InError || t.st.ErrorCode != code {
		t.log.Warn("link task in error", zap.String("task", t.st.Name), zap.String("code", code), zap.Error(err))
	}
	t.st.State, t.st.ErrorCode, t.st.ErrorMessage = InError, code, err.Error()
}

// Set sets a state without an error (ACTIVE, NOT_CONFIGURED, LINK_PAUSED).
func (t *Tracker) Set(state string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.State == InError && state != InError {
		t.log.Info("link task recovered", zap.String("task", t.st.Name), zap.String("state", state))
	}
	t.st.State, t.st.ErrorCode, t.st.ErrorMessage = state, "", ""
}

// Status returns the task's current status.
func (t *Tracker) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

// Coded is an error that carries its own Confluent error code (a misconfiguration, a refused request).
type Coded interface {
	error
	ErrorCode() string
}

// Error codes Code returns.
const (
	CodeAuthentication        = "AUTHENTICATION_ERROR"
	CodeAuthorization         = "AUTHORIZATION_ERROR"
	CodeMisconfiguration      = "MISCONFIGURATION_ERROR"
	CodeUnresolvableBootstrap = "UNRESOLVABLE_BOOTSTRAP_ERROR"
	CodeBootstrapConnection   = "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR"
	CodeTimeout               = "TIMEOUT_ERROR"
	CodeUnknown               = "UNKNOWN_ERROR"
)

// Code is the one mapping from an error to Confluent's error codes, for link tasks, the link's availability and
// the results of mirror operations: an error that carries its code (Coded) says it; Kafka's errors and network
// errors are mapped by class; anything else is UNKNOWN_ERROR.
func Code(err error) string {
	var coded Coded
	var ke *kerr.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &coded):
		return coded.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kerr.RequestTimedOut):
		return CodeTimeout
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.IllegalSaslState):
		return CodeAuthentication
	case errors.As(err, &ke) && (ke == kerr.TopicAuthorizationFailed || ke == kerr.ClusterAuthorizationFailed ||
		ke == kerr.GroupAuthorizationFailed || ke == kerr.TransactionalIDAuthorizationFailed ||
		ke == kerr.DelegationTokenAuthorizationFailed):
		return CodeAuthorization
	case errors.Is(err, kerr.SecurityDisabled):
		return CodeMisconfiguration
	case errors.As(err, &dnsErr):
		return CodeUnresolvableBootstrap
	case errors.As(err, &opErr), errors.Is(err, syscall.ECONNREFUSED):
		return CodeBootstrapConnection
	}
	return CodeUnknown
}
