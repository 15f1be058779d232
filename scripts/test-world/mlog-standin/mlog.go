// Package mlog is TEST INFRASTRUCTURE: a logging-only stand-in for
// monis.app/mlog v0.0.2 with just the API that upstream's
// secrets-store-csi-driver v1.6.0 calls (see go.mod for why it exists).
// It logs through klog like the original; it does not reproduce the
// original's JSON formatting, which the interop suite does not read.
package mlog

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"

	"k8s.io/klog/v2"
)

// Format names a log output format.
type Format string

const (
	// FormatText is klog's text format.
	FormatText Format = "text"
	// FormatJSON selects JSON in the original; here it falls back to text.
	FormatJSON Format = "json"
)

// Setup returns a function that flushes klog's buffers.
func Setup() func() {
	return klog.Flush
}

// ValidateAndSetKlogLevelAndFormatGlobally checks the level and format and
// applies the level to klog's global verbosity.
func ValidateAndSetKlogLevelAndFormatGlobally(_ context.Context, level klog.Level, format Format) error {
	if level < 0 {
		return fmt.Errorf("invalid log level %d", level)
	}
	if format != FormatText && format != FormatJSON {
		return fmt.Errorf("invalid log format %q", format)
	}
	if f := flag.CommandLine.Lookup("v"); f != nil {
		return f.Value.Set(strconv.Itoa(int(level)))
	}
	return nil
}

// Error logs err with a message and key/value pairs.
func Error(msg string, err error, keysAndValues ...any) {
	klog.ErrorSDepth(1, err, msg, keysAndValues...)
}

// Fatal logs err and exits with status 1.
func Fatal(err error, keysAndValues ...any) {
	klog.ErrorSDepth(1, err, "fatal error", keysAndValues...)
	klog.Flush()
	os.Exit(1)
}
