package link

import (
	"errors"
	"fmt"
)

// The classes of a refused operation. Each carries its Confluent error code (task.Coded); the admin API picks its
// HTTP status from the class.

// NotFoundError is an operation on a link or mirror topic that does not exist.
type NotFoundError struct{ msg string }

func (e *NotFoundError) Error() string     { return e.msg }
func (e *NotFoundError) ErrorCode() string { return "UNKNOWN_TOPIC_OR_PARTITION" }

// InvalidError is an operation refused because of what the caller asked (not a failure of the clusters).
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string     { return e.msg }
func (e *InvalidError) ErrorCode() string { return "INVALID_REQUEST" }

// ConflictError is an operation the current state refuses: the link or mirror exists already, or its state does
// not allow it.
type ConflictError struct{ msg string }

func (e *ConflictError) Error() string     { return e.msg }
func (e *ConflictError) ErrorCode() string { return "INVALID_REQUEST" }

func notFound(format string, args ...any) error {
	return &NotFoundError{msg: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &InvalidError{msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &ConflictError{msg: fmt.Sprintf(format, args...)}
}

// IsNotFound, IsInvalid and IsConflict tell the classes apart.
func IsNotFound(err error) bool {
	var e *NotFoundError
	return errors.As(err, &e)
}

// IsInvalid reports whether err is an *InvalidError.
func IsInvalid(err error) bool {
	var e *InvalidError
	return errors.As(err, &e)
}

// IsConflict reports whether err is a *ConflictError.
func IsConflict(err error) bool {
	var e *ConflictError
	return errors.As(err, &e)
}
