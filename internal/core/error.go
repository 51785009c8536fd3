package core

import (
	"errors"
	"fmt"
)

// Error codes. They become HTTP statuses only at the API edge.
const (
	EINVALID      = "invalid"      // a field is missing or malformed
	EINVALIDJSON  = "invalid_json" // the body is not JSON
	ETOOLARGE     = "too_large"    // a body or event is over its size limit
	EUNAUTHORIZED = "unauthorized" // missing or unknown credentials
	ENOTFOUND     = "not_found"    // no such thing
	ECONFLICT     = "conflict"     // the request conflicts with current state
	EUNAVAILABLE  = "unavailable"  // the server cannot take the request now
	EINTERNAL     = "internal"     // a bug or an I/O failure
	EUNSUPPORTED  = "unsupported"  // a media type or encoding we do not accept
)

// Error is an application error with a code, a human message and, when one
// input field is to blame, that field's path (e.g. "batch[3].userId").
type Error struct {
	Code    string
	Message string
	Field   string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and field.
func Errorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or EINTERNAL if err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorField returns the field of err, if it is an *Error naming one.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorMessage returns the message of err; internal errors are not exposed.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
