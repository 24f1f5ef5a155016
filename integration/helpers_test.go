package integration

import (
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

var topicSeq atomic.Int64

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]`)

// uniqueTopic names a topic for one test on a shared cluster.
func uniqueTopic(t *testing.T, prefix string) string {
	name := strings.ToLower(unsafeTopicChars.ReplaceAllString(t.Name(), "-"))
	if len(name) > 100 {
		name = name[:100]
	}
	return fmt.Sprintf("%s-%s-%d", prefix, name, topicSeq.Add(1))
}
